/**
 * The report's plain-words summary for leadership. Reads numbers from the evaluation reports only.
 */
import type { ReportData } from './data.ts';

const pct = (v: number): string => `${Math.round(v * 100)}%`;
const count = (v: number): string => v.toLocaleString('en-US');

function comparisons(data: ReportData, key: 'capture10' | 'capture20', withVersion: boolean): string[] {
  const parts: string[] = [];
  if (data.scorecard) parts.push(`${pct(data.scorecard[key])} for the weighted scorecard`);
  if (data.previous) parts.push(`${pct(data.previous.metrics[key])} for the previous model${withVersion ? ` (v${data.previous.version})` : ''}`);
  return parts;
}

/** One to four short sentences a VP can read in under a minute. */
export function headlineSentences(data: ReportData): string[] {
  const m = data.metrics;
  const out: string[] = [];
  const vs10 = comparisons(data, 'capture10', true);
  out.push(`The model's riskiest 10% of accounts contain ${pct(m.capture10)} of the customers who churned`
    + (vs10.length ? `, against ${vs10.join(' and ')}.` : '.'));
  const vs20 = comparisons(data, 'capture20', false);
  out.push(`Its riskiest 20% contain ${pct(m.capture20)}` + (vs20.length ? `, against ${vs20.join(' and ')}.` : '.')
    + ' Picking accounts at random would find only 10% and 20% of them.');
  const op = m.operatingPoint;
  out.push(`At the operating threshold (${pct(op.threshold)} churn risk) it flags ${count(op.tp + op.fp)} of ${count(m.n)} accounts; `
    + `${pct(op.precision)} of flagged accounts did churn, and it catches ${pct(op.recall)} of all churners.`);
  if (data.previous) {
    const diff = m.auc - data.previous.metrics.auc;
    const verdict = Math.abs(diff) < 0.005 ? 'about as well as' : diff > 0 ? 'better than' : 'worse than';
    out.push(`It ranks accounts ${verdict} the previous model (AUC ${m.auc.toFixed(3)} against ${data.previous.metrics.auc.toFixed(3)}).`);
  }
  return out;
}
