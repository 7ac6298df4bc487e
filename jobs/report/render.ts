/**
 * The accuracy report as one self-contained HTML page (inline CSS and SVG, no scripts, no network
 * requests, prints cleanly) and its JSON twin. Pure: data in, string out.
 */
import { parseReportData, type ReportData } from './data.ts';
import { backtestChart, calibrationChart, confusionChart, driftChart, importanceChart, liftChart, prChart, rocChart, tierChart } from './charts.ts';
import { headlineSentences } from './headline.ts';
import { escapeXml as esc, pct } from './svg.ts';
import type { EvaluationReport } from '../../training/evaluate.ts';

const CSS = `
*{box-sizing:border-box}
body{font:15px/1.5 system-ui,-apple-system,"Segoe UI",Roboto,"Helvetica Neue",Arial,sans-serif;color:#111827;margin:0;background:#f9fafb}
main{max-width:1180px;margin:0 auto;padding:28px 32px 48px}
h1{font-size:26px;margin:0 0 4px}h2{font-size:19px;margin:36px 0 10px;border-bottom:1px solid #e5e7eb;padding-bottom:4px}
.meta{color:#4b5563;margin:0 0 18px}
.headline{background:#fff;border-left:5px solid #1d4ed8;padding:14px 20px;margin:0 0 18px;font-size:17px}
.headline p{margin:6px 0}.headline p:first-child{font-size:20px;font-weight:600}
.kpis{display:grid;grid-template-columns:repeat(4,1fr);gap:12px;margin-bottom:8px}
.kpi{background:#fff;border:1px solid #e5e7eb;border-radius:6px;padding:12px 14px}
.kpi b{display:block;font-size:26px}.kpi span{color:#4b5563;font-size:13px}
.warnings{background:#fffbeb;border:1px solid #f59e0b;border-radius:6px;padding:10px 16px 10px 34px;margin:12px 0}
.grid{display:grid;grid-template-columns:1fr 1fr;gap:16px;align-items:start}.grid table{margin-top:0}
figure{margin:0;background:#fff;border:1px solid #e5e7eb;border-radius:6px;padding:10px;break-inside:avoid;page-break-inside:avoid}
figcaption{color:#4b5563;font-size:13px;margin-top:4px}
svg.chart{width:100%;height:auto;display:block}
svg .chart-title{font-size:15px;font-weight:600;fill:#111827}
svg .tick,svg .legend-text{font-size:11px;fill:#374151}svg .axis-label{font-size:12px;fill:#111827}svg .cell{font-size:24px;font-weight:600}
table{border-collapse:collapse;background:#fff;width:100%;font-size:14px;margin-top:12px;break-inside:avoid;page-break-inside:avoid}
th,td{border:1px solid #e5e7eb;padding:5px 9px;text-align:right}th:first-child,td:first-child{text-align:left}th{background:#f3f4f6}
.status-ok{color:#15803d}.status-warn{color:#a16207;font-weight:600}.status-alert{color:#b91c1c;font-weight:700}
.notes{color:#4b5563;font-size:13px}
td small{white-space:nowrap;color:#4b5563}
@media screen and (max-width:800px){.grid,.kpis{grid-template-columns:1fr}}
@media print{body{background:#fff;font-size:12px}main{max-width:none;padding:0}.grid{grid-template-columns:1fr 1fr}.kpis{grid-template-columns:repeat(4,1fr)}.headline{font-size:14px}.headline p:first-child{font-size:16px}.kpi b{font-size:20px}figcaption,.notes{font-size:11px}table{font-size:11px}
h2{break-after:avoid;page-break-after:avoid}section{break-inside:avoid-page}figure,.kpi{border-color:#d1d5db}
@page{size:A4;margin:14mm}}
`;

const f3 = (v: number): string => v.toFixed(3);
const int = (v: number): string => v.toLocaleString('en-US');

function table(head: string[], rows: string[][]): string {
  return `<table><thead><tr>${head.map((h) => `<th>${esc(h)}</th>`).join('')}</tr></thead><tbody>`
    + rows.map((r) => `<tr>${r.map((c) => `<td>${c}</td>`).join('')}</tr>`).join('') + '</tbody></table>';
}

function comparisonTable(data: ReportData): string {
  const rows: [string, EvaluationReport][] = [[`This model (v${data.model.version})`, data.metrics]];
  if (data.previous) rows.push([`Previous champion (v${data.previous.version})`, data.previous.metrics]);
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

function figure(svg: string, caption: string): string {
  return `<figure>${svg}<figcaption>${esc(caption)}</figcaption></figure>`;
}

/** Renders the report; validates the data first (CHURN_ERR_VALIDATION when it does not fit the schema). */
export function renderReportHtml(input: ReportData): string {
  const data = parseReportData(input);
  const m = data.metrics;
  const ci = m.ci ? ` (95% interval ${f3(m.ci.auc.lower)} to ${f3(m.ci.auc.upper)})` : '';
  const title = `Churn model accuracy report: model v${data.model.version}`;
  const kpis = [
    [pct(m.capture10), 'of churners are in the riskiest 10% of accounts'],
    [pct(m.capture20), 'of churners are in the riskiest 20%'],
    [`${m.lift10.toFixed(1)}x`, 'churn rate in the riskiest 10% against the average'],
    [pct(m.churnRate, 1), `of ${int(m.n)} evaluated accounts churned`],
  ];
  const warnings = data.warnings.length ? `<ul class="warnings">${data.warnings.map((w) => `<li>${esc(w)}</li>`).join('')}</ul>` : '';
  const body = [
    `<h1>${esc(title)}</h1>`,
    `<p class="meta">${esc(data.model.modelType)} model, created ${esc(data.model.createdAt)}; evaluated on ${esc(data.model.evaluatedOn)} (${int(m.n)} accounts). Report generated ${esc(data.generatedAt)}.</p>`,
    `<section class="headline">${headlineSentences(data).map((s) => `<p>${esc(s)}</p>`).join('')}</section>`,
    `<div class="kpis">${kpis.map(([v, l]) => `<div class="kpi"><b>${esc(v)}</b><span>${esc(l)}</span></div>`).join('')}</div>`,
    warnings,
    '<section><h2>Against the alternatives, on the same accounts</h2>', comparisonTable(data),
    `<p class="notes">AUC${esc(ci)}: the chance that a random churner is ranked riskier than a random account that stayed (0.5 is a coin toss). Intervals are bootstrap percentiles.</p></section>`,
    '<section><h2>How well it ranks accounts</h2><div class="grid">',
    figure(liftChart(data), 'Bars: churn rate per tenth of accounts, riskiest first. Line: cumulative share of all churners caught.'),
    figure(rocChart(data), 'Higher and further left is better; the dotted line is a random ordering.'),
    figure(prChart(data), 'How many flagged accounts really churn as the model reaches for more churners.'),
    figure(confusionChart(data), `Operating threshold chosen by ${m.operatingPoint.method.replace('_', ' ')}: precision ${pct(m.operatingPoint.precision)}, recall ${pct(m.operatingPoint.recall)}.`),
    '</div></section>',
    '<section><h2>Can the probabilities and tiers be trusted?</h2><div class="grid">',
    figure(calibrationChart(data), `Points on the diagonal mean predicted risk matches reality. Expected calibration error ${pct(m.ece, 1)}; Brier score ${f3(m.brier)}.`),
    figure(tierChart(data), 'Each tier should churn at roughly its predicted rate, and riskier tiers more often.'),
    '</div>',
    table(['Tier', 'Accounts', 'Share', 'Predicted churn', 'Actual churn'], data.tiers.map((t) => [esc(t.tier), int(t.n), pct(t.share), pct(t.predictedMean, 1), pct(t.actualRate, 1)])),
    '</section>',
    '<section><h2>Backtest over time</h2><div class="grid">', figure(backtestChart(data), 'Month by month, predicted against actual churn on accounts observed that month.'),
    '<div>', table(['Month', 'Accounts', 'Predicted churn', 'Actual churn', 'AUC'], data.backtest.map((b) => [esc(b.month), int(b.n), pct(b.predictedMean, 1), pct(b.actualRate, 1), b.auc === null ? 'n/a' : f3(b.auc)])),
    '</div></div></section>',
    data.segments.length ? '<section><h2>By segment</h2>' + table(['Segment', 'Accounts', 'Actual churn', 'Predicted churn', 'AUC'],
      data.segments.map((s) => [esc(s.segment), int(s.n), pct(s.churnRate, 1), pct(s.predictedMean, 1), s.auc === null ? 'n/a (one class)' : f3(s.auc)])) + '</section>' : '',
    '<section><h2>What drives the predictions, and what has changed</h2><div class="grid">',
    figure(importanceChart(data), 'Mean absolute contribution to the log-odds of churn (top features).'),
    figure(driftChart(data), 'PSI below 0.1: stable; 0.1 to 0.25: watch; 0.25 or more: the model may need retraining.'),
    '</div>',
    table(['Feature', 'PSI', 'Status'], [...data.drift].sort((a, b) => b.psi - a.psi).map((d) => [esc(d.feature), f3(d.psi), `<span class="status-${d.status}">${d.status}</span>`])),
    '</section>',
    '<p class="notes">Definitions: capture at k% is the share of all churners among the k% of accounts with the highest predicted risk; lift is the churn rate in that group over the overall rate; average precision and AUC follow scikit-learn; ECE uses ten equal-width bins. The JSON twin of this report carries every number shown.</p>',
  ];
  return `<!doctype html><html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width,initial-scale=1">`
    + `<title>${esc(title)}</title><style>${CSS}</style></head><body><main>${body.join('\n')}</main></body></html>\n`;
}

/** The JSON twin: the validated report data, pretty-printed. */
export function renderReportJson(input: ReportData): string {
  return `${JSON.stringify(parseReportData(input), null, 2)}\n`;
}
