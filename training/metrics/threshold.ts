/**
 * The operating point: a confusion matrix at a threshold (a row is flagged when p >= threshold), and
 * the rules that choose the threshold.
 */
import { ChurnError } from '../../core/errors.ts';
import { rank, requireBothClasses, topCount, type Ranked } from './ranked.ts';

export interface Confusion {
  threshold: number;
  tp: number;
  fp: number;
  tn: number;
  fn: number;
  /** 0 when nothing is flagged */
  precision: number;
  recall: number;
  f1: number;
}

/**
 * How to pick the operating threshold:
 * - `max_f1`: the distinct score that maximises F1 (the highest such score on a tie);
 * - `top_share`: the score of the row at position round-half-even(n x share) riskiest first, so about
 *   that share of accounts is flagged (more when scores tie at the cut);
 * - `fixed`: the given value.
 */
export type ThresholdRule = { method: 'max_f1' } | { method: 'top_share'; share: number } | { method: 'fixed'; threshold: number };

export function confusionAt(y: ArrayLike<number>, p: ArrayLike<number>, threshold: number): Confusion {
  const r = rank(y, p);
  return confusionRanked(r, threshold);
}

export function confusionRanked(r: Ranked, threshold: number): Confusion {
  if (!Number.isFinite(threshold)) throw new ChurnError('CHURN_ERR_VALIDATION', 'threshold must be a finite number');
  let tp = 0;
  let fp = 0;
  for (let i = 0; i < r.n; i++) {
    if (r.p[i] >= threshold) {
      if (r.y[i] === 1) tp++;
      else fp++;
    }
  }
  return confusionFromCounts(threshold, tp, fp, r.positives, r.n);
}

function confusionFromCounts(threshold: number, tp: number, fp: number, positives: number, n: number): Confusion {
  const fn = positives - tp;
  const tn = n - positives - fp;
  const precision = tp + fp > 0 ? tp / (tp + fp) : 0;
  const recall = positives > 0 ? tp / positives : 0;
  const f1 = precision + recall > 0 ? (2 * precision * recall) / (precision + recall) : 0;
  return { threshold, tp, fp, tn, fn, precision, recall, f1 };
}

export function chooseThresholdRanked(r: Ranked, rule: ThresholdRule = { method: 'max_f1' }): number {
  if (rule.method === 'fixed') return rule.threshold;
  if (rule.method === 'top_share') {
    const k = topCount(r.n, rule.share);
    return r.p[r.order[k - 1]];
  }
  requireBothClasses(r.positives, r.n, 'choosing a threshold by F1');
  let tp = 0;
  let fp = 0;
  let best = -1;
  let bestThreshold = r.p[r.order[0]];
  for (let g = 0; g < r.groups; g++) {
    for (let k = r.groupStart[g]; k < r.groupStart[g + 1]; k++) {
      if (r.y[r.order[k]] === 1) tp++;
      else fp++;
    }
    const f1 = confusionFromCounts(0, tp, fp, r.positives, r.n).f1;
    if (f1 > best) {
      best = f1;
      bestThreshold = r.p[r.order[r.groupStart[g]]];
    }
  }
  return bestThreshold;
}

/** The threshold chosen by `rule` (default: maximise F1); see ThresholdRule. */
export function chooseThreshold(y: ArrayLike<number>, p: ArrayLike<number>, rule: ThresholdRule = { method: 'max_f1' }): number {
  return chooseThresholdRanked(rank(y, p), rule);
}
