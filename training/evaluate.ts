/**
 * Pure model evaluation (no tensors): every accuracy number the registry stores and the report shows
 * comes from here. Inputs are labels (0/1) and churn probabilities; the rows are sorted once.
 * The metric definitions match bench/peers.py (scikit-learn's AUC and average
 * precision, stable top-decile lift, equal-width ECE with the last bin closed).
 */
import { z } from 'zod';
import { ChurnError } from '../core/errors.ts';
import { bootstrapRanked } from './metrics/bootstrap.ts';
import { eceFromTable, reliabilityTable } from './metrics/calibration.ts';
import { checkInputs, rank, requireBothClasses } from './metrics/ranked.ts';
import { captureAtRanked, liftAtRanked, liftByDecileRanked, prAucRanked, prCurveRanked, rocAucRanked, rocCurveRanked } from './metrics/ranking.ts';
import { chooseThresholdRanked, confusionRanked, type ThresholdRule } from './metrics/threshold.ts';

export { rocAuc, prAuc, liftAt, captureAt, rocCurve, prCurve, liftByDecile } from './metrics/ranking.ts';
export type { RocPoint, PrPoint, DecileRow } from './metrics/ranking.ts';
export { brier, ece, eceNoiseFloor, reliabilityTable } from './metrics/calibration.ts';
export type { ReliabilityBin } from './metrics/calibration.ts';
export { confusionAt, chooseThreshold } from './metrics/threshold.ts';
export type { Confusion, ThresholdRule } from './metrics/threshold.ts';
export { bootstrapAucDifference, bootstrapCi, mulberry32 } from './metrics/bootstrap.ts';
export type { ConfidenceInterval, BootstrapOptions, NamedMetric, MetricFn } from './metrics/bootstrap.ts';

const Probability = z.number().min(0).max(1);
const Count = z.number().int().nonnegative();

export const ConfidenceIntervalSchema = z.object({
  estimate: z.number(),
  lower: z.number(),
  upper: z.number(),
  alpha: z.number(),
  resamples: Count,
  skipped: Count,
  seed: z.number().int(),
});

export const GroupSummarySchema = z.object({ n: Count, churnRate: Probability, meanPredicted: Probability, auc: Probability.nullable() });
export type GroupSummary = z.infer<typeof GroupSummarySchema>;

/** Below this many churners, one account moves an evaluation's figures a long way: training and the report say so. */
export const MIN_CHURNERS = 10;

export const EvaluationReportSchema = z.object({
  n: Count,
  positives: Count,
  churnRate: Probability,
  auc: Probability,
  prAuc: Probability,
  /** churn rate among the riskiest 10% (20%) over the overall rate */
  lift10: z.number().nonnegative(),
  lift20: z.number().nonnegative(),
  /** share of all churners found among the riskiest 10% (20%) */
  capture10: Probability,
  capture20: Probability,
  brier: Probability,
  ece: Probability,
  /** bootstrap intervals, or null when evaluated with `bootstrap: 0` */
  ci: z.object({ auc: ConfidenceIntervalSchema, lift10: ConfidenceIntervalSchema }).nullable(),
  rocCurve: z.array(z.object({ fpr: Probability, tpr: Probability, threshold: z.number() })),
  prCurve: z.array(z.object({ recall: Probability, precision: Probability, threshold: z.number() })),
  reliability: z.array(z.object({
    bin: Count, lower: Probability, upper: Probability, count: Count,
    meanPredicted: Probability.nullable(), observedRate: Probability.nullable(),
  })),
  deciles: z.array(z.object({
    decile: z.number().int().min(1).max(10), n: Count, churners: Count, churnRate: Probability, lift: z.number().nonnegative(),
    meanPredicted: Probability, cumulativeChurners: Count, cumulativeCapture: Probability, cumulativeShare: Probability,
  })),
  operatingPoint: z.object({
    method: z.enum(['max_f1', 'top_share', 'fixed']),
    threshold: z.number(), tp: Count, fp: Count, tn: Count, fn: Count,
    precision: Probability, recall: Probability, f1: Probability,
  }),
  /** per segment: rows, churn rate, mean predicted probability, AUC (null when the segment has a single class) */
  perSegment: z.record(z.string(), GroupSummarySchema),
});

export type EvaluationReport = z.infer<typeof EvaluationReportSchema>;

export interface EvaluateOptions {
  /** one segment label per row (plan, region, ...); adds `perSegment` entries */
  segments?: ArrayLike<string>;
  /** operating threshold: a number, or a rule (default: maximise F1) */
  threshold?: number | ThresholdRule;
  /** bootstrap resamples for the AUC and lift@10% intervals; default 200, 0 turns them off */
  bootstrap?: number;
  seed?: number;
  /** calibration bins, default 10 */
  bins?: number;
  /** most points per chart curve, default 101 */
  curvePoints?: number;
}

/**
 * Per group (segment, tier, month): rows, churn rate, mean predicted probability and AUC (null when
 * the group has a single class). Groups are returned in sorted key order.
 */
export function summariseGroups(y: ArrayLike<number>, p: ArrayLike<number>, groups: ArrayLike<string>): EvaluationReport['perSegment'] {
  checkInputs(y, p, true);
  if (groups.length !== y.length) {
    throw new ChurnError('CHURN_ERR_VALIDATION', `group labels differ in length from labels (${groups.length} vs ${y.length})`);
  }
  const rows = new Map<string, number[]>();
  for (let i = 0; i < groups.length; i++) {
    const s = String(groups[i]);
    const list = rows.get(s);
    if (list) list.push(i);
    else rows.set(s, [i]);
  }
  const out: EvaluationReport['perSegment'] = {};
  for (const s of [...rows.keys()].sort()) {
    const idx = rows.get(s)!;
    const ys = idx.map((i) => y[i]);
    const ps = idx.map((i) => p[i]);
    const positives = ys.reduce((a, b) => a + b, 0);
    const both = positives > 0 && positives < idx.length;
    out[s] = {
      n: idx.length,
      churnRate: positives / idx.length,
      meanPredicted: ps.reduce((a, b) => a + b, 0) / idx.length,
      auc: both ? rocAucRanked(rank(ys, ps)) : null,
    };
  }
  return out;
}

/**
 * Every metric for one set of predictions. Throws CHURN_ERR_NOT_ENOUGH_DATA when the rows do not hold
 * both churners and retained accounts, CHURN_ERR_VALIDATION on malformed input.
 */
export function evaluate(y: ArrayLike<number>, p: ArrayLike<number>, opts: EvaluateOptions = {}): EvaluationReport {
  const r = rank(y, p, true);
  requireBothClasses(r.positives, r.n, 'evaluation');
  const bins = opts.bins ?? 10;
  const curvePoints = opts.curvePoints ?? 101;
  const rule: ThresholdRule = typeof opts.threshold === 'number' ? { method: 'fixed', threshold: opts.threshold } : (opts.threshold ?? { method: 'max_f1' });
  const threshold = chooseThresholdRanked(r, rule);
  const reliability = reliabilityTable(r.y, r.p, bins);
  const resamples = opts.bootstrap ?? 200;
  const ci = resamples > 0 ? bootstrapRanked(r, ['auc', 'lift10'], { n: resamples, seed: opts.seed ?? 0 }) : null;
  let sq = 0;
  for (let i = 0; i < r.n; i++) sq += (r.p[i] - r.y[i]) ** 2;
  return {
    n: r.n,
    positives: r.positives,
    churnRate: r.positives / r.n,
    auc: rocAucRanked(r),
    prAuc: prAucRanked(r),
    lift10: liftAtRanked(r, 0.1),
    lift20: liftAtRanked(r, 0.2),
    capture10: captureAtRanked(r, 0.1),
    capture20: captureAtRanked(r, 0.2),
    brier: sq / r.n,
    ece: eceFromTable(reliability, r.n),
    ci: ci ? { auc: ci.auc, lift10: ci.lift10 } : null,
    rocCurve: rocCurveRanked(r, curvePoints),
    prCurve: prCurveRanked(r, curvePoints),
    reliability,
    deciles: liftByDecileRanked(r),
    operatingPoint: { method: rule.method, ...confusionRanked(r, threshold) },
    perSegment: opts.segments ? summariseGroups(r.y, r.p, opts.segments) : {},
  };
}
