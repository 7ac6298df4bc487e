/**
 * Shared set-up of the serving tests: a migrated test database with a small synthetic data set, a tiny
 * model trained on it with the real training code and registered as `champion`, and a real app.
 */
import { query, type Pool } from '../core/db.ts';
import { silentLogger } from '../core/log.ts';
import { loadCatalog, type Catalog } from '../features/catalog.ts';
import { generate } from '../features/generate/index.ts';
import { selectFeatures } from '../features/materialize.ts';
import { registerModel, setAlias } from '../training/registry/index.ts';
import type { PreparedTable } from '../training/table.ts';
import { trainModel, type ModelType } from '../training/train.ts';
import { buildApp, type AppDeps, type ChurnApp } from '../serving/app.ts';
import type { ServingLimits } from '../serving/deps.ts';
import { Authenticator } from '../serving/auth.ts';
import { DEFAULT_SERVING_CONFIG, type ServingConfig } from '../scoring/config.ts';
import { createOnlineReader } from '../features/online.ts';
import { createApiKey, parseBootstrapKeys } from '../serving/keys.ts';
import { createMetrics } from '../serving/metrics.ts';
import { ModelHolder } from '../scoring/holder.ts';
import { registryModelSource } from '../scoring/holder.ts';
import { dbReports } from '../jobs/report/store.ts';
import { createTestDatabase, type TestDatabase } from './helpers/db.ts';

export const DATA_END = '2026-10-01';
export const BOOTSTRAP_SECRET = 'bootstrap-secret-1';
export const AS_OF = new Date('2026-09-15T00:00:00Z');

/** Generates a small data set and returns the catalogue and the active account ids at AS_OF. */
export async function seedData(pool: Pool, accounts = 80): Promise<{ catalog: Catalog; accountIds: string[] }> {
  await generate(pool, { accounts, months: 8, seed: 11, end: DATA_END });
  const catalog = loadCatalog();
  const rows = await selectFeatures(pool, catalog, [AS_OF]);
  return { catalog, accountIds: rows.map((r) => r.account_id).sort() };
}

/** A tiny logistic model on features at two dates, labelled from the generator's ground truth. */
export async function trainTinyModel(pool: Pool, catalog: Catalog, modelTypes: ModelType[] = ['logistic']): Promise<unknown> {
  const asOfs = ['2026-04-01', '2026-05-01', '2026-06-01', '2026-07-01', '2026-08-01'].map((d) => new Date(`${d}T00:00:00Z`));
  const rows = await selectFeatures(pool, catalog, asOfs);
  const truth = new Map((await query<{ account_id: string; churned_at: Date | null }>(pool, 'SELECT account_id, churned_at FROM churn.synthetic_truth')).map((r) => [r.account_id, r.churned_at]));
  const label = rows.map((r) => {
    const at = truth.get(r.account_id);
    return at && at.getTime() > r.as_of.getTime() && at.getTime() <= r.as_of.getTime() + 180 * 86_400_000 ? 1 : 0;
  });
  const segments = new Map((await query<{ account_id: string; segment: string }>(pool, 'SELECT account_id, segment FROM source.accounts')).map((r) => [r.account_id, r.segment]));
  const table: PreparedTable = {
    ids: rows.map((r) => `${r.account_id}@${r.as_of.toISOString()}`),
    label,
    split: rows.map(() => 'train'),
    columns: catalog.names.map((name, j) => ({ name, kind: 'numeric' as const, family: catalog.byName.get(name)!.family, risk: catalog.byName.get(name)!.risk, unit: catalog.byName.get(name)!.unit, missing: catalog.byName.get(name)!.missing, values: rows.map((r) => r.feature_values[j]) })),
    context: { segment: rows.map((r) => segments.get(r.account_id)!) },
    source: { kind: 'database', featureSetVersion: catalog.version, asOfs: asOfs.map((d) => d.toISOString()), horizonDays: 120 },
  };
  const result = await trainModel(table, { seed: 3, modelTypes, epochs: 15, bootstrap: 0, gbdtSearch: [{ maxDepth: 3, learningRate: 0.2 }] });
  return result.artifact;
}

export async function registerChampion(pool: Pool, artifact: unknown, catalog: Catalog, alias = 'champion'): Promise<number> {
  const v = await registerModel(pool, {
    modelType: (artifact as { model_type?: string }).model_type ?? 'logistic', artifact, params: {}, metrics: {}, trainingWindow: null, featureSetVersion: catalog.version,
    dataFingerprint: 'serving-test', gitRevision: 'unknown', dataSource: 'database',
  });
  await setAlias(pool, { alias, version: v.version, actor: 'test' });
  return v.version;
}

/** A second version that scores differently (calibration shifted), for alias moves. */
export function shiftedArtifact(artifact: unknown, shift: number): unknown {
  const a = structuredClone(artifact) as { calibration: { a: number; b: number } };
  a.calibration.b += shift;
  return a;
}

export interface ServingHarness {
  db: TestDatabase;
  catalog: Catalog;
  accountIds: string[];
  artifact: unknown;
  champion: number;
  app: ChurnApp;
  holder: ModelHolder;
  readKey: string;
  adminKey: string;
  config: ServingConfig;
  deps: AppDeps;
  close(): Promise<void>;
}

/** Database, data, model and app; `rateLimit` and the failed-authentication limit 0 unless a test needs them. */
export async function startHarness(opts: { rateLimit?: number; config?: ServingConfig; accounts?: number; limits?: Partial<ServingLimits>; modelTypes?: ModelType[] } = {}): Promise<ServingHarness> {
  const db = await createTestDatabase();
  const { catalog, accountIds } = await seedData(db.pool, opts.accounts);
  const artifact = await trainTinyModel(db.pool, catalog, opts.modelTypes);
  const champion = await registerChampion(db.pool, artifact, catalog);
  const config = opts.config ?? DEFAULT_SERVING_CONFIG;
  const holder = new ModelHolder(registryModelSource(db.pool, catalog), silentLogger);
  await holder.refresh();
  const readKey = await createApiKey(db.pool, { name: 'reader', scopes: ['score:read'] });
  const adminKey = await createApiKey(db.pool, { name: 'admin', scopes: ['score:read', 'models:admin'] });
  const features = createOnlineReader(db.pool, catalog);
  const deps: AppDeps = {
    pool: db.pool, config, holder, features,
    auth: new Authenticator(db.pool, parseBootstrapKeys(`boot:${BOOTSTRAP_SECRET}:score:read`)), log: silentLogger,
    metrics: createMetrics({ defaultMetrics: false }), reports: dbReports(db.pool), rateLimit: opts.rateLimit ?? 0,
    limits: { authFailureLimit: 0, ...opts.limits },
  };
  const app = await buildApp(deps);
  await app.ready();
  return {
    db, catalog, accountIds, artifact, champion, app, holder, readKey, adminKey, config, deps,
    close: async () => {
      await app.close();
      await holder.close();
      await features.close();
      await db.drop();
    },
  };
}

export const bearer = (key: string) => ({ authorization: `Bearer ${key}` });
