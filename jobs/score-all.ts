import type { Pool, PoolClient } from '../core/db.ts';
import { noProgress, type Progress } from '../core/progress.ts';
import type { Catalog } from '../features/catalog.ts';
import { buildSnapshots, selectFeatures } from '../features/materialize.ts';
import type { ServingConfig } from '../scoring/config.ts';
import { buildScore } from '../scoring/build-score.ts';
import type { ScoringModel } from '../scoring/model.ts';
import { checkFeatureSet, segmentAt } from '../scoring/score-accounts.ts';
import { storeScores } from '../scoring/store.ts';

export interface ScoreAllResult {
  accounts: number;
  /** of the accounts, those on a trial (stored with tier `trial`, raising no alerts) */
  trials: number;
  stored: number;
  alerts: number;
  queued: number;
  modelVersion: number;
  featureSetVersion: string;
  asOf: string;
  seconds: number;
}

/**
 * Scores every account a subscription covers (paying, or on a trial: tier `trial`) as of a time and
 * stores the history: features for all accounts in one set-based pass, inference in batches, inserts
 * (and alert detection) per batch, each stamped with the model version and feature-set version.
 */
export async function scoreAllActive(
  pool: Pool,
  input: { model: ScoringModel; catalog: Catalog; config: ServingConfig; asOf: Date; scoredAt: Date; batchSize?: number; progress?: Progress },
): Promise<ScoreAllResult> {
  const started = performance.now();
  const { model, catalog, config, asOf } = input;
  checkFeatureSet(model, catalog.version);
  // the event rollup when asOf is a UTC midnight; with each account's segment, sign-up time and status
  // (a trial is stored with tier trial)
  const rows = await selectFeatures(pool, catalog, [asOf], { events: 'auto', accountFacts: true });
  const progress = input.progress ?? noProgress;
  const batch = input.batchSize ?? 500;
  const asOfText = asOf.toISOString();
  let stored = 0;
  let alerts = 0;
  let queued = 0;
  progress.start(rows.length);
  for (let i = 0; i < rows.length; i += batch) {
    const scores = rows.slice(i, i + batch).map((r) => buildScore({
      model, config, accountId: r.account_id, asOf: asOfText, row: Object.fromEntries(catalog.names.map((n, k) => [n, r.feature_values[k] ?? null])),
      segment: segmentAt({ segment: r.segment ?? null, createdAt: r.created_at! }, asOf), top: 'all', status: r.status,
    }));
    const result = await storeScores(pool, config, scores, input.scoredAt);
    stored += result.stored;
    alerts += result.alerts;
    queued += result.queued;
    progress.increment(scores.length);
  }
  progress.stop();
  const trials = rows.filter((r) => r.status === 'trial').length;
  return { accounts: rows.length, trials, stored, alerts, queued, modelVersion: model.version, featureSetVersion: catalog.version, asOf: asOfText, seconds: (performance.now() - started) / 1000 };
}

/**
 * Advisory-lock key of scoring runs ("churnscr"): `churn score` and the server's daily job hold it for
 * their whole run, so two runs never interleave (alert detection reads each account's previous score
 * and dead-band state in its own statement). A key of its own, not the daily job's (runner.ts), which
 * the runner holds on another connection while it scores.
 */
export const SCORING_LOCK_KEY = 0x636875726e736372n;

/** Takes the scoring lock on this session if it is free (true), else leaves it (false). */
export async function tryScoringLock(client: PoolClient): Promise<boolean> {
  const { rows } = await client.query<{ ok: boolean }>('SELECT pg_try_advisory_lock($1) AS ok', [SCORING_LOCK_KEY.toString()]);
  return rows[0].ok;
}

export async function releaseScoringLock(client: PoolClient): Promise<void> {
  await client.query('SELECT pg_advisory_unlock($1)', [SCORING_LOCK_KEY.toString()]);
}

export type ScoreRunInput = Parameters<typeof scoreAllActive>[1];
export type ScoreRunResult = ScoreAllResult & { snapshots: number };

/**
 * One scoring run's work, shared by `churn score` and the server's daily job (the caller holds the
 * scoring lock): the feature snapshot of the as-of (what drift is measured on), then every account
 * scored and stored with its alerts.
 */
export async function snapshotAndScore(pool: Pool, input: ScoreRunInput): Promise<ScoreRunResult> {
  const built = await buildSnapshots(pool, input.catalog, [input.asOf]);
  const scored = await scoreAllActive(pool, input);
  return { snapshots: built.rows, ...scored };
}

export interface LockWait {
  /** called once when another run holds the lock */
  onWait?: () => void;
  /** how often to try the lock again while waiting (ms, default 1000) */
  pollMs?: number;
}

/** Runs `work` under the scoring lock, waiting for a run that holds it (`onWait` is told once). */
export async function withScoringLock<T>(pool: Pool, work: () => Promise<T>, { onWait, pollMs = 1000 }: LockWait = {}): Promise<T> {
  const client = await pool.connect();
  let locked = false;
  try {
    for (let waited = false; !(locked = await tryScoringLock(client)); waited = true) {
      if (!waited) onWait?.();
      await new Promise((r) => setTimeout(r, pollMs));
    }
    return await work();
  } finally {
    // a session that could not be unlocked is closed (which releases the lock), not pooled
    const unlocked = !locked || await releaseScoringLock(client).then(() => true, () => false);
    client.release(!unlocked);
  }
}

/** A scoring run under the scoring lock (`churn score`): `snapshotAndScore` once no other run holds it. */
export async function runScoring(pool: Pool, input: ScoreRunInput & LockWait): Promise<ScoreRunResult> {
  const { onWait, pollMs, ...run } = input;
  return withScoringLock(pool, () => snapshotAndScore(pool, run), { onWait, pollMs });
}
