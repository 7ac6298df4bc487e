/**
 * The stages of `npm start` (`churn start`), each one call that reuses what exists: data, feature
 * snapshots, a champion model, its accuracy report, stored scores and a demo API key.
 */
import fs from 'node:fs/promises';
import path from 'node:path';
import type { Config } from '../core/config.ts';
import { query, type Pool } from '../core/db.ts';
import { createProgress } from '../core/progress.ts';
import { buildSnapshots } from '../features/materialize.ts';
import type { Catalog } from '../features/catalog.ts';
import { DEMO_ACCOUNTS, generate, unfinishedGeneration } from '../features/generate/index.ts';
import { getModel } from '../training/registry/index.ts';
import { ChurnError } from '../core/errors.ts';
import { databaseTrainingSet, trainAndRegister } from '../training/run.ts';
import type { ServingConfig } from '../scoring/config.ts';
import { createApiKey, listApiKeys, prefixOf, revokeApiKey } from '../serving/keys.ts';
import { registryModelSource } from '../scoring/holder.ts';
import { scoresAsOf } from '../scoring/store.ts';
import { buildModelReport } from '../jobs/report/job.ts';
import { saveModelReport } from '../jobs/report/store.ts';
import { headlineSentences } from '../jobs/report/headline.ts';
import { createReportLink } from '../jobs/report/link.ts';
import { scoreAllActive, withScoringLock } from '../jobs/score-all.ts';

export type Say = (line: string) => void;

/**
 * Generates the demo data set when the source tables are empty, and generates it again (same options)
 * when they hold part of a generation that did not finish (an interrupted first start); refuses when
 * files were ingested on top of such a part, rather than drop them.
 */
export async function ensureData(pool: Pool, now: Date, say: Say, accounts = DEMO_ACCOUNTS): Promise<void> {
  const [{ n, events }] = await query<{ n: number; events: boolean }>(pool, 'SELECT count(*)::int AS n, EXISTS (SELECT 1 FROM source.events) AS events FROM source.accounts');
  const unfinished = await unfinishedGeneration(pool);
  if (n > 0 && !unfinished) return say(`data       ${n} accounts already in the database`);
  const end = new Date(Date.UTC(now.getUTCFullYear(), now.getUTCMonth(), now.getUTCDate()));
  let options = { accounts, months: 12, seed: 42, end: end as Date | string };
  if (unfinished) {
    const left = `${n} accounts, ${events ? 'some' : 'no'} events`;
    if (unfinished.ingestedSince) {
      throw new ChurnError('CHURN_ERR_DATABASE_NOT_EMPTY', `an earlier data generation did not finish (${left}) and files were ingested since; run \`churn generate --replace\` to start over (that drops the ingested rows too)`);
    }
    options = unfinished.options ?? options;
    say(`data       an earlier data generation did not finish (${left}): generating it again`);
  }
  const r = await generate(pool, { ...options, replace: unfinished !== null }, createProgress('generating'));
  const eventCount = r.rowCounts.events ?? 0;
  say(`data       generated ${r.accounts} accounts and ${eventCount.toLocaleString('en-US')} events in ${r.seconds.toFixed(1)} s`);
}

async function championOrNull(pool: Pool) {
  return getModel(pool, 'champion').catch((err: { code?: string }) => {
    if (err.code === 'CHURN_ERR_MODEL_NOT_FOUND') return null;
    throw err;
  });
}

/** Trains and registers a champion unless one exists for the current feature catalogue. */
export async function ensureChampion(pool: Pool, catalog: Catalog, config: Config, say: Say): Promise<number> {
  const current = await championOrNull(pool);
  if (current && current.featureSetVersion === catalog.version) {
    say(`model      champion is version ${current.version} (${current.modelType})`);
    return current.version;
  }
  const dataset = { horizonDays: 30, seed: 42 };
  const { table } = await databaseTrainingSet(pool, catalog, { ...dataset, progress: createProgress('training set'), snapshotProgress: createProgress('feature snapshots') });
  const { result, registered } = await trainAndRegister(pool, table, {
    train: { seed: 42, progress: (label) => createProgress(label), backend: config.CHURN_TF_BACKEND },
    actor: 'npm start', catalogVersion: catalog.version, dataset, mlflowUri: config.MLFLOW_TRACKING_URI,
  });
  const version = registered.version.version;
  // (a champion of an older feature catalogue is replaced by the promotion rule without a comparison)
  if (!registered.promotion.promoted) throw new ChurnError('CHURN_ERR_TRAINING_FAILED', `the trained model did not become champion: ${registered.promotion.reason}`);
  const v = result.metrics.validation;
  say(`model      trained ${result.chosen} as version ${version} on ${result.backend}: validation AUC ${v.auc.toFixed(3)}, lift@10% ${v.lift10.toFixed(2)}`);
  return version;
}

/** Features as of `asOf` (the latest UTC midnight) for every active account (drift and fresh scores read them). */
export async function ensureFreshSnapshot(pool: Pool, catalog: Catalog, asOf: Date, say: Say): Promise<void> {
  const [row] = await query<{ n: number }>(pool, `SELECT count(*)::int AS n FROM churn.feature_snapshots
    WHERE feature_set_version = $1 AND as_of > $2::timestamptz - interval '20 hours'`, [catalog.version, asOf]);
  if (row.n > 0) return say(`features   a snapshot from the last day exists (${row.n} accounts)`);
  const r = await buildSnapshots(pool, catalog, [asOf], { progress: createProgress('features') });
  say(`features   built ${r.rows} account snapshots as of ${asOf.toISOString()} in ${r.seconds.toFixed(1)} s`);
}

/** The champion's accuracy report: stored in the database and written to `<home>/reports/`. */
export async function ensureReport(pool: Pool, version: number, home: string, serving: ServingConfig, now: Date, say: Say): Promise<string> {
  const dir = path.join(home, 'reports');
  const file = path.join(dir, `report-v${version}.html`);
  const [stored] = await query<{ html: string }>(pool, 'SELECT html FROM churn.model_reports WHERE model_version = $1', [version]);
  await fs.mkdir(dir, { recursive: true });
  if (stored) {
    await fs.writeFile(file, stored.html);
    say(`report     reused the report of version ${version}: ${file}`);
    return file;
  }
  const r = await buildModelReport(pool, { model: version, now, servingConfig: serving });
  await saveModelReport(pool, version, r.html, r.json);
  await fs.writeFile(file, r.html);
  await fs.writeFile(file.replace(/\.html$/, '.json'), r.json);
  say(`report     ${headlineSentences(r.data)[0] ?? 'written'}`);
  say(`           ${file}`);
  return file;
}

/** The lines that tell where the report is: a fresh signed link (opens in a browser, no API key) and the file. */
export async function reportLinkLines(pool: Pool, baseUrl: string, file: string, now: Date): Promise<string[]> {
  const link = await createReportLink(pool, { target: 'latest', now, baseUrl });
  return [
    `report     ${link.url}`,
    `           (opens in a browser until ${link.expiresAt.toISOString().slice(0, 10)}; \`churn report --link\` prints a new one)`,
    `           file: ${file}`,
  ];
}

/**
 * Scores every active account with the champion as of `asOf` unless its scores of that as-of exist,
 * under the scoring lock (a `churn score` may be running); the snapshot is ensureFreshSnapshot's.
 */
export async function ensureScores(pool: Pool, catalog: Catalog, version: number, serving: ServingConfig, asOf: Date, say: Say): Promise<void> {
  // the champion's scores as of this as-of time: a backfill stored minutes ago (another as-of) is not today's
  const n = await scoresAsOf(pool, version, asOf);
  if (n > 0) return say(`scores     ${n} scores as of ${asOf.toISOString()} exist for version ${version}`);
  const model = await registryModelSource(pool, catalog).load(version);
  const r = await withScoringLock(pool, () => scoreAllActive(pool, { model, catalog, config: serving, asOf, scoredAt: new Date(), progress: createProgress('scoring') }));
  say(`scores     scored ${r.accounts} active accounts${r.trials ? ` (${r.trials} on a trial)` : ''} in ${r.seconds.toFixed(1)} s (${r.alerts} alerts)`);
}

/** A demo key with both scopes; its secret is kept in `<home>/demo-key` so later starts print it again. */
export async function ensureDemoKey(pool: Pool, home: string): Promise<string> {
  const file = path.join(home, 'demo-key');
  const saved = (await fs.readFile(file, 'utf8').catch(() => '')).trim();
  const keys = await listApiKeys(pool);
  const prefix = prefixOf(saved);
  if (prefix && keys.some((k) => k.name === 'demo' && !k.revoked_at && k.key_prefix === prefix)) return saved;
  if (keys.some((k) => k.name === 'demo' && !k.revoked_at)) await revokeApiKey(pool, 'demo');
  const secret = await createApiKey(pool, { name: 'demo', scopes: ['score:read', 'models:admin'] });
  await fs.mkdir(home, { recursive: true });
  await fs.writeFile(file, `${secret}\n`, { mode: 0o600 });
  return secret;
}
