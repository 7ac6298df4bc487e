/**
 * The report's "Since deployment" section: realised performance of the stored scores per month
 * (jobs/monitor/monitor.ts), inserted into the rendered report before its closing tag.
 */
import { escapeXml as esc, pct } from './svg.ts';
import type { RealisedPerformance } from '../monitor/monitor.ts';

const cell = (v: number | null, f: (x: number) => string): string => (v === null ? 'n/a' : f(v));

/** The section's HTML (a table per month scored, pending months marked as such). */
export function monitoringSection(r: RealisedPerformance): string {
  const intro = `<p class="notes">Stored scores (the latest per account and month) against the churn that followed within ${r.horizonDays} days, `
    + `with outcomes known up to ${esc(r.dataEnd.slice(0, 10))}. Months whose outcome is not known yet are pending.</p>`;
  if (!r.months.length) return `<section><h2>Since deployment: stored scores against what happened</h2>${intro}<p>No stored scores yet (run <code>churn score</code>).</p></section>`;
  const head = ['Month', 'Accounts scored', 'Outcome known', 'Pending', 'Predicted churn', 'Actual churn', 'AUC', 'Lift at 10%', 'Model versions'];
  const rows = r.months.map((m) => [
    esc(m.month), String(m.scored), String(m.labelled), String(m.pending),
    cell(m.meanPredicted, (x) => pct(x, 1)), cell(m.churnRate, (x) => pct(x, 1)),
    m.status === 'pending' ? 'pending' : cell(m.auc, (x) => x.toFixed(3)), cell(m.lift10, (x) => `${x.toFixed(2)}x`),
    esc(m.modelVersions.map((v) => `v${v}`).join(', ')),
  ]);
  const table = `<table><thead><tr>${head.map((h) => `<th>${esc(h)}</th>`).join('')}</tr></thead><tbody>`
    + rows.map((row) => `<tr>${row.map((c) => `<td>${c}</td>`).join('')}</tr>`).join('') + '</tbody></table>';
  return `<section><h2>Since deployment: stored scores against what happened</h2>${intro}${table}</section>`;
}

/** Inserts the section before the report's closing definitions note (else at the end of its main element). */
export function withMonitoringSection(html: string, r: RealisedPerformance): string {
  const notes = html.lastIndexOf('<p class="notes">Definitions');
  const at = notes >= 0 ? notes : html.lastIndexOf('</main>');
  if (at < 0) return html;
  return `${html.slice(0, at)}${monitoringSection(r)}\n${html.slice(at)}`;
}
