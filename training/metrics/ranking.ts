/**
 * Ranking metrics on a riskiest-first order: ROC AUC (Mann-Whitney, ties count one half), average
 * precision (scikit-learn's definition), lift and capture in the top share, curves and deciles.
 * The `*Ranked` functions take optional per-row weights (bootstrap resample counts) so resamples
 * reuse the one sort.
 */
import { rank, requireBothClasses, sampleIndices, topCount, type Ranked } from './ranked.ts';

type Weights = ArrayLike<number> | null;

function classTotals(r: Ranked, w: Weights): { pos: number; neg: number; total: number } {
  if (!w) return { pos: r.positives, neg: r.n - r.positives, total: r.n };
  let pos = 0;
  let total = 0;
  for (let i = 0; i < r.n; i++) {
    pos += w[i] * r.y[i];
    total += w[i];
  }
  return { pos, neg: total - pos, total };
}

/** ROC AUC: the chance a random churner outranks a random retained account; ties count one half. */
export function rocAucRanked(r: Ranked, w: Weights = null): number {
  const { pos, neg, total } = classTotals(r, w);
  requireBothClasses(pos, total, 'ROC AUC');
  let negAbove = 0;
  let sum = 0;
  for (let g = 0; g < r.groups; g++) {
    let gp = 0;
    let gn = 0;
    for (let k = r.groupStart[g]; k < r.groupStart[g + 1]; k++) {
      const i = r.order[k];
      const wi = w ? w[i] : 1;
      if (r.y[i] === 1) gp += wi;
      else gn += wi;
    }
    // negatives strictly below this group, plus half of the tied ones
    sum += gp * (neg - negAbove - gn + gn / 2);
    negAbove += gn;
  }
  return sum / (pos * neg);
}

/** Average precision: sum over distinct thresholds of (recall step) x precision, as scikit-learn. */
export function prAucRanked(r: Ranked, w: Weights = null): number {
  const { pos, total } = classTotals(r, w);
  requireBothClasses(pos, total, 'average precision');
  let tp = 0;
  let fp = 0;
  let ap = 0;
  for (let g = 0; g < r.groups; g++) {
    let gp = 0;
    for (let k = r.groupStart[g]; k < r.groupStart[g + 1]; k++) {
      const i = r.order[k];
      const wi = w ? w[i] : 1;
      if (r.y[i] === 1) gp += wi;
      else fp += wi;
    }
    tp += gp;
    if (gp > 0) ap += (gp / pos) * (tp / (tp + fp));
  }
  return ap;
}

/** Churners among the top `share` of rows (by rank order; ties broken by input order). */
function churnersInTop(r: Ranked, share: number, w: Weights): { k: number; caught: number; pos: number; total: number } {
  const { pos, total } = classTotals(r, w);
  const k = topCount(total, share);
  let taken = 0;
  let caught = 0;
  for (let j = 0; j < r.n && taken < k; j++) {
    const i = r.order[j];
    const take = Math.min(w ? w[i] : 1, k - taken);
    taken += take;
    caught += take * r.y[i];
  }
  return { k, caught, pos, total };
}

/** Lift: churn rate among the riskiest `share` of rows over the overall churn rate. */
export function liftAtRanked(r: Ranked, share = 0.1, w: Weights = null): number {
  const { k, caught, pos, total } = churnersInTop(r, share, w);
  if (pos === 0) requireBothClasses(0, total, 'lift');
  return caught / k / (pos / total);
}

/** Capture (cumulative gain): the share of all churners found among the riskiest `share` of rows. */
export function captureAtRanked(r: Ranked, share = 0.1, w: Weights = null): number {
  const { caught, pos, total } = churnersInTop(r, share, w);
  if (pos === 0) requireBothClasses(0, total, 'capture');
  return caught / pos;
}

export function rocAuc(y: ArrayLike<number>, p: ArrayLike<number>): number {
  return rocAucRanked(rank(y, p));
}

export function prAuc(y: ArrayLike<number>, p: ArrayLike<number>): number {
  return prAucRanked(rank(y, p));
}

/** Churn rate in the top `share` by p over the overall rate; top size is round-half-even(n x share), at least 1. */
export function liftAt(y: ArrayLike<number>, p: ArrayLike<number>, share = 0.1): number {
  return liftAtRanked(rank(y, p), share);
}

export function captureAt(y: ArrayLike<number>, p: ArrayLike<number>, share = 0.1): number {
  return captureAtRanked(rank(y, p), share);
}

export interface RocPoint { fpr: number; tpr: number; threshold: number }
export interface PrPoint { recall: number; precision: number; threshold: number }

/** Cumulative counts at the end of each tie group (one point per distinct threshold). */
function thresholdSteps(r: Ranked): { tp: number; fp: number; threshold: number }[] {
  const steps: { tp: number; fp: number; threshold: number }[] = [];
  let tp = 0;
  let fp = 0;
  for (let g = 0; g < r.groups; g++) {
    for (let k = r.groupStart[g]; k < r.groupStart[g + 1]; k++) {
      if (r.y[r.order[k]] === 1) tp++;
      else fp++;
    }
    steps.push({ tp, fp, threshold: r.p[r.order[r.groupStart[g]]] });
  }
  return steps;
}

/** ROC curve from (0, 0) to (1, 1), down-sampled to at most `maxPoints` points for charts. */
export function rocCurveRanked(r: Ranked, maxPoints = 101): RocPoint[] {
  requireBothClasses(r.positives, r.n, 'ROC curve');
  const neg = r.n - r.positives;
  const steps = thresholdSteps(r);
  const all: RocPoint[] = [{ fpr: 0, tpr: 0, threshold: 1 }];
  for (const s of steps) all.push({ fpr: s.fp / neg, tpr: s.tp / r.positives, threshold: s.threshold });
  return sampleIndices(all.length, maxPoints).map((i) => all[i]);
}

/** Precision-recall curve, one point per distinct threshold (recall rising), down-sampled for charts. */
export function prCurveRanked(r: Ranked, maxPoints = 101): PrPoint[] {
  requireBothClasses(r.positives, r.n, 'precision-recall curve');
  const all = thresholdSteps(r).map((s) => ({ recall: s.tp / r.positives, precision: s.tp / (s.tp + s.fp), threshold: s.threshold }));
  return sampleIndices(all.length, maxPoints).map((i) => all[i]);
}

export function rocCurve(y: ArrayLike<number>, p: ArrayLike<number>, maxPoints = 101): RocPoint[] {
  return rocCurveRanked(rank(y, p), maxPoints);
}

export function prCurve(y: ArrayLike<number>, p: ArrayLike<number>, maxPoints = 101): PrPoint[] {
  return prCurveRanked(rank(y, p), maxPoints);
}

export interface DecileRow {
  /** 1 = riskiest tenth */
  decile: number;
  n: number;
  churners: number;
  churnRate: number;
  /** churn rate in this decile over the overall rate */
  lift: number;
  meanPredicted: number;
  cumulativeChurners: number;
  /** cumulative gains: share of all churners caught by this decile and the riskier ones */
  cumulativeCapture: number;
  /** share of all accounts in this decile and the riskier ones */
  cumulativeShare: number;
}

/**
 * The ten risk deciles of ranked rows, riskiest first: decile d (1..10) holds rank positions from the
 * previous decile's end to `end(d)` (never before it). Rows without churners give zero lift and capture.
 */
export function decileTable(r: Ranked, end: (d: number) => number): DecileRow[] {
  const rate = r.positives / r.n;
  const rows: DecileRow[] = [];
  let cumulative = 0;
  let from = 0;
  for (let d = 1; d <= 10; d++) {
    const to = Math.max(from, end(d));
    let churners = 0;
    let sumP = 0;
    for (let k = from; k < to; k++) {
      churners += r.y[r.order[k]];
      sumP += r.p[r.order[k]];
    }
    const n = to - from;
    cumulative += churners;
    rows.push({
      decile: d, n, churners,
      churnRate: n ? churners / n : 0,
      lift: n && rate ? churners / n / rate : 0,
      meanPredicted: n ? sumP / n : 0,
      cumulativeChurners: cumulative,
      cumulativeCapture: r.positives ? cumulative / r.positives : 0,
      cumulativeShare: to / r.n,
    });
    from = to;
  }
  return rows;
}

/**
 * Ten equal-count groups riskiest first (positions floor((d - 1) n / 10) to floor(d n / 10); ties at a
 * boundary split by input order). Needs at least one churner.
 */
export function liftByDecileRanked(r: Ranked): DecileRow[] {
  if (r.positives === 0) requireBothClasses(0, r.n, 'lift by decile');
  return decileTable(r, (d) => Math.floor((d * r.n) / 10));
}

export function liftByDecile(y: ArrayLike<number>, p: ArrayLike<number>): DecileRow[] {
  return liftByDecileRanked(rank(y, p));
}
