/**
 * The accuracy report as one self-contained HTML page (inline CSS and SVG, no scripts, no network
 * requests) and its JSON twin. Printed on A4 it is at most four pages: the executive summary alone on
 * the first (./summary.ts), the details after it, the features that did not move in an appendix.
 * Pure: data in, string out.
 */
import { labelOf, MIN_CHURNERS_FOR_AUC, movedFeatures, parseReportData, previousRole, type ReportData } from './data.ts';
import { backtestChart, calibrationChart, confusionChart, driftChart, gainsChart, importanceChart, liftChart, rocChart, tierChart } from './charts.ts';
import { headlineSentences } from './headline.ts';
import { monitoringSection } from './monitoring.ts';
import { summaryPage } from './summary.ts';
import { DRIFT_NOT_MEASURED } from './drift.ts';
import { escapeXml as esc, pct } from './svg.ts';
import type { EvaluationReport } from '../../training/evaluate.ts';
import type { RealisedPerformance } from '../monitor/monitor.ts';

// Colours: body text #111827 and secondary text #374151 / #4b5563 on white, #f3f4f6 and #fffbeb all
// pass WCAG AA (4.5:1); status colours #15803d, #92400e, #b91c1c pass on white.
const CSS = `
*{box-sizing:border-box}
body{font:15px/1.45 system-ui,-apple-system,"Segoe UI",Roboto,"Helvetica Neue",Arial,sans-serif;color:#111827;margin:0;background:#fff}
main{max-width:1180px;margin:0 auto;padding:28px 32px 48px}
h1{font-size:25px;margin:0 0 4px}h2{font-size:18px;margin:26px 0 8px;border-bottom:1px solid #e5e7eb;padding-bottom:3px}
h3{font-size:15px;margin:14px 0 6px}
.meta{color:#374151;margin:0 0 12px}
.headline{border-left:5px solid #1d4ed8;background:#f3f6fd;padding:10px 16px;margin:0 0 6px;font-size:17px}
.headline p{margin:4px 0}.headline p:first-child{font-weight:600}
.cols{display:grid;grid-template-columns:minmax(0,1fr) minmax(0,1fr);gap:22px;align-items:start}.cols h2{margin-top:14px}
.summary ul{margin:4px 0;padding-left:20px}.summary li{margin:3px 0}
.warnings{background:#fffbeb;border:1px solid #b45309;border-radius:6px;padding:8px 14px 8px 30px;margin:10px 0}
.grid{display:grid;grid-template-columns:minmax(0,1fr) minmax(0,1fr);gap:14px;align-items:start}.grid table{margin-top:0}
figure{margin:0;border:1px solid #d1d5db;border-radius:6px;padding:8px;break-inside:avoid;page-break-inside:avoid}
figcaption{color:#374151;font-size:13px;margin-top:4px}
svg.chart{width:100%;height:auto;display:block}
svg .chart-title{font-size:15px;font-weight:600;fill:#111827}
svg .tick,svg .legend-text{font-size:12.5px;fill:#374151}svg .legend-text{font-size:12px}svg .axis-label{font-size:13px;fill:#111827}svg .cell{font-size:24px;font-weight:600}
table{border-collapse:collapse;width:100%;font-size:14px;margin-top:8px;break-inside:avoid;page-break-inside:avoid}
th,td{border:1px solid #d1d5db;padding:4px 8px;text-align:right}th:first-child,td:first-child{text-align:left}th{background:#f3f4f6}
td small{color:#374151;white-space:nowrap}
.status-ok{color:#15803d}.status-warn{color:#92400e;font-weight:600}.status-alert{color:#b91c1c;font-weight:700}
.note,.notes{color:#374151;font-size:13px;margin:6px 0}
.appendix ul{columns:3;column-gap:18px;list-style:none;padding:0;margin:6px 0;font-size:12px}.appendix li{break-inside:avoid;display:flex;justify-content:space-between;gap:6px}
@media screen and (max-width:800px){.grid,.cols{grid-template-columns:1fr}}
@page{size:A4;margin:11mm 12mm}
@media print{body{font-size:10.5px;line-height:1.35}main{max-width:none;padding:0}
h1{font-size:19px}h2{font-size:13.5px;margin:12px 0 5px;break-after:avoid;page-break-after:avoid}h3{font-size:11.5px;margin:8px 0 4px}
.meta{font-size:10px;margin-bottom:8px}.headline{font-size:12.5px;padding:7px 12px}.cols{gap:16px}.cols h2{margin-top:10px}
.summary{break-after:page;page-break-after:always}
.grid{gap:8px}figure{padding:4px 6px}figcaption,.note,.notes{font-size:9.5px;margin:3px 0}
table{font-size:9.5px;margin-top:4px}th,td{padding:1.5px 5px}.summary table{font-size:10.5px}.summary th,.summary td{padding:3px 6px}
.warnings{padding:4px 10px 4px 24px;margin:6px 0;font-size:9.5px}
.appendix ul{columns:4;font-size:8.5px;margin:2px 0}section{break-inside:auto}}
`;

const f3 = (v: number): string => v.toFixed(3);
const capital = (s: string): string => s.charAt(0).toUpperCase() + s.slice(1);
const int = (v: number): string => v.toLocaleString('en-US');
const rate = (v: number): string => pct(v, 1);

function table(head: string[], rows: string[][]): string {
  return `<table><thead><tr>${head.map((h) => `<th>${esc(h)}</th>`).join('')}</tr></thead><tbody>`
    + rows.map((r) => `<tr>${r.map((c) => `<td>${c}</td>`).join('')}</tr>`).join('') + '</tbody></table>';
}

function figure(svg: string, caption: string): string {
  return `<figure>${svg}<figcaption>${esc(caption)}</figcaption></figure>`;
}

function comparisonTable(data: ReportData): string {
  const rows: [string, EvaluationReport][] = [[`This model (v${data.model.version})`, data.metrics]];
  if (data.previous) rows.push([`${capital(previousRole(data))} (v${data.previous.version})`, data.previous.metrics]);
  if (data.scorecard) rows.push(['Weighted scorecard', data.scorecard]);
  const ci = data.metrics.ci;
  return table(
    ['', 'Churners in riskiest 10%', 'in riskiest 20%', 'Lift at 10%', 'AUC', 'Average precision', 'Brier', 'ECE'],
    rows.map(([name, m], i) => [
      esc(name), pct(m.capture10), pct(m.capture20),
      `${m.lift10.toFixed(2)}x${i === 0 && ci ? ` <small>(${ci.lift10.lower.toFixed(2)}-${ci.lift10.upper.toFixed(2)})</small>` : ''}`,
      `${f3(m.auc)}${i === 0 && ci ? ` <small>(${f3(ci.auc.lower)}-${f3(ci.auc.upper)})</small>` : ''}`,
      f3(m.prAuc), f3(m.brier), f3(m.ece),
    ]),
  );
}

function decileTable(data: ReportData): string {
  return table(['Risk decile', 'Accounts', 'Churners', 'Churn rate', 'Lift', 'Predicted', 'Churners caught so far'],
    data.metrics.deciles.map((d) => [String(d.decile), int(d.n), int(d.churners), rate(d.churnRate), `${d.lift.toFixed(2)}x`, rate(d.meanPredicted), `${pct(d.cumulativeCapture)} <small>(${int(d.cumulativeChurners)})</small>`]));
}

function rankingSection(data: ReportData): string {
  const m = data.metrics;
  const ci = m.ci ? ` (95% interval ${f3(m.ci.auc.lower)} to ${f3(m.ci.auc.upper)})` : '';
  return `<section class="ranking"><h2>How well it ranks accounts</h2>`
    + `<p class="note">Evaluated on ${esc(data.model.evaluatedOn)} (${int(m.n)} accounts, ${int(m.positives)} churned).</p>`
    + comparisonTable(data)
    + `<p class="note">AUC${esc(ci)}: the chance that a random churner is ranked riskier than a random account that stayed (0.5 is a coin toss). Intervals are bootstrap percentiles.</p>`
    + '<div class="grid">'
    + figure(gainsChart(data), 'Read at 10% and 20% of accounts: the headline. The dotted line is picking at random.')
    + figure(liftChart(data), 'Bars: the share of each tenth of accounts that churned, riskiest first; dashed: the average.')
    + `<div>${decileTable(data)}</div>`
    + figure(confusionChart(data), `Operating threshold chosen by ${m.operatingPoint.method.replace('_', ' ')}: precision ${pct(m.operatingPoint.precision)}, recall ${pct(m.operatingPoint.recall)}.`)
    + '</div></section>';
}

/**
 * Fewer churners than this in a group (a segment, a month) and its AUC says little: one churner
 * ranked first is an AUC of 1.000. The table then says so instead of the number (the JSON twin keeps it).
 */

/** A group's AUC as its table cell: the number, or why it is not shown. */
function groupAuc(auc: number | null, churners: number): string {
  if (auc === null) return 'n/a (one class)';
  return churners < MIN_CHURNERS_FOR_AUC ? `too few churners (${churners})` : f3(auc);
}

const FEW_CHURNERS_NOTE = `<p class="note">AUC is shown where at least ${MIN_CHURNERS_FOR_AUC} accounts churned: with fewer, one account moves it a long way.</p>`;

/** The churners of a group of `n` accounts that churned at `rate` (the report data keeps the rate). */
const churnersOf = (n: number, rate: number) => Math.round(n * rate);

function trustSection(data: ReportData): string {
  const m = data.metrics;
  const segments = data.segments.length
    ? '<h3>By segment</h3>' + table(['Segment', 'Accounts', 'Churners', 'Actual churn', 'Predicted churn', 'AUC'],
      data.segments.map((s) => [esc(s.segment), int(s.n), int(churnersOf(s.n, s.churnRate)), rate(s.churnRate), rate(s.predictedMean), groupAuc(s.auc, churnersOf(s.n, s.churnRate))]))
      + (data.segments.some((s) => s.auc !== null && churnersOf(s.n, s.churnRate) < MIN_CHURNERS_FOR_AUC) ? FEW_CHURNERS_NOTE : '')
    : '';
  return '<section class="trust"><h2>Can the probabilities and tiers be trusted?</h2><div class="grid">'
    + figure(calibrationChart(data), `Each pair of bars should match. Expected calibration error ${pct(m.ece, 1)}; Brier score ${f3(m.brier)}.`)
    + figure(tierChart(data), 'Each tier should churn at roughly its predicted rate, and riskier tiers more often.')
    + figure(rocChart(data), 'Higher and further left is better; the dotted line is a random ordering.')
    + '<div>' + table(['Tier', 'Accounts', 'Share', 'Predicted churn', 'Actual churn'], data.tiers.map((t) => [esc(t.tier.replace(/_/g, ' ')), int(t.n), pct(t.share), rate(t.predictedMean), rate(t.actualRate)]))
    + segments + '</div></div></section>';
}

function backtestSection(data: ReportData): string {
  return '<section class="backtest"><h2>Backtest over time</h2><div class="grid">'
    + figure(backtestChart(data), 'Month by month, predicted against actual churn on the held-out accounts observed that month.')
    + '<div>' + table(['Month', 'Accounts', 'Churners', 'Predicted churn', 'Actual churn', 'AUC'], data.backtest.map((b) => [esc(b.month), int(b.n), int(churnersOf(b.n, b.actualRate)), rate(b.predictedMean), rate(b.actualRate), groupAuc(b.auc, churnersOf(b.n, b.actualRate))]))
    + (data.backtest.some((b) => b.auc !== null && churnersOf(b.n, b.actualRate) < MIN_CHURNERS_FOR_AUC) ? FEW_CHURNERS_NOTE : '')
    + '</div></div></section>';
}

function changeSection(data: ReportData): string {
  const moved = movedFeatures(data);
  const movedTable = !data.drift.length ? `<p>${esc(DRIFT_NOT_MEASURED)}</p>`
    : moved.length
    ? table(['Feature that moved', 'PSI', 'Status'], moved.map((d) => [`${esc(labelOf(data, d.feature))} <small>${esc(d.feature)}</small>`, f3(d.psi), `<span class="status-${d.status}">${d.status === 'alert' ? 'alert' : 'watch'}</span>`]))
    : '<p>No feature moved since training: every PSI is below 0.1.</p>';
  return '<section class="changed"><h2>What drives the predictions, and what has changed</h2><div class="grid">'
    + figure(importanceChart(data), 'Mean absolute contribution to the log-odds of churn (top features).')
    + `<div>${data.drift.length ? figure(driftChart(data), 'PSI below 0.1: stable; 0.1 to 0.25: watch; 0.25 or more: the model may need retraining.') : ''}${movedTable}</div>`
    + '</div></section>';
}

function appendix(data: ReportData): string {
  const still = data.drift.filter((d) => !movedFeatures(data).includes(d)).sort((a, b) => b.psi - a.psi || a.feature.localeCompare(b.feature));
  if (!still.length) return '';
  return `<section class="appendix"><h2>Appendix: the ${still.length} features that did not move (PSI below 0.1)</h2>`
    + `<ul>${still.map((d) => `<li><span>${esc(labelOf(data, d.feature))}</span><span>${d.psi.toFixed(3)}</span></li>`).join('')}</ul></section>`;
}

/** Renders the report; validates the data first (CHURN_ERR_VALIDATION when it does not fit the schema). */
export function renderReportHtml(input: ReportData, realised?: RealisedPerformance | null): string {
  const data = parseReportData(input);
  const title = `Churn model accuracy report: model v${data.model.version}`;
  const warnings = data.warnings.length ? `<ul class="warnings">${data.warnings.map((w) => `<li>${esc(w)}</li>`).join('')}</ul>` : '';
  const body = [
    summaryPage(data, headlineSentences(data)),
    warnings,
    rankingSection(data),
    trustSection(data),
    backtestSection(data),
    changeSection(data),
    realised ? monitoringSection(realised, data.deployment) : '',
    '<p class="notes">Definitions: the riskiest k% are the k% of accounts with the highest predicted risk (ties in a fixed row order), exactly risk deciles 1 to k/10; capture is the share of all churners among them; lift is their churn rate over the overall rate; average precision and AUC follow scikit-learn; ECE uses ten equal-width bins, the calibration chart equal-count groups. The JSON twin of this report (<code>?format=json</code>) carries every number shown.</p>',
    appendix(data),
  ];
  return `<!doctype html><html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width,initial-scale=1">`
    + `<title>${esc(title)}</title><style>${CSS}</style></head><body><main>${body.join('\n')}</main></body></html>\n`;
}

/** The JSON twin: the validated report data, pretty-printed. */
export function renderReportJson(input: ReportData): string {
  return `${JSON.stringify(parseReportData(input), null, 2)}\n`;
}
