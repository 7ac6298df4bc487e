import type { Pool } from '../core/db.ts';
import { noProgress, type Progress } from '../core/progress.ts';
import type { Catalog } from '../features/catalog.ts';
import { selectFeatures } from '../features/materialize.ts';
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
