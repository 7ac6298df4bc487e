/**
 * The report's plain-words summary for leadership. Every "riskiest k%" figure is read from the decile
 * table (./ranking.ts), so the sentences, the decile chart and the decile table count the same rows.
 */
import { previousRole, type ReportData } from './data.ts';
import { riskiest } from './ranking.ts';

const pct = (v: number): string => `${Math.round(v * 100)}%`;
const count = (v: number): string => v.toLocaleString('en-US');

/** Share of churners in the riskiest `tenths` tenths of accounts, by each compared ranking. */
export function capturedBy(data: ReportData, tenths: 1 | 2): { model: number; previous: number | null; scorecard: number | null } {
  return {
    model: riskiest(data.metrics.deciles, tenths).capture,
    previous: data.previous ? riskiest(data.previous.metrics.deciles, tenths).capture : null,
    scorecard: data.scorecard ? riskiest(data.scorecard.deciles, tenths).capture : null,
  };
}

function comparisons(c: { previous: number | null; scorecard: number | null }, data: ReportData, withVersion: boolean): string[] {
  const parts: string[] = [];
  if (c.scorecard !== null) parts.push(`${pct(c.scorecard)} for the weighted scorecard`);
  const role = data.model.promotedAt ? 'previous model' : previousRole(data);
  if (c.previous !== null) parts.push(`${pct(c.previous)} for the ${role}${withVersion ? ` (v${data.previous!.version})` : ''}`);
  return parts;
}

/** One to four short sentences a VP can read in under a minute. */
export function headlineSentences(data: ReportData): string[] {
  const m = data.metrics;
  const out: string[] = [];
  const top10 = riskiest(m.deciles, 1);
  const vs10 = comparisons(capturedBy(data, 1), data, true);
  out.push(`The model's riskiest 10% of accounts (${count(top10.accounts)} of ${count(m.n)}) contain ${pct(top10.capture)} of the customers who churned `
    + `(${count(top10.churners)} of ${count(m.positives)})` + (vs10.length ? `, against ${vs10.join(' and ')}.` : '.'));
  const top20 = riskiest(m.deciles, 2);
  const vs20 = comparisons(capturedBy(data, 2), data, false);
  out.push(`Its riskiest 20% contain ${pct(top20.capture)}` + (vs20.length ? `, against ${vs20.join(' and ')}.` : '.')
    + ' Picking accounts at random would find only 10% and 20% of them.');
  const op = m.operatingPoint;
  out.push(`At the operating threshold (${pct(op.threshold)} churn risk) it flags ${count(op.tp + op.fp)} of ${count(m.n)} accounts; `
    + `${pct(op.precision)} of flagged accounts did churn, and it catches ${pct(op.recall)} of all churners.`);
  if (data.previous) {
    const diff = m.auc - data.previous.metrics.auc;
    const verdict = Math.abs(diff) < 0.005 ? 'about as well as' : diff > 0 ? 'better than' : 'worse than';
    out.push(`It ranks accounts ${verdict} the ${data.model.promotedAt ? 'previous model' : `${previousRole(data)} (v${data.previous.version})`} (AUC ${m.auc.toFixed(3)} against ${data.previous.metrics.auc.toFixed(3)}).`);
  }
  return out;
}
