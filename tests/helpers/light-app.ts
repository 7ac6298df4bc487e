/**
 * A real app over a fresh migrated database without a model (no data generated, nothing trained):
 * for the routes that read stored scores, alerts and webhooks, against rows each test inserts itself.
 */
import type { Pool } from '../../core/db.ts';
import { query } from '../../core/db.ts';
import { silentLogger } from '../../core/log.ts';
import type { FeatureReader } from '../../features/online.ts';
import { DEFAULT_SERVING_CONFIG, type ServingConfig } from '../../scoring/config.ts';
import { ModelHolder } from '../../scoring/holder.ts';
import { buildApp, type AppDeps, type ChurnApp } from '../../serving/app.ts';
import { Authenticator } from '../../serving/auth.ts';
import { createApiKey } from '../../serving/keys.ts';
import { createMetrics } from '../../serving/metrics.ts';
import { createTestDatabase, type TestDatabase } from './db.ts';

export interface LightApp {
  db: TestDatabase;
  app: ChurnApp;
  deps: AppDeps;
  readKey: string;
  adminKey: string;
  close(): Promise<void>;
}

/** A holder whose alias is unset: no model, and scoring answers CHURN_ERR_NO_CHAMPION. */
const noModel = () => new ModelHolder({ resolveAlias: async () => null, load: async () => { throw new Error('no model in these tests'); } }, silentLogger);
const noFeatures: FeatureReader = { featureSetVersion: 'none', read: async () => new Map() };

export async function startLightApp(opts: { config?: ServingConfig; corsOrigins?: string[]; db?: TestDatabase } = {}): Promise<LightApp> {
  const db = opts.db ?? await createTestDatabase();
  const readKey = await createApiKey(db.pool, { name: 'reader', scopes: ['score:read'] });
  const adminKey = await createApiKey(db.pool, { name: 'admin', scopes: ['score:read', 'models:admin'] });
  const holder = noModel();
  const deps: AppDeps = {
    pool: db.pool, config: opts.config ?? DEFAULT_SERVING_CONFIG, holder, features: noFeatures, auth: new Authenticator(db.pool, []), log: silentLogger,
    metrics: createMetrics({ defaultMetrics: false }), reports: { html: async () => null, json: async () => null }, rateLimit: 0,
    limits: { authFailureLimit: 0 }, corsOrigins: opts.corsOrigins,
  };
  const app = await buildApp(deps);
  await app.ready();
  return {
    db, app, deps, readKey, adminKey,
    close: async () => {
      await app.close();
      await holder.close();
      if (!opts.db) await db.drop();
    },
  };
}

/** Inserts accounts (owner optional). */
export async function insertAccounts(pool: Pool, rows: { id: string; name: string; segment: string; plan: string; owner?: string | null; createdAt: Date }[]): Promise<void> {
  await query(pool, {
    text: `INSERT INTO source.accounts (account_id, name, segment, plan, owner, created_at)
      SELECT id, name, segment, plan, owner, created_at FROM jsonb_to_recordset($1::jsonb) AS r(id text, name text, segment text, plan text, owner text, created_at timestamptz)`,
    values: [JSON.stringify(rows.map((r) => ({ ...r, owner: r.owner ?? null, created_at: r.createdAt })))],
  });
}

export interface SubscriptionFixture {
  id: string;
  account: string;
  plan: string;
  mrr: number;
  billing: 'monthly' | 'annual';
  start: Date;
  end?: Date;
  /** a trial period (no charge yet) */
  trial?: boolean;
}

export async function insertSubscriptions(pool: Pool, rows: SubscriptionFixture[]): Promise<void> {
  await query(pool, {
    text: `INSERT INTO source.subscriptions (subscription_id, account_id, plan, mrr, seats, billing_period, started_at, ended_at, status, is_trial)
      SELECT id, account, plan, mrr, 10, billing, start, "end", CASE WHEN "end" IS NOT NULL AND "end" <= now() THEN 'ended' WHEN trial THEN 'trialing' ELSE 'active' END, trial
      FROM jsonb_to_recordset($1::jsonb) AS r(id text, account text, plan text, mrr numeric, billing text, start timestamptz, "end" timestamptz, trial boolean)`,
    values: [JSON.stringify(rows.map((r) => ({ ...r, end: r.end ?? null, trial: r.trial ?? false })))],
  });
}
