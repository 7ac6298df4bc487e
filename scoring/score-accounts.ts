import { query, type Queryable, type Sql } from '../core/db.ts';
import { ChurnError } from '../core/errors.ts';
import type { SegmentInfo, ServingConfig } from './config.ts';
import type { ModelHolder } from './holder.ts';
import { buildScore, type RowValue, type ServingModel, type Top } from './build-score.ts';
import type { Score } from './schema.ts';

/** An account's feature values as of a time, keyed by feature name, with the account facts a score needs. */
export interface AccountFeatures {
  row: Record<string, RowValue>;
  /** the account's segment (`smb`, `mid_market`, `enterprise`) */
  segment: string;
  /** when the account signed up, in ms since the epoch */
  createdAt: number;
}

/**
 * Reads features for accounts as of a time (the features fast path), keyed by account; accounts that
 * did not exist then (or at all) are absent.
 */
export interface FeatureReader {
  featureSetVersion: string;
  read(accountIds: string[], asOf: Date): Promise<Map<string, AccountFeatures>>;
  /** resolves once no read is queued or running (graceful shutdown waits for it before the pool ends) */
  idle?(): Promise<void>;
  /** releases what the reader holds (its connections); called after `idle()` at shutdown */
  close?(): Promise<void>;
}

const accountRows = (ids: string[]): Sql => ({
  text: `SELECT account_id, segment, created_at FROM source.accounts WHERE account_id = ANY($1::text[])`,
  values: [ids],
});

const DAY_MS = 86_400_000;

/** Segment and tenure of accounts at `asOf` (unknown accounts are absent), for batch scoring and reports. */
export async function readAccountInfo(db: Queryable, ids: string[], asOf: Date): Promise<Map<string, SegmentInfo>> {
  const out = new Map<string, SegmentInfo>();
  for (const r of await query<{ account_id: string; segment: string; created_at: Date }>(db, accountRows(ids))) {
    out.set(r.account_id, segmentAt({ segment: r.segment, createdAt: r.created_at.getTime() }, asOf));
  }
  return out;
}

/** The segment and tenure (whole days) of an account at `asOf`, from its facts (those of its feature read). */
export function segmentAt(f: Pick<AccountFeatures, 'segment' | 'createdAt'>, asOf: Date): SegmentInfo {
  return { accountSegment: f.segment, tenureDays: Math.floor((asOf.getTime() - f.createdAt) / DAY_MS) };
}

/**
 * The default as-of time of an API score: now, truncated to the whole second (features are in whole
 * days, and requests in the same second share one feature statement).
 */
export function defaultAsOf(now = Date.now()): Date {
  return new Date(Math.floor(now / 1000) * 1000);
}

let lastAsOfMs = NaN;
let lastAsOfText = '';
/** The ISO text of time `ms`, remembered for the last time seen (requests in one second share it). */
function isoTextAt(ms: number): string {
  if (ms !== lastAsOfMs) {
    lastAsOfText = new Date(ms).toISOString();
    lastAsOfMs = ms;
  }
  return lastAsOfText;
}
const isoText = (asOf: Date) => isoTextAt(asOf.getTime());

/** `defaultAsOf().toISOString()` without a Date per call (the predict hot path needs the text only). */
export function defaultAsOfText(now = Date.now()): string {
  return isoTextAt(Math.floor(now / 1000) * 1000);
}

export function requireModel(holder: ModelHolder): ServingModel {
  const m = holder.current;
  if (!m) throw new ChurnError('CHURN_ERR_NO_CHAMPION', 'no champion model is loaded yet; train one with `churn train`');
  return m;
}

/** Refuses to score with a model trained on another feature set. */
export function checkFeatureSet(model: ServingModel, features: FeatureReader): void {
  if (model.featureSetVersion && model.featureSetVersion !== features.featureSetVersion) {
    throw new ChurnError('CHURN_ERR_FEATURE_MISMATCH', `model ${model.version} was trained on feature set ${model.featureSetVersion}, the catalogue is ${features.featureSetVersion}`);
  }
}

/** Inference slice size: one explained score takes ~40 us, so a slice holds the event loop ~5 ms at most. */
const SLICE = 128;

/**
 * Maps in slices, yielding to the event loop between them, so a 1,000-account batch never stalls the
 * other requests. A list that fits in one slice is mapped synchronously (no promise, no yield).
 */
export function mapInSlices<T, U>(items: readonly T[], fn: (item: T, index: number) => U): U[] | Promise<U[]> {
  if (items.length <= SLICE) {
    const out = new Array<U>(items.length);
    for (let i = 0; i < items.length; i++) out[i] = fn(items[i], i);
    return out;
  }
  return (async () => {
    const out: U[] = [];
    for (let start = 0; start < items.length; start += SLICE) {
      if (start > 0) await new Promise((r) => setImmediate(r));
      const end = Math.min(items.length, start + SLICE);
      for (let i = start; i < end; i++) out.push(fn(items[i], i));
    }
    return out;
  })();
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
export async function scoreAccounts(deps: ScoreDeps, accountIds: string[], asOf: Date, top: Top): Promise<Score[]> {
  const model = requireModel(deps.holder);
  checkFeatureSet(model, deps.features);
  const ids = [...new Set(accountIds)];
  const rows = await deps.features.read(ids, asOf);
  if (rows.size < ids.length) await explainAbsent(deps.pool, ids.filter((id) => !rows.has(id)), asOf);
  const asOfText = isoText(asOf);
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

const knownFeatures = new WeakMap<ServingModel, Set<string>>();
/** Instance keys that describe the account rather than feed the model. */
const ACCOUNT_KEYS = new Set(['id', 'segment', 'tenure_days']);

/**
 * Scores caller-supplied feature values (no database read); missing features count as null. The
 * instances are the request's own parsed objects: booleans become 1/0 in place and each instance is
 * the scorer's row, so no copy is made. Synchronous when the instances fit in one slice. Without
 * `asOf`, the scores are as of now (`defaultAsOf`).
 */
export function scoreInstances(holder: ModelHolder, config: ServingConfig, instances: Record<string, RowValue | boolean>[], asOf: Date | undefined, top: Top): Score[] | Promise<Score[]> {
  const model = requireModel(holder);
  let known = knownFeatures.get(model);
  if (!known) knownFeatures.set(model, (known = new Set(model.featureNames)));
  const features = known;
  const asOfText = asOf ? isoText(asOf) : defaultAsOfText();
  return mapInSlices(instances, (inst, i) => {
    let unknown: string[] | undefined;
    for (const k in inst) {
      const v = inst[k];
      if (typeof v === 'boolean') inst[k] = v ? 1 : 0;
      if (!features.has(k) && !ACCOUNT_KEYS.has(k)) (unknown ??= []).push(k);
    }
    if (unknown) throw new ChurnError('CHURN_ERR_VALIDATION', `instances.${i}: unknown feature ${unknown.slice(0, 3).join(', ')}; the model uses ${model.featureNames.length} features (see GET /v1/models/${model.version})`);
    const segment: SegmentInfo = {
      accountSegment: typeof inst.segment === 'string' ? inst.segment : null,
      tenureDays: typeof inst.tenure_days === 'number' ? inst.tenure_days : null,
    };
    const id = typeof inst.id === 'string' ? inst.id : String(i);
    return buildScore({ model, config, accountId: id, asOf: asOfText, row: inst as Record<string, RowValue>, segment, top });
  });
}
