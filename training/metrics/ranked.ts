/**
 * Shared groundwork for the pure metrics: input checks, the one sort (riskiest first, stable), and the
 * tie groups every ranking metric walks. Sorting once lets evaluation and bootstrap resamples reuse it.
 */
import { ChurnError } from '../../core/errors.ts';

/** Labels (0/1) and scores, already checked, plus the riskiest-first order and its tie groups. */
export interface Ranked {
  y: Float64Array;
  p: Float64Array;
  n: number;
  positives: number;
  /** row indices, highest score first; equal scores keep their input order (stable) */
  order: Uint32Array;
  /** for each tie group g: order positions [groupStart[g], groupStart[g + 1]) share one score */
  groupStart: Uint32Array;
  groups: number;
}

/** Checks lengths, labels (exactly 0 or 1) and scores (finite; within [0, 1] when `probabilities`). */
export function checkInputs(y: ArrayLike<number>, p: ArrayLike<number>, probabilities = false): void {
  if (y.length !== p.length) {
    throw new ChurnError('CHURN_ERR_VALIDATION', `labels and scores differ in length (${y.length} vs ${p.length})`);
  }
  if (y.length === 0) throw new ChurnError('CHURN_ERR_NOT_ENOUGH_DATA', 'no rows to evaluate');
  for (let i = 0; i < y.length; i++) {
    if (y[i] !== 0 && y[i] !== 1) throw new ChurnError('CHURN_ERR_VALIDATION', `label at row ${i} is ${y[i]}, expected 0 or 1`);
    const v = p[i];
    if (!Number.isFinite(v)) throw new ChurnError('CHURN_ERR_VALIDATION', `score at row ${i} is not a finite number`);
    if (probabilities && (v < 0 || v > 1)) {
      throw new ChurnError('CHURN_ERR_VALIDATION', `probability at row ${i} is ${v}, outside [0, 1]`);
    }
  }
}

/** Throws CHURN_ERR_NOT_ENOUGH_DATA unless both classes are present. */
export function requireBothClasses(positives: number, n: number, what: string): void {
  if (positives === 0 || positives === n) {
    const only = positives === 0 ? 'no churners' : 'only churners';
    throw new ChurnError('CHURN_ERR_NOT_ENOUGH_DATA', `${what} needs both churners and retained accounts; the ${n} rows contain ${only}`);
  }
}

/** Validates and sorts once: riskiest first, ties in input order. */
export function rank(y: ArrayLike<number>, p: ArrayLike<number>, probabilities = false): Ranked {
  checkInputs(y, p, probabilities);
  const n = y.length;
  const yy = Float64Array.from(y);
  const pp = Float64Array.from(p);
  let positives = 0;
  for (let i = 0; i < n; i++) positives += yy[i];
  const order = new Uint32Array(n);
  for (let i = 0; i < n; i++) order[i] = i;
  order.sort((a, b) => pp[b] - pp[a] || a - b);
  const starts: number[] = [0];
  for (let k = 1; k < n; k++) if (pp[order[k]] !== pp[order[k - 1]]) starts.push(k);
  const groups = starts.length;
  starts.push(n);
  return { y: yy, p: pp, n, positives, order, groupStart: Uint32Array.from(starts), groups };
}

/** Python's `round` (half to even), so top-k sizes agree with the peer baselines. */
export function roundHalfEven(x: number): number {
  const f = Math.floor(x);
  const d = x - f;
  if (d > 0.5) return f + 1;
  if (d < 0.5) return f;
  return f % 2 === 0 ? f : f + 1;
}

/** Number of rows in the top `share` of `n`: round-half-even, at least one. */
export function topCount(n: number, share: number): number {
  if (!(share > 0 && share <= 1)) throw new ChurnError('CHURN_ERR_VALIDATION', `share must be in (0, 1], got ${share}`);
  return Math.max(1, roundHalfEven(n * share));
}

/** Evenly spaced indices into `length` items, always keeping the first and last. */
export function sampleIndices(length: number, maxPoints: number): number[] {
  if (length <= maxPoints) return Array.from({ length }, (_, i) => i);
  const out: number[] = [];
  for (let j = 0; j < maxPoints; j++) out.push(Math.round((j * (length - 1)) / (maxPoints - 1)));
  return out;
}
