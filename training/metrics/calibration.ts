/**
 * Calibration metrics: Brier score, expected calibration error and the reliability table behind the
 * calibration plot. Bins are equal-width on [0, 1]; edges are i x (1 / bins) as numpy.linspace makes
 * them; each bin is [lower, upper) except the last, which is closed, as in bench/peers.py.
 */
import { ChurnError } from '../../core/errors.ts';
import { mulberry32 } from '../../core/random.ts';
import { checkInputs } from './ranked.ts';

export interface ReliabilityBin {
  bin: number;
  lower: number;
  upper: number;
  count: number;
  /** null for an empty bin */
  meanPredicted: number | null;
  observedRate: number | null;
}

/** Mean squared difference between probability and outcome. */
export function brier(y: ArrayLike<number>, p: ArrayLike<number>): number {
  checkInputs(y, p, true);
  let s = 0;
  for (let i = 0; i < y.length; i++) s += (p[i] - y[i]) ** 2;
  return s / y.length;
}

function binEdges(bins: number): number[] {
  if (!Number.isInteger(bins) || bins < 1 || bins > 1000) {
    throw new ChurnError('CHURN_ERR_VALIDATION', `bins must be an integer from 1 to 1000, got ${bins}`);
  }
  const step = 1 / bins;
  const edges = Array.from({ length: bins + 1 }, (_, i) => i * step);
  edges[bins] = 1;
  return edges;
}

/** Per equal-width bin: count, mean predicted probability and observed churn rate. */
export function reliabilityTable(y: ArrayLike<number>, p: ArrayLike<number>, bins = 10): ReliabilityBin[] {
  checkInputs(y, p, true);
  const edges = binEdges(bins);
  const count = new Float64Array(bins);
  const sumP = new Float64Array(bins);
  const sumY = new Float64Array(bins);
  for (let i = 0; i < y.length; i++) {
    const v = p[i];
    let b = Math.min(bins - 1, Math.floor(v * bins));
    while (b > 0 && v < edges[b]) b--;
    while (b < bins - 1 && v >= edges[b + 1]) b++;
    count[b]++;
    sumP[b] += v;
    sumY[b] += y[i];
  }
  return Array.from({ length: bins }, (_, b) => ({
    bin: b,
    lower: edges[b],
    upper: edges[b + 1],
    count: count[b],
    meanPredicted: count[b] ? sumP[b] / count[b] : null,
    observedRate: count[b] ? sumY[b] / count[b] : null,
  }));
}

/** Expected calibration error: bin-share-weighted mean |observed rate - mean predicted|. */
export function eceFromTable(table: ReliabilityBin[], n: number): number {
  let e = 0;
  for (const b of table) {
    if (b.count > 0 && b.meanPredicted !== null && b.observedRate !== null) {
      e += (b.count / n) * Math.abs(b.observedRate - b.meanPredicted);
    }
  }
  return e;
}

export function ece(y: ArrayLike<number>, p: ArrayLike<number>, bins = 10): number {
  return eceFromTable(reliabilityTable(y, p, bins), y.length);
}

/**
 * The ECE a perfectly calibrated model would show on these rows: outcomes drawn from the predicted
 * probabilities themselves, `draws` times. On a test set of a few thousand rows this is not near 0
 * (1,418 Telco test rows: about 0.023), so an observed ECE is read against it.
 */
export function eceNoiseFloor(p: ArrayLike<number>, draws = 200, seed = 0, bins = 10): { mean: number; p90: number } {
  const y = new Float64Array(p.length);
  checkInputs(y, p, true); // the probabilities, once (y is all 0s here)
  const rng = mulberry32(seed);
  const out = new Float64Array(draws);
  for (let k = 0; k < draws; k++) {
    for (let i = 0; i < p.length; i++) y[i] = rng() < p[i] ? 1 : 0;
    out[k] = ece(y, p, bins);
  }
  out.sort();
  return { mean: out.reduce((s, v) => s + v, 0) / draws, p90: out[Math.min(draws - 1, Math.floor(0.9 * draws))] };
}
