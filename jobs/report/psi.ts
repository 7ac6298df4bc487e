/**
 * Population stability index between a reference sample (training data) and a new one (the latest
 * snapshot): PSI = sum over bins of (actual share - expected share) x ln(actual share / expected share).
 * Numeric values use quantile bins of the reference sample; text values use the reference's
 * categories (plus one bin for anything new); missing values always form their own bin.
 */
import { ChurnError } from '../../core/errors.ts';

export type DriftStatus = 'ok' | 'warn' | 'alert';
export type FeatureValue = number | string | null;

/** Replaces an empty bin's share so the logarithm stays finite. */
export const PSI_EPSILON = 1e-4;

/** ok below 0.1, warn below 0.25, alert from 0.25. */
export function psiStatus(value: number): DriftStatus {
  return value < 0.1 ? 'ok' : value < 0.25 ? 'warn' : 'alert';
}

/** Distinct cut points at the 1/bins .. (bins-1)/bins quantiles (linear interpolation) of sorted values. */
export function quantileCuts(sorted: number[], bins: number): number[] {
  const cuts: number[] = [];
  for (let i = 1; i < bins; i++) {
    const pos = ((sorted.length - 1) * i) / bins;
    const lo = Math.floor(pos);
    const v = sorted[lo] + (sorted[Math.ceil(pos)] - sorted[lo]) * (pos - lo);
    if (!cuts.length || v > cuts[cuts.length - 1]) cuts.push(v);
  }
  return cuts;
}

/** Bin of a numeric value: bins are (-inf, c1], (c1, c2], ..., (c_last, inf). */
function numericBin(v: number, cuts: number[]): number {
  let lo = 0;
  let hi = cuts.length;
  while (lo < hi) {
    const mid = (lo + hi) >> 1;
    if (v <= cuts[mid]) hi = mid;
    else lo = mid + 1;
  }
  return lo;
}

function isMissing(v: FeatureValue): v is null {
  return v === null || (typeof v === 'number' && Number.isNaN(v));
}

/** Returns a function mapping a value to its bin index, and the number of bins (last one = missing). */
function binner(expected: FeatureValue[], bins: number): { binOf: (v: FeatureValue) => number; count: number } {
  const present = expected.filter((v) => !isMissing(v));
  if (present.some((v) => typeof v === 'string')) {
    const categories = [...new Set(present.map(String))].sort();
    const index = new Map(categories.map((c, i) => [c, i]));
    const other = categories.length;
    return { binOf: (v) => (isMissing(v) ? other + 1 : (index.get(String(v)) ?? other)), count: other + 2 };
  }
  const cuts = quantileCuts((present as number[]).slice().sort((a, b) => a - b), bins);
  const missing = cuts.length + 1;
  return {
    binOf: (v) => {
      if (isMissing(v)) return missing;
      if (typeof v !== 'number') throw new ChurnError('CHURN_ERR_VALIDATION', `text value ${JSON.stringify(v)} in a numeric feature`);
      return numericBin(v, cuts);
    },
    count: missing + 1,
  };
}

/** Shares of each bin, with empty bins raised to PSI_EPSILON. */
function shares(values: FeatureValue[], binOf: (v: FeatureValue) => number, count: number): number[] {
  const counts = new Array<number>(count).fill(0);
  for (const v of values) counts[binOf(v)]++;
  return counts.map((c) => Math.max(c / values.length, PSI_EPSILON));
}

/** PSI of `actual` against `expected` (both non-empty); 0 when the two samples bin identically. */
export function psi(expected: FeatureValue[], actual: FeatureValue[], bins = 10): number {
  if (!expected.length || !actual.length) throw new ChurnError('CHURN_ERR_NOT_ENOUGH_DATA', 'PSI needs values in both samples');
  if (!Number.isInteger(bins) || bins < 2) throw new ChurnError('CHURN_ERR_VALIDATION', `PSI bins must be an integer of at least 2, got ${bins}`);
  const { binOf, count } = binner(expected, bins);
  const e = shares(expected, binOf, count);
  const a = shares(actual, binOf, count);
  let total = 0;
  for (let i = 0; i < count; i++) if (e[i] !== a[i]) total += (a[i] - e[i]) * Math.log(a[i] / e[i]);
  return total;
}
