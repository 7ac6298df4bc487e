/**
 * Seeded percentile-bootstrap confidence intervals. Named metrics reuse the one sort: a resample is a
 * count per row (how often it was drawn), and the weighted metrics walk the original ranking.
 */
import { ChurnError, isChurnError } from '../../core/errors.ts';
import { rank, type Ranked } from './ranked.ts';
import { captureAtRanked, liftAtRanked, prAucRanked, rocAucRanked } from './ranking.ts';
import { mulberry32 } from '../../core/random.ts';

export type NamedMetric = 'auc' | 'prAuc' | 'lift10' | 'lift20' | 'capture10' | 'capture20' | 'brier';
export type MetricFn = (y: ArrayLike<number>, p: ArrayLike<number>) => number;

export interface ConfidenceInterval {
  estimate: number;
  lower: number;
  upper: number;
  alpha: number;
  /** resamples that produced a value (those with a single class are skipped) */
  resamples: number;
  skipped: number;
  seed: number;
}

export interface BootstrapOptions {
  /** number of resamples, default 200 */
  n?: number;
  /** PRNG seed, default 0 */
  seed?: number;
  /** two-sided; default 0.05 gives a 95% interval */
  alpha?: number;
}

export { mulberry32 };

function weightedBrier(r: Ranked, w: ArrayLike<number> | null): number {
  let s = 0;
  let total = 0;
  for (let i = 0; i < r.n; i++) {
    const wi = w ? w[i] : 1;
    s += wi * (r.p[i] - r.y[i]) ** 2;
    total += wi;
  }
  return s / total;
}

export const NAMED_METRICS: Record<NamedMetric, (r: Ranked, w: ArrayLike<number> | null) => number> = {
  auc: (r, w) => rocAucRanked(r, w),
  prAuc: (r, w) => prAucRanked(r, w),
  lift10: (r, w) => liftAtRanked(r, 0.1, w),
  lift20: (r, w) => liftAtRanked(r, 0.2, w),
  capture10: (r, w) => captureAtRanked(r, 0.1, w),
  capture20: (r, w) => captureAtRanked(r, 0.2, w),
  brier: (r, w) => weightedBrier(r, w),
};

/** numpy-style linear-interpolation quantile of sorted values. */
function quantile(sorted: number[], q: number): number {
  const pos = (sorted.length - 1) * q;
  const lo = Math.floor(pos);
  const hi = Math.ceil(pos);
  return sorted[lo] + (sorted[hi] - sorted[lo]) * (pos - lo);
}

function checkOptions(opts: BootstrapOptions): Required<BootstrapOptions> {
  const n = opts.n ?? 200;
  const seed = opts.seed ?? 0;
  const alpha = opts.alpha ?? 0.05;
  if (!Number.isInteger(n) || n < 1 || n > 100_000) throw new ChurnError('CHURN_ERR_VALIDATION', `bootstrap resamples must be an integer from 1 to 100000, got ${n}`);
  if (!Number.isInteger(seed)) throw new ChurnError('CHURN_ERR_VALIDATION', `bootstrap seed must be an integer, got ${seed}`);
  if (!(alpha > 0 && alpha < 1)) throw new ChurnError('CHURN_ERR_VALIDATION', `alpha must be in (0, 1), got ${alpha}`);
  return { n, seed, alpha };
}

/** One resample of counts.length rows with replacement: how often each row was drawn. */
function drawCounts(counts: Float64Array, random: () => number): void {
  counts.fill(0);
  for (let j = 0; j < counts.length; j++) counts[Math.floor(random() * counts.length)]++;
}

/** The metric of one resample, or null when the resample holds a single class (it is skipped). */
function unlessSingleClass(metric: () => number): number | null {
  try {
    return metric();
  } catch (err) {
    if (isChurnError(err) && err.code === 'CHURN_ERR_NOT_ENOUGH_DATA') return null;
    throw err;
  }
}

/** Intervals for several named metrics from the same resamples of an already ranked set. */
export function bootstrapRanked(r: Ranked, metrics: NamedMetric[], opts: BootstrapOptions = {}): Record<string, ConfidenceInterval> {
  const { n, seed, alpha } = checkOptions(opts);
  const random = mulberry32(seed);
  const values: number[][] = metrics.map(() => []);
  const skipped = metrics.map(() => 0);
  const counts = new Float64Array(r.n);
  for (let b = 0; b < n; b++) {
    drawCounts(counts, random);
    metrics.forEach((m, k) => {
      const v = unlessSingleClass(() => NAMED_METRICS[m](r, counts));
      if (v === null) skipped[k]++;
      else values[k].push(v);
    });
  }
  const out: Record<string, ConfidenceInterval> = {};
  metrics.forEach((m, k) => {
    out[m] = summarise(NAMED_METRICS[m](r, null), values[k], skipped[k], alpha, seed, m);
  });
  return out;
}

function summarise(estimate: number, values: number[], skipped: number, alpha: number, seed: number, what: string): ConfidenceInterval {
  if (values.length === 0) {
    throw new ChurnError('CHURN_ERR_NOT_ENOUGH_DATA', `every bootstrap resample for ${what} had a single class; too few churners or retained accounts`);
  }
  const sorted = values.sort((a, b) => a - b);
  return { estimate, lower: quantile(sorted, alpha / 2), upper: quantile(sorted, 1 - alpha / 2), alpha, resamples: values.length, skipped, seed };
}

/**
 * Paired percentile bootstrap of ROC AUC(a) - AUC(b) for two models' scores of the same rows: every
 * resample draws the rows once and scores both models on it, so what the rows have in common (which
 * churners are easy) cancels and the interval is much narrower than either model's own. `estimate` is
 * the difference on all rows. Deterministic for a given seed.
 */
export function bootstrapAucDifference(y: ArrayLike<number>, a: ArrayLike<number>, b: ArrayLike<number>, opts: BootstrapOptions = {}): ConfidenceInterval {
  const { n, seed, alpha } = checkOptions(opts);
  const ra = rank(y, a);
  const rb = rank(y, b);
  const random = mulberry32(seed);
  const counts = new Float64Array(ra.n);
  const values: number[] = [];
  let skipped = 0;
  for (let k = 0; k < n; k++) {
    drawCounts(counts, random);
    const v = unlessSingleClass(() => rocAucRanked(ra, counts) - rocAucRanked(rb, counts));
    if (v === null) skipped++;
    else values.push(v);
  }
  return summarise(rocAucRanked(ra) - rocAucRanked(rb), values, skipped, alpha, seed, 'the AUC difference');
}

/**
 * Percentile bootstrap interval for `metric`: a named metric (fast path, one sort) or any function of
 * (y, p) (each resample materialised). Deterministic for a given seed.
 */
export function bootstrapCi(y: ArrayLike<number>, p: ArrayLike<number>, metric: NamedMetric | MetricFn, opts: BootstrapOptions = {}): ConfidenceInterval {
  if (typeof metric === 'string') return bootstrapRanked(rank(y, p), [metric], opts)[metric];
  const { n, seed, alpha } = checkOptions(opts);
  const estimate = metric(y, p);
  const random = mulberry32(seed);
  const rows = y.length;
  const ys = new Float64Array(rows);
  const ps = new Float64Array(rows);
  const values: number[] = [];
  let skipped = 0;
  for (let b = 0; b < n; b++) {
    for (let j = 0; j < rows; j++) {
      const i = Math.floor(random() * rows);
      ys[j] = y[i];
      ps[j] = p[i];
    }
    const v = unlessSingleClass(() => metric(ys, ps));
    if (v === null) skipped++;
    else values.push(v);
  }
  return summarise(estimate, values, skipped, alpha, seed, 'the metric');
}
