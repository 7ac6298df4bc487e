/**
 * The report's one definition of "the riskiest k%": rows ranked riskiest first (ties in input order,
 * as training/metrics/ranked.ts ranks them) and cut at the top counts capture and lift use
 * (round-half-even of n x share, at least one). Decile d holds ranks topCount(n, (d-1)/10) to
 * topCount(n, d/10), so the riskiest 10% of the headline is exactly decile 1 of the chart and table,
 * the riskiest 20% deciles 1 and 2, and both equal the registry's capture10 and capture20.
 * Also the calibration bins: equal-count groups by predicted risk (quantile bins).
 */
import type { EvaluationReport } from '../../training/evaluate.ts';
import { rank, topCount } from '../../training/metrics/ranked.ts';
import { decileTable } from '../../training/metrics/ranking.ts';

export type DecileRow = EvaluationReport['deciles'][number];

/** Rank position where decile `d` (1..10) ends (exclusive). */
function decileEnd(n: number, d: number): number {
  return d >= 10 ? n : Math.min(n, topCount(n, d / 10));
}

/** The ten risk deciles of labels `y` and probabilities `p`, riskiest first. */
export function riskDeciles(y: ArrayLike<number>, p: ArrayLike<number>): DecileRow[] {
  const r = rank(y, p, true);
  return decileTable(r, (d) => decileEnd(r.n, d));
}

/** Row indices of the riskiest `tenths` tenths (1: the riskiest 10%), riskiest first. */
export function riskiestRows(y: ArrayLike<number>, p: ArrayLike<number>, tenths: number): number[] {
  const r = rank(y, p, true);
  return Array.from(r.order.subarray(0, decileEnd(r.n, tenths)));
}

/** Accounts, churners and share of all churners in the riskiest `tenths` tenths of a decile table. */
export function riskiest(deciles: DecileRow[], tenths: number): { accounts: number; churners: number; capture: number; lift: number } {
  const rows = deciles.slice(0, tenths);
  const accounts = rows.reduce((s, d) => s + d.n, 0);
  const last = rows[rows.length - 1];
  const total = deciles.reduce((s, d) => s + d.n, 0);
  const positives = deciles[deciles.length - 1].cumulativeChurners;
  const rate = positives / total;
  return { accounts, churners: last.cumulativeChurners, capture: last.cumulativeCapture, lift: accounts && rate ? last.cumulativeChurners / accounts / rate : 0 };
}

/**
 * An evaluation report whose deciles are the report's, and whose capture and lift at 10% and 20% are
 * read from them (the same numbers evaluate() computes, by construction from the one table).
 */
export function withRiskDeciles(m: EvaluationReport, y: ArrayLike<number>, p: ArrayLike<number>): EvaluationReport {
  const deciles = riskDeciles(y, p);
  const top10 = riskiest(deciles, 1);
  const top20 = riskiest(deciles, 2);
  return { ...m, deciles, capture10: top10.capture, capture20: top20.capture, lift10: top10.lift, lift20: top20.lift };
}

export interface CalibrationBin {
  bin: number;
  n: number;
  /** lowest and highest predicted probability in the bin */
  lower: number;
  upper: number;
  meanPredicted: number;
  observedRate: number;
}

/**
 * How many calibration bins the rows support: each bin holds at least `minRows` rows and, on
 * average, `minChurners` churners; between 2 and 10 bins.
 */
export function calibrationBinCount(n: number, positives: number, minRows = 100, minChurners = 5): number {
  return Math.max(2, Math.min(10, Math.floor(n / minRows), Math.floor(positives / minChurners)));
}

/** Equal-count bins by predicted probability (lowest risk first; ties in input order). */
export function quantileCalibration(y: ArrayLike<number>, p: ArrayLike<number>, bins?: number): CalibrationBin[] {
  const r = rank(y, p, true);
  const count = Math.min(r.n, bins ?? calibrationBinCount(r.n, r.positives));
  const out: CalibrationBin[] = [];
  for (let b = 0; b < count; b++) {
    // ascending risk: the riskiest-first order read from its end
    const from = Math.floor((b * r.n) / count);
    const to = Math.floor(((b + 1) * r.n) / count);
    let sumP = 0;
    let sumY = 0;
    let lower = Infinity;
    let upper = -Infinity;
    for (let k = from; k < to; k++) {
      const i = r.order[r.n - 1 - k];
      sumP += r.p[i];
      sumY += r.y[i];
      lower = Math.min(lower, r.p[i]);
      upper = Math.max(upper, r.p[i]);
    }
    const n = to - from;
    out.push({ bin: b + 1, n, lower, upper, meanPredicted: sumP / n, observedRate: sumY / n });
  }
  return out;
}
