import { ChurnError } from '../core/errors.ts';
import { ID_LIKE_NAMES, nearestName } from '../core/suggest.ts';
import type { AccountStatus } from '../features/online.ts';
import type { ContractFeature } from '../training/contract.ts';
import type { SegmentInfo } from './health.ts';
import type { RowValue, ScoringModel } from './model.ts';

/** One thing wrong with a caller-supplied row. */
export interface Problem {
  /** index of the row (the instance in the request, the record in the file) */
  row: number;
  feature: string;
  reason: string;
}

/** A caller-supplied row checked against the model's input contract, ready to score. */
export interface CheckedRow {
  id: string | null;
  /** the values to score: the caller's own object when it needed no conversion (`usableAsIs`), else a copy */
  row: Readonly<Record<string, RowValue>>;
  segment: SegmentInfo;
  /** features the caller left out, scored as missing (only with `allowMissing`) */
  imputed: string[];
  /** `trial` when the row says the account is on a trial (below), else `active` */
  status: AccountStatus;
}

/** The catalogue's flag of a trial subscription in force (features/definitions/commercial.ts). */
const TRIAL_FLAG = 'is_trial';

/**
 * Where a caller's row says the account stands: on a trial when the model is of the product catalogue
 * and the row's `is_trial` is 1, else a paying customer. An account read from the database is a trial
 * by the same fact, so a row and its account get the same tier (scoring/build-score.ts). Training
 * leaves trials out, so `is_trial` is constant there and most models leave it out of their inputs: it
 * is read from the caller's own values (checked here when the model does not check it as an input).
 * A prepared table's model has no catalogue: its rows are customers.
 */
function statusOf(model: ScoringModel, inst: Record<string, unknown>, row: Readonly<Record<string, RowValue>>, text: boolean, r: number, problems: Problem[]): AccountStatus {
  if (model.featureSetVersion === null) return 'active';
  if (model.contract.byName.has(TRIAL_FLAG)) return row[TRIAL_FLAG] === 1 ? 'trial' : 'active';
  const v = inst[TRIAL_FLAG];
  if (v === undefined || v === null || (text && v === '')) return 'active';
  if (v === 1 || v === true || (text && v === '1')) return 'trial';
  if (v === 0 || v === false || (text && v === '0')) return 'active';
  problems.push({ row: r, feature: TRIAL_FLAG, reason: `expected 1 (on a trial) or 0, got ${shown(v)}` });
  return 'active';
}

/** Keys that describe the account rather than feed the model. */
const ACCOUNT_KEYS = new Set(['id', 'segment', 'tenure_days']);

/** Whether key `k` of a row is not a model input but is expected there: the account's keys, and features training left out (not scored). */
const passesOver = (model: ScoringModel, k: string): boolean => ACCOUNT_KEYS.has(k) || model.contract.leftOut.has(k);

/**
 * Why key `k` is refused, with what the caller may have meant: the instance's id goes in `id`, and a
 * name at most two edits from a key a row may carry (`is_trail`, `segmnt`) names that key.
 */
function unknownKeyReason(model: ScoringModel, k: string): string {
  const reason = 'unknown feature: the model does not use it';
  if (ID_LIKE_NAMES.includes(k)) return `${reason} (an instance's own id goes in "id")`;
  // any key a row may carry: the inputs, the features training left out, the account's keys
  const near = nearestName(k, [...model.contract.features.map((f) => f.name), ...model.contract.leftOut, ...ACCOUNT_KEYS]);
  return near ? `${reason}; did you mean "${near}"?` : reason;
}

export interface CheckOptions {
  /** score features the row lacks as missing values (and say so) instead of refusing the row */
  allowMissing?: boolean;
  /** values are text (a CSV cell): numeric features are parsed from it */
  text?: boolean;
  /** how a problem's place is named, from the row index and the feature: `instances.3.seats` (API, the default) or `line 5, seats` (CLI) */
  where?: (row: number, feature: string) => string;
}

const shown = (v: unknown) => (typeof v === 'string' ? JSON.stringify(v.length > 40 ? `${v.slice(0, 40)}...` : v) : String(v));

/** Why a value was refused (allocated only then: a valid value is returned as it is). */
class Refused {
  constructor(readonly reason: string) {}
}

/** Whether `v` lies outside the feature's domain (never for features without one). */
const outside = (f: ContractFeature, v: number): boolean => f.domain !== undefined && (v < f.domain.min || (f.domain.max !== undefined && v > f.domain.max));

const domainRule = (d: NonNullable<ContractFeature['domain']>) => (d.max === undefined ? `${d.min} or more` : `from ${d.min} to ${d.max}`);

function checkValue(f: ContractFeature, v: unknown, text: boolean): RowValue | Refused {
  if (v === null || v === undefined || (text && v === '')) return null;
  if (f.type === 'numeric') {
    let n: number | null = null;
    if (typeof v === 'number') {
      if (!Number.isFinite(v)) return new Refused(`expected a finite number, got ${shown(v)}`);
      n = v;
    } else if (typeof v === 'boolean') n = v ? 1 : 0;
    else if (text && typeof v === 'string') {
      const parsed = Number(v.trim());
      if (v.trim() !== '' && Number.isFinite(parsed)) n = parsed;
    }
    if (n === null) return new Refused(`expected a number, got ${shown(v)}`);
    return outside(f, n) ? new Refused(`expected a number ${domainRule(f.domain!)}, got ${shown(v)}`) : n;
  }
  const s = typeof v === 'string' ? v.trim() : null;
  if (s === null) return new Refused(`expected one of its categories (text), got ${shown(v)}`);
  if (f.categories && !f.categories.includes(s)) {
    const known = f.categories.slice(0, 8).map((c) => JSON.stringify(c)).join(', ');
    return new Refused(`unknown category ${shown(s)}; the model knows ${known}${f.categories.length > 8 ? `, ... (${f.categories.length})` : ''}`);
  }
  return s;
}

/**
 * Whether a row can be scored as it is, with no copy: every feature present, each value already what
 * the model takes (null, a finite number within the feature's domain, or a known category without
 * surrounding spaces), and no key but the features, the account's and those training left out. Most
 * API rows are; any other row goes the long way, which converts values and names each problem.
 */
function usableAsIs(model: ScoringModel, inst: Record<string, unknown>): boolean {
  const byName = model.contract.byName;
  let features = 0;
  for (const k in inst) {
    const f = byName.get(k);
    if (f === undefined) {
      if (passesOver(model, k)) continue;
      return false;
    }
    features++;
    const v = inst[k];
    if (v === null) continue;
    if (f.type === 'numeric') {
      if (typeof v !== 'number' || !Number.isFinite(v) || outside(f, v)) return false;
    } else if (typeof v !== 'string' || v.trim() !== v || (f.categories && !f.categories.includes(v))) return false;
  }
  return features === model.contract.features.length;
}

const isOne = (v: unknown, text: boolean) => v === 1 || v === true || (text && typeof v === 'string' && v.trim() === '1');
const isZero = (v: unknown, text: boolean) => v === 0 || v === false || (text && typeof v === 'string' && v.trim() === '0');

/**
 * The segment a row's segment flags give (`segment_enterprise: 1`), as the account's own data gives
 * it to the database's scores: the flag that is 1, or, all of them 0, the one known segment without a
 * flag (`smb`). Null when they say nothing; two flags at 1 are a problem.
 */
function flaggedSegment(model: ScoringModel, inst: Record<string, unknown>, text: boolean, r: number, problems: Problem[]): string | null {
  const flags = model.segmentFlags;
  if (!flags.length) return null;
  const on = flags.filter((f) => isOne(inst[f.feature], text));
  if (on.length > 1) {
    problems.push({ row: r, feature: on[1].feature, reason: `${on.map((f) => f.feature).join(' and ')} are all 1: an account is in one segment` });
    return null;
  }
  if (on.length === 1) return on[0].segment;
  const rest = model.contract.account_segments?.filter((s) => !flags.some((f) => f.segment === s));
  return rest?.length === 1 && flags.every((f) => isZero(inst[f.feature], text)) ? rest[0] : null;
}

function checkAccountKeys(model: ScoringModel, inst: Record<string, unknown>, text: boolean, r: number, problems: Problem[]): { id: string | null; segment: SegmentInfo } {
  const id = inst.id === undefined || inst.id === null ? null : typeof inst.id === 'string' || typeof inst.id === 'number' ? String(inst.id) : (problems.push({ row: r, feature: 'id', reason: 'expected text' }), null);
  const flagged = flaggedSegment(model, inst, text, r, problems);
  let accountSegment: string | null = flagged;
  if (inst.segment !== undefined && inst.segment !== null && inst.segment !== '') {
    const known = model.contract.account_segments;
    if (typeof inst.segment !== 'string') problems.push({ row: r, feature: 'segment', reason: `expected text, got ${shown(inst.segment)}` });
    else if (known && !known.includes(inst.segment)) problems.push({ row: r, feature: 'segment', reason: `unknown segment ${shown(inst.segment)}; the model knows ${known.map((k) => JSON.stringify(k)).join(', ')}` });
    else if (flagged !== null && flagged !== inst.segment) problems.push({ row: r, feature: 'segment', reason: `${shown(inst.segment)}, but the row's segment flags say ${shown(flagged)}` });
    else accountSegment = inst.segment;
  }
  let tenureDays: number | null = null;
  if (inst.tenure_days !== undefined && inst.tenure_days !== null && inst.tenure_days !== '') {
    const n = text && typeof inst.tenure_days === 'string' ? Number(inst.tenure_days) : inst.tenure_days;
    if (typeof n !== 'number' || !Number.isFinite(n) || n < 0) problems.push({ row: r, feature: 'tenure_days', reason: `expected a number of days (0 or more), got ${shown(inst.tenure_days)}` });
    else tenureDays = n;
  }
  return { id, segment: { accountSegment, tenureDays } };
}

/** Row `r` checked, its problems added to `problems` (unknown keys, then features in contract order, then the account's keys). */
function checkRow(model: ScoringModel, inst: Record<string, unknown>, r: number, opts: CheckOptions, problems: Problem[]): CheckedRow {
  const text = opts.text === true;
  if (!text && usableAsIs(model, inst)) {
    const { id, segment } = checkAccountKeys(model, inst, text, r, problems);
    const row = inst as Record<string, RowValue>;
    return { id, segment, row, imputed: [], status: statusOf(model, inst, row, text, r, problems) };
  }
  for (const k in inst) if (!model.contract.byName.has(k) && !passesOver(model, k)) problems.push({ row: r, feature: k, reason: unknownKeyReason(model, k) });
  const row: Record<string, RowValue> = {};
  const imputed: string[] = [];
  for (const f of model.contract.features) {
    if (!Object.hasOwn(inst, f.name)) {
      if (opts.allowMissing) imputed.push(f.name);
      else problems.push({ row: r, feature: f.name, reason: 'missing (send null for a missing value, or allow_missing to impute every absent feature)' });
      row[f.name] = null;
      continue;
    }
    const c = checkValue(f, inst[f.name], text);
    if (c instanceof Refused) problems.push({ row: r, feature: f.name, reason: c.reason });
    else row[f.name] = c;
  }
  // a row of nothing but imputed values would score as an account with no data at all ("healthy")
  if (imputed.length === model.contract.features.length) {
    problems.push({ row: r, feature: '', reason: `none of the model's ${imputed.length} features is given: allow_missing imputes the absent features of a row, not a whole row` });
  }
  const { id, segment } = checkAccountKeys(model, inst, text, r, problems);
  return { id, segment, row, imputed, status: statusOf(model, inst, row, text, r, problems) };
}

const apiPlace = (row: number, feature: string) => (feature ? `instances.${row}.${feature}` : `instances.${row}`);

/**
 * Checks caller-supplied rows against the model's input contract and returns them ready to score.
 * Every problem of every row is collected (row, feature, reason): unknown features, wrong types,
 * categories the model never saw, an unknown account segment, and features the row lacks (unless
 * `allowMissing`, which scores them as missing and lists them in `imputed`; a row with none of the
 * features is refused all the same, its problem's `feature` empty). Any problem is a
 * CHURN_ERR_VALIDATION naming them, with the full list in `details.problems`; nothing is scored.
 * The caller's rows are never modified.
 */
export function checkRows(model: ScoringModel, rows: readonly Record<string, unknown>[], opts: CheckOptions = {}): CheckedRow[] {
  const problems: Problem[] = [];
  const out: CheckedRow[] = [];
  for (let r = 0; r < rows.length; r++) out.push(checkRow(model, rows[r], r, opts, problems));
  if (problems.length) {
    const where = opts.where ?? apiPlace;
    const list = problems.slice(0, 10).map((p) => `${where(p.row, p.feature)}: ${p.reason}`).join('; ');
    const inputs = model.version > 0 ? ` (the model's inputs: GET /v1/models/${model.version}, or \`churn models show ${model.version}\`)` : '';
    throw new ChurnError('CHURN_ERR_VALIDATION', `${problems.length} problem${problems.length > 1 ? 's' : ''} with the rows to score${inputs}: ${list}${problems.length > 10 ? `; and ${problems.length - 10} more` : ''}`,
      { details: { problems: problems.slice(0, 200) } });
  }
  return out;
}
