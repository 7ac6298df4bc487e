import { FAMILIES, healthFromProbability, resolveSegment, tierOf, type SegmentInfo, type ServingConfig } from './config.ts';
import { scorecardScore } from './scorecard.ts';
import type { Score, Driver } from './schema.ts';

export type RowValue = number | string | null;

/** What the scorer produces for one row (see training/scorer.ts). */
export interface ModelOutput {
  probability: number;
  logit: number;
  baseValue: number;
  contributions: Float64Array | number[];
}

/** A loaded model as serving sees it: ordered features, their families and reference values. */
export interface ServingModel {
  version: number;
  featureSetVersion: string | null;
  /** the model's training churn rate: the `relative` health mapping is anchored on it */
  baseRate: number;
  featureNames: string[];
  families: string[];
  /** typical value among retained accounts, per feature (null when unknown or non-numeric) */
  references: (number | string | null)[];
  score(row: Record<string, RowValue>): ModelOutput;
  describe(index: number, value: RowValue, reference: number | string | null): string;
}

export type Top = number | 'all';

const round = (x: number, digits = 6) => Number(x.toFixed(digits));
/** base_value to 9 decimals; a model's base value rarely changes, so the last one is remembered */
let lastBase = NaN;
let lastBaseRounded = NaN;
function roundedBase(x: number): number {
  if (x !== lastBase) {
    lastBase = x;
    lastBaseRounded = round(x, 9);
  }
  return lastBaseRounded;
}

/**
 * Family sub-scores (0-100, higher is healthier): 100 * sigmoid(-sum of the family's contributions).
 * A family that neither raises nor lowers the risk scores 50.
 */
const familySlots = new WeakMap<string[], Int8Array>();
/** scratch sums (synchronous use only: no allocation per score) */
const familySums = new Float64Array(FAMILIES.length);

// Hot-path helpers are module-level functions: tsx (esbuild keepNames) renames every named closure
// with Object.defineProperty, which costs more than the arithmetic inside.
function familyScore(sum: number): number {
  return Math.round(100 / (1 + Math.exp(sum)));
}

export function familyComponents(families: string[], contributions: ArrayLike<number>): Score['components'] {
  let slots = familySlots.get(families);
  if (!slots) familySlots.set(families, (slots = Int8Array.from(families, (f) => (FAMILIES as readonly string[]).indexOf(f))));
  const sums = familySums.fill(0);
  for (let i = 0; i < slots.length; i++) if (slots[i] >= 0) sums[slots[i]] += contributions[i];
  return {
    engagement: familyScore(sums[0]), usage: familyScore(sums[1]), adoption: familyScore(sums[2]),
    support: familyScore(sums[3]), commercial: familyScore(sums[4]), sentiment: familyScore(sums[5]),
  };
}

export interface BuildScoreInput {
  model: ServingModel;
  config: ServingConfig;
  accountId: string;
  asOf: string;
  row: Record<string, RowValue>;
  segment: SegmentInfo;
  top: Top;
}

/** scratch |values| of the indices topIndices keeps (synchronous use only) */
let bestAbs = new Float64Array(16);

/** Indices of the `n` largest |values|, largest first (partial selection when n is small). */
export function topIndices(values: ArrayLike<number>, n: number): number[] {
  const len = values.length;
  if (n * 4 >= len) {
    const all = Array.from({ length: len }, (_, i) => i);
    all.sort((a, b) => Math.abs(values[b]) - Math.abs(values[a]) || a - b);
    return all.slice(0, n);
  }
  // one pass keeping the n best so far, largest first: a value enters only when strictly larger than
  // the last kept one (an equal later one loses the tie), and moves up past strictly smaller ones
  if (bestAbs.length < n) bestAbs = new Float64Array(n);
  const best = bestAbs;
  const out: number[] = [];
  let count = 0;
  for (let i = 0; i < len; i++) {
    const a = Math.abs(values[i]);
    if (count === n ? !(a > best[n - 1]) : a !== a) continue; // full and not larger, or NaN
    let j = count === n ? n - 1 : count++;
    while (j > 0 && best[j - 1] < a) {
      best[j] = best[j - 1];
      out[j] = out[j - 1];
      j--;
    }
    best[j] = a;
    out[j] = i;
  }
  return out;
}
const featureSets = new WeakMap<ServingModel, Set<string>>();

/** Turns one scorer output into the public score shape (drivers largest |contribution| first). */
export function buildScore({ model, config, accountId, asOf, row, segment, top }: BuildScoreInput): Score {
  const out = model.score(row);
  const seg = resolveSegment(config, segment);
  const health = healthFromProbability(out.probability, config.health, model.baseRate);
  const { tier } = tierOf(health, seg.tiers);
  const n = top === 'all' ? model.featureNames.length : Math.min(top, model.featureNames.length);
  const drivers: Driver[] = [];
  for (const i of topIndices(out.contributions, n)) {
    const value = row[model.featureNames[i]] ?? null;
    const c = out.contributions[i];
    drivers.push({
      feature: model.featureNames[i],
      family: model.families[i],
      value,
      reference: model.references[i] ?? null,
      contribution: c,
      direction: c > 0 ? 'raises_risk' : c < 0 ? 'lowers_risk' : 'neutral',
      description: model.describe(i, value, model.references[i] ?? null),
    });
  }
  let known = featureSets.get(model);
  if (!known) featureSets.set(model, (known = new Set(model.featureNames)));
  const has = known;
  return {
    account_id: accountId,
    as_of: asOf,
    model_version: model.version,
    feature_set_version: model.featureSetVersion,
    segment: seg.name,
    churn_probability: out.probability,
    health_score: health,
    tier: tier.name,
    recommended_action: tier.recommended_action,
    scorecard_score: scorecardScore((f) => (has.has(f) ? row[f] ?? null : undefined), config.scorecard.metrics, seg.weights),
    components: familyComponents(model.families, out.contributions),
    base_value: roundedBase(out.baseValue),
    drivers,
  };
}
