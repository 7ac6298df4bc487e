import { query, type Queryable } from '../core/db.ts';
import { ChurnError } from '../core/errors.ts';
import type { FeatureReader } from '../features/online.ts';
import { buildScore, type Top } from './build-score.ts';
import type { ServingConfig } from './config.ts';
import type { SegmentInfo } from './health.ts';
import type { ModelHolder } from './holder.ts';
import type { RowValue, ScoringModel } from './model.ts';
import type { Score } from './schema.ts';

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

/**
 * The default as-of time of an API score: now, truncated to the whole second (features are in whole
 * days, and requests in the same second share one feature statement).
 */
export function defaultAsOf(now = Date.now()): Date {
  return new Date(Math.floor(now / 1000) * 1000);
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

/**
 * Scores accounts as of a time: features for all of them in one pass (one statement, which also
 * returns each account's segment and sign-up time), then inference row by row with the model captured
 * at the start (an alias move mid-request does not mix two models). Unknown accounts are a 404 naming
 * them, and so is an account created after `asOf`.
 */
export async function scoreAccounts(deps: ScoreDeps, accountIds: readonly string[], asOf: Date, top: Top): Promise<Score[]> {
  const model = requireModel(deps.holder);
  checkFeatureSet(model, deps.features.featureSetVersion);
  const ids = [...new Set(accountIds)];
  const rows = await deps.features.read(ids, asOf);
  const absent = ids.filter((id) => !rows.has(id));
  if (absent.length) await explainAbsent(deps.pool, absent, asOf);
  const asOfText = asOf.toISOString();
  return mapInSlices(accountIds, (id) => {
    const f = rows.get(id)!;
    return buildScore({ model, config: deps.config, accountId: id, asOf: asOfText, row: f.row, segment: segmentAt(f, asOf), top });
  });
}

/** Throws the 404 for accounts the feature read did not return: unknown ones first, else not yet created at `asOf`. */
async function explainAbsent(db: Queryable, absent: string[], asOf: Date): Promise<never> {
  const known = new Set((await query<{ account_id: string }>(db, accountRows(absent))).map((r) => r.account_id));
  const missing = absent.filter((id) => !known.has(id));
  if (missing.length) {
    throw new ChurnError('CHURN_ERR_ACCOUNT_NOT_FOUND', `no such account: ${missing.slice(0, 5).join(', ')}${missing.length > 5 ? ` and ${missing.length - 5} more` : ''}`);
  }
  throw new ChurnError('CHURN_ERR_ACCOUNT_NOT_FOUND', `account ${absent[0]} did not exist at ${asOf.toISOString()}`);
}

/** Instance keys that describe the account rather than feed the model. */
const ACCOUNT_KEYS = new Set(['id', 'segment', 'tenure_days']);

/**
 * Scores caller-supplied feature values (no database read); missing features count as null, booleans
 * as 1/0. Without `asOf`, the scores are as of now (`defaultAsOf`).
 */
export function scoreInstances(holder: ModelHolder, config: ServingConfig, instances: Record<string, RowValue | boolean>[], asOf: Date | undefined, top: Top): Promise<Score[]> {
  const model = requireModel(holder);
  const features = new Set(model.featureNames);
  const asOfText = (asOf ?? defaultAsOf()).toISOString();
  return mapInSlices(instances, (inst, i) => {
    const row: Record<string, RowValue> = {};
    const unknown: string[] = [];
    for (const [k, v] of Object.entries(inst)) {
      if (!features.has(k) && !ACCOUNT_KEYS.has(k)) unknown.push(k);
      row[k] = typeof v === 'boolean' ? (v ? 1 : 0) : v;
    }
    if (unknown.length) throw new ChurnError('CHURN_ERR_VALIDATION', `instances.${i}: unknown feature ${unknown.slice(0, 3).join(', ')}; the model uses ${model.featureNames.length} features (see GET /v1/models/${model.version})`);
    const segment: SegmentInfo = {
      accountSegment: typeof inst.segment === 'string' ? inst.segment : null,
      tenureDays: typeof inst.tenure_days === 'number' ? inst.tenure_days : null,
    };
    const id = typeof inst.id === 'string' ? inst.id : String(i);
    return buildScore({ model, config, accountId: id, asOf: asOfText, row, segment, top });
  });
}
