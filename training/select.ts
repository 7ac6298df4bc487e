import { isChurnError } from '../core/errors.ts';
import { rocAuc } from './evaluate.ts';
import { createRng } from './models/network.ts';

export interface Scored<T extends string> {
  modelType: T;
  /** validation log-odds, aligned with the validation labels */
  validLogits: Float64Array;
  validAuc: number;
}

export interface Choice<T extends string> {
  chosen: T;
  /** the paired bootstrap standard error of each candidate's AUC gain over the simpler choice before it */
  reasons: string[];
}

/** Paired bootstrap standard error of AUC(a) - AUC(b) on the same rows. */
export function aucDifferenceSe(y: ArrayLike<number>, a: ArrayLike<number>, b: ArrayLike<number>, resamples = 200, seed = 0): number {
  const rng = createRng(seed);
  const n = y.length;
  const ys = new Float64Array(n);
  const as = new Float64Array(n);
  const bs = new Float64Array(n);
  const diffs: number[] = [];
  for (let r = 0; r < resamples; r++) {
    for (let j = 0; j < n; j++) {
      const i = Math.floor(rng() * n);
      ys[j] = y[i];
      as[j] = a[i];
      bs[j] = b[i];
    }
    try {
      diffs.push(rocAuc(ys, as) - rocAuc(ys, bs));
    } catch (err) {
      if (!isChurnError(err)) throw err; // a resample with one class: skip it
    }
  }
  const mean = diffs.reduce((s, v) => s + v, 0) / Math.max(1, diffs.length);
  return Math.sqrt(diffs.reduce((s, v) => s + (v - mean) ** 2, 0) / Math.max(1, diffs.length - 1));
}

/**
 * The one-standard-error rule on validation AUC: candidates are visited from simplest to most complex,
 * and a more complex one replaces the current choice only when its AUC gain exceeds the paired
 * bootstrap standard error of that gain (a gain within noise is not worth the complexity).
 */
export function chooseModel<T extends string>(candidates: Scored<T>[], y: ArrayLike<number>, seed: number): Choice<T> {
  let best = candidates[0];
  const reasons: string[] = [];
  for (const c of candidates.slice(1)) {
    const gain = c.validAuc - best.validAuc;
    const se = aucDifferenceSe(y, c.validLogits, best.validLogits, 200, seed);
    const wins = gain > se;
    reasons.push(`${c.modelType} vs ${best.modelType}: AUC gain ${gain.toFixed(4)} ${wins ? '>' : '<='} SE ${se.toFixed(4)}`);
    if (wins) best = c;
  }
  return { chosen: best.modelType, reasons };
}
