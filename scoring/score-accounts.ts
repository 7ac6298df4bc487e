import { query, type Queryable } from '../core/db.ts';
import { ChurnError } from '../core/errors.ts';
import { defaultAsOfText } from '../core/time.ts';
import type { FeatureReader } from '../features/online.ts';
import { buildScore, type Top } from './build-score.ts';
import type { ServingConfig } from './config.ts';
import type { SegmentInfo } from './health.ts';
import type { ModelHolder } from './holder.ts';
import type { ScoringModel } from './model.ts';
import type { Score } from './schema.ts';
import { checkRows } from './validate.ts';

const DAY_MS = 86_400_000;

/** The segment and tenure (whole days) of an account at `asOf`. */
export function segmentAt(f: { segment: string | null; createdAt: Date }, asOf: Date): SegmentInfo {
  return { accountSegment: f.segment, tenureDays: Math.floor((asOf.getTime() - f.createdAt.getTime()) / DAY_MS) };
}

const accountRows = (ids: readonly string[]) => ({
  text: 'SELECT account_id, segment, created_at FROM source.accounts WHERE account_id = ANY($1::text[])',
  values: [ids],
});

/** Segment and tenure of accounts at `asOf` (unknown accounts are absent), for batch scoring and reports. */
export async function readAccountInfo(db: Queryable, ids: readonly string[], asOf: Date): Promise<Map<string, SegmentInfo>> {
  const rows = await query<{ account_id: string; segment: string; created_at: Date }>(db, accountRows(ids));
  return new Map(rows.map((r) => [r.account_id, segmentAt({ segment: r.segment, createdAt: r.created_at }, asOf)]));
}


export function requireModel(holder: ModelHolder): ScoringModel {
  const m = holder.current;
  if (!m) throw new ChurnError('CHURN_ERR_NO_CHAMPION', 'no champion model is loaded yet; train one with `churn train`');
  return m;
}

/** Refuses to score with a model trained on another feature set. */
export function checkFeatureSet(model: ScoringModel, featureSetVersion: string): void {
  if (model.featureSetVersion && model.featureSetVersion !== featureSetVersion) {
    throw new ChurnError('CHURN_ERR_FEATURE_MISMATCH', `model ${model.version} was trained on feature set ${model.featureSetVersion}, the catalogue is ${featureSetVersion}`);
  }
}

/** Inference slice size: one explained score takes ~40 us, so a slice holds the event loop ~5 ms at most. */
const SLICE = 128;

/**
 * Maps in slices, yielding to the event loop between them, so a 1,000-account batch never stalls the
 * other requests. A list that fits in one slice is mapped at once.
 */
export async function mapInSlices<T, U>(items: readonly T[], fn: (item: T, index: number) => U): Promise<U[]> {
  const out: U[] = [];
  for (let start = 0; start < items.length; start += SLICE) {
    if (start > 0) await new Promise((r) => setImmediate(r));
    const end = Math.min(items.length, start + SLICE);
    for (let i = start; i < end; i++) out.push(fn(items[i], i));
  }
  return out;
}

export interface ScoreDeps {
  pool: Queryable;
  holder: ModelHolder;
  features: FeatureReader;
  config: ServingConfig;
}

/** An account a batch could not score, beside the scores of the others. */
export interface ScoreError {
  account_id: string;
  error: 'CHURN_ERR_ACCOUNT_NOT_FOUND';
  message: string;
}

/**
 * Scores accounts as of a time: features for all of them in one pass (one statement, which also
 * returns each account's segment, sign-up time and status), then inference row by row with the model
 * captured at the start (an alias move mid-request does not mix two models). Accounts that do not
 * exist, or did not yet at `asOf`, come back as errors beside the scores of the others.
 */
export async function scoreAccounts(deps: ScoreDeps, accountIds: readonly string[], asOf: Date, top: Top): Promise<{ scores: Score[]; errors: ScoreError[] }> {
  const model = requireModel(deps.holder);
  checkFeatureSet(model, deps.features.featureSetVersion);
  const ids = [...new Set(accountIds)];
  const rows = await deps.features.read(ids, asOf);
  const absent = ids.filter((id) => !rows.has(id));
  const errors = absent.length ? await explainAbsent(deps.pool, absent, asOf) : [];
  const asOfText = asOf.toISOString();
  const scores = await mapInSlices(accountIds.filter((id) => rows.has(id)), (id) => {
    const f = rows.get(id)!;
    return buildScore({ model, config: deps.config, accountId: id, asOf: asOfText, row: f.row, segment: segmentAt(f, asOf), top, status: f.status });
  });
  return { scores, errors };
}

/** One account's score; CHURN_ERR_ACCOUNT_NOT_FOUND (404) when it does not exist or did not yet at `asOf`. */
export async function scoreAccount(deps: ScoreDeps, accountId: string, asOf: Date, top: Top): Promise<Score> {
  const { scores, errors } = await scoreAccounts(deps, [accountId], asOf, top);
  if (errors.length) throw new ChurnError('CHURN_ERR_ACCOUNT_NOT_FOUND', errors[0].message);
  return scores[0];
}

/** Why the feature read did not return these accounts: unknown, or not yet created at `asOf`. */
async function explainAbsent(db: Queryable, absent: string[], asOf: Date): Promise<ScoreError[]> {
  const known = new Set((await query<{ account_id: string }>(db, accountRows(absent))).map((r) => r.account_id));
  return absent.map((id) => ({
    account_id: id, error: 'CHURN_ERR_ACCOUNT_NOT_FOUND' as const,
    message: known.has(id) ? `account ${id} did not exist at ${asOf.toISOString()}` : `no such account: ${id}`,
  }));
}

/**
 * Scores caller-supplied feature values (no database read), after checking every row against the
 * model's input contract (scoring/validate.ts: wrong types, unknown categories and, unless
 * `allowMissing`, absent features are refused, every problem listed). Without `asOf`, the scores are
 * as of the latest UTC midnight (`defaultAsOf`).
 */
export function scoreInstances(holder: ModelHolder, config: ServingConfig, instances: readonly Record<string, unknown>[], opts: { asOf?: Date; top: Top; allowMissing?: boolean }): Promise<Score[]> {
  const model = requireModel(holder);
  const checked = checkRows(model, instances, { allowMissing: opts.allowMissing });
  const asOfText = opts.asOf ? opts.asOf.toISOString() : defaultAsOfText();
  return mapInSlices(checked, (c, i) => buildScore({
    model, config, accountId: c.id ?? String(i), asOf: asOfText, row: c.row, segment: c.segment, top: opts.top, status: c.status,
    ...(opts.allowMissing ? { imputed: c.imputed } : {}),
  }));
}
