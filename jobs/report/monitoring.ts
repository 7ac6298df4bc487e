/**
 * The report's "Since deployment" section: this version's stored scores and when their outcomes
 * become known (./deployment.ts), and the realised performance of its stored scores per month
 * (jobs/monitor/monitor.ts, restricted to the version), the last months in a table. Scores within the
 * version's training window are in-sample: left out of the table and named in a line below it.
 */
import { escapeXml as esc, pct } from './svg.ts';
import type { InSampleMonth, RealisedPerformance } from '../monitor/monitor.ts';
import { deploymentSentence, type Deployment } from './deployment.ts';

const cell = (v: number | null, f: (x: number) => string): string => (v === null ? 'n/a' : f(v));
const count = (n: number): string => n.toLocaleString('en-US');

/** The in-sample scores left out, per month ('' when none): the report and `churn monitor`. */
export function inSampleSentence(months: readonly InSampleMonth[]): string {
  if (!months.length) return '';
  const each = months.map((m) => `${m.month} (${count(m.accounts)} accounts, ${m.modelVersions.map((v) => `v${v}`).join(', ')})`);
  return `Left out as in-sample: scores whose as-of lies within their model's training window, whose outcomes the model learnt: ${each.join('; ')}.`;
}

/** The section's HTML: a sentence on pending outcomes, then a table of the last `months` months scored. */
export function monitoringSection(r: RealisedPerformance, deployment: Deployment | null = null, months = 6): string {
  const head = '<section class="deployment"><h2>Since deployment: stored scores against what happened</h2>';
  const lead = deployment ? `<p>${esc(deploymentSentence(deployment))}</p>` : '';
  const whose = r.modelVersion ? `model v${r.modelVersion}'s` : 'every model version\'s';
  const intro = `<p class="notes">Stored scores (the latest per account and month, ${esc(whose)}, each after its model's training data) against the churn that followed within ${r.horizonDays} days, `
    + `with outcomes known up to ${esc(r.dataEnd.slice(0, 10))}. A month stays pending until the outcome of every one of its scores is known.</p>`;
  const inSample = inSampleSentence(r.inSample ?? []);
  const left = inSample ? `<p class="notes">${esc(inSample)}</p>` : '';
  if (!r.months.length) return `${head}${lead}${intro}<p>No stored scores${r.modelVersion ? ` of model v${r.modelVersion}` : ''} to judge yet${inSample ? '' : ' (run <code>churn score</code>)'}.</p>${left}</section>`;
  const shown = r.months.slice(-months);
  const tableHead = ['Month', 'Accounts scored', 'Outcome known', 'Pending', 'Not evaluated', 'Predicted churn', 'Actual churn', 'AUC', 'Lift at 10%', 'Model versions'];
  const rows = shown.map((m) => [
    esc(m.month), count(m.scored), count(m.labelled), count(m.pending), count(m.excluded),
    cell(m.meanPredicted, (x) => pct(x, 1)), cell(m.churnRate, (x) => pct(x, 1)),
    m.status === 'pending' ? 'pending' : cell(m.auc, (x) => x.toFixed(3)), cell(m.lift10, (x) => `${x.toFixed(2)}x`),
    esc(m.modelVersions.map((v) => `v${v}`).join(', ')),
  ]);
  const notEvaluated = shown.some((m) => m.excluded > 0)
    ? `<p class="notes">Not evaluated: scores of accounts younger than ${r.minTenureDays} days or not paying (a trial) at the time scored, or that churned within the lead time; the training labels leave them out too.</p>`
    : '';
  const more = r.months.length > shown.length ? `<p class="notes">The last ${shown.length} of ${r.months.length} months; the JSON twin has them all.</p>` : '';
  const table = `<table><thead><tr>${tableHead.map((h) => `<th>${esc(h)}</th>`).join('')}</tr></thead><tbody>`
    + rows.map((row) => `<tr>${row.map((c) => `<td>${c}</td>`).join('')}</tr>`).join('') + '</tbody></table>';
  return `${head}${lead}${intro}${table}${notEvaluated}${left}${more}</section>`;
}

/** Inserts the section before the report's closing definitions note (else at the end of its main element). */
export function withMonitoringSection(html: string, r: RealisedPerformance, deployment: Deployment | null = null): string {
  const notes = html.lastIndexOf('<p class="notes">Definitions');
  const at = notes >= 0 ? notes : html.lastIndexOf('</main>');
  if (at < 0) return html;
  return `${html.slice(0, at)}${monitoringSection(r, deployment)}\n${html.slice(at)}`;
}
