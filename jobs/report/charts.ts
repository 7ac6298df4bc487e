/**
 * Maps report data to the report's charts. Every plotted number comes from ReportData.
 */
import type { ReportData } from './data.ts';
import { barChart, COLORS, niceMax, horizontalBarChart, lineChart, matrixChart, pct, reliabilityChart, type LineSeries } from './svg.ts';
import type { EvaluationReport } from '../../training/evaluate.ts';

function compared(data: ReportData): { name: string; color: string; dashed?: boolean; report: EvaluationReport }[] {
  const out: { name: string; color: string; dashed?: boolean; report: EvaluationReport }[] = [{ name: `model v${data.model.version}`, color: COLORS.model, report: data.metrics }];
  if (data.previous) out.push({ name: `previous v${data.previous.version}`, color: COLORS.previous, dashed: true, report: data.previous.metrics });
  if (data.scorecard) out.push({ name: 'scorecard', color: COLORS.scorecard, dashed: true, report: data.scorecard });
  return out;
}

const percentAxis = (label: string) => ({ label, min: 0, max: 1, format: (v: number) => pct(v) });

export function rocChart(data: ReportData): string {
  const series: LineSeries[] = compared(data).map((c) => ({ name: `${c.name} (AUC ${c.report.auc.toFixed(2)})`, color: c.color, dashed: c.dashed, points: c.report.rocCurve.map((q) => [q.fpr, q.tpr]) }));
  return lineChart({
    id: 'roc', title: 'ROC curve', series, diagonal: 'chance',
    description: 'Share of churners flagged (y) against share of retained accounts wrongly flagged (x), over every threshold.',
    x: percentAxis('Retained accounts flagged (false positive rate)'), y: percentAxis('Churners caught (true positive rate)'),
  });
}

export function prChart(data: ReportData): string {
  const series: LineSeries[] = compared(data).map((c) => ({ name: `${c.name} (AP ${c.report.prAuc.toFixed(2)})`, color: c.color, dashed: c.dashed, points: c.report.prCurve.map((q) => [q.recall, q.precision]) }));
  return lineChart({
    id: 'pr', title: 'Precision and recall', series,
    description: 'Of the accounts flagged, the share that churned (y), against the share of all churners caught (x).',
    x: percentAxis('Churners caught (recall)'), y: percentAxis('Flagged accounts that churned (precision)'),
  });
}

export function liftChart(data: ReportData): string {
  const d = data.metrics.deciles;
  return barChart({
    id: 'lift', title: 'Churn rate and cumulative gains by risk decile',
    description: 'Accounts split into ten equal groups, riskiest first: the churn rate in each group, and the running share of all churners caught.',
    categories: d.map((r) => String(r.decile)), xLabel: 'Risk decile (1 = riskiest 10% of accounts)',
    series: [{ name: 'churn rate in decile', values: d.map((r) => r.churnRate), color: COLORS.model }],
    line: { name: 'share of churners caught so far', values: d.map((r) => r.cumulativeCapture), color: COLORS.actual },
    y: { label: 'Share', max: 1, format: (v) => pct(v) },
  });
}

export function calibrationChart(data: ReportData): string {
  return reliabilityChart('reliability', 'Calibration: predicted against actual churn', [{ name: `model v${data.model.version}`, color: COLORS.model, bins: data.metrics.reliability }]);
}

export function confusionChart(data: ReportData): string {
  const o = data.metrics.operatingPoint;
  const share = (v: number) => `${pct(v / data.metrics.n)} of accounts`;
  return matrixChart({
    id: 'confusion', title: `Outcomes at the operating threshold (risk >= ${pct(o.threshold)})`,
    description: 'Accounts by what the model said (columns) and what happened (rows).',
    rowLabel: 'What happened', colLabel: 'What the model said',
    rowLabels: ['Churned', 'Stayed'], colLabels: ['Flagged as at risk', 'Not flagged'],
    cells: [[o.tp, o.fn], [o.fp, o.tn]],
    good: [[true, false], [false, true]],
    notes: [[share(o.tp), share(o.fn)], [share(o.fp), share(o.tn)]],
  });
}

export function tierChart(data: ReportData): string {
  return barChart({
    id: 'tiers', title: 'Predicted against actual churn by tier',
    description: 'For each risk tier, the average predicted churn probability and the share that actually churned.',
    categories: data.tiers.map((t) => t.tier), xLabel: 'Tier',
    series: [
      { name: 'predicted', values: data.tiers.map((t) => t.predictedMean), color: COLORS.model },
      { name: 'actual', values: data.tiers.map((t) => t.actualRate), color: COLORS.actual },
    ],
    y: { label: 'Churn rate', format: (v) => pct(v) },
  });
}

export function backtestChart(data: ReportData): string {
  const b = data.backtest;
  const max = niceMax(Math.max(0.05, ...b.flatMap((r) => [r.predictedMean, r.actualRate])) * 1.1);
  return lineChart({
    id: 'backtest', title: 'Backtest: predicted against actual churn by month',
    description: 'For each observation month, the average predicted churn probability and the share of accounts that churned.',
    series: [
      { name: 'predicted', color: COLORS.model, markers: true, points: b.map((r, i) => [i, r.predictedMean]) },
      { name: 'actual', color: COLORS.actual, markers: true, points: b.map((r, i) => [i, r.actualRate]) },
    ],
    x: { label: 'Observation month', min: -0.5, max: Math.max(0.5, b.length - 0.5), categories: b.map((r) => r.month) },
    y: { label: 'Churn rate', min: 0, max, format: (v) => pct(v, 1) },
  });
}

export function importanceChart(data: ReportData, top = 15): string {
  return horizontalBarChart({
    id: 'importance', title: 'What drives the predictions',
    description: 'Average absolute contribution of each feature to the log-odds of churn, across the evaluated accounts.',
    items: data.importance.slice(0, top).map((f) => ({ label: `${f.feature} (${f.family})`, value: f.meanAbsContribution, color: COLORS.model })),
    format: (v) => v.toFixed(3),
  });
}

export function driftChart(data: ReportData, top = 15): string {
  const colors = { ok: COLORS.actual, warn: '#ca8a04', alert: '#b91c1c' };
  return horizontalBarChart({
    id: 'drift', title: 'Drift since training (population stability index)',
    description: 'How much each feature distribution moved between the training data and the latest snapshot; 0.1 and 0.25 are the warning and alert lines.',
    items: [...data.drift].sort((a, b) => b.psi - a.psi).slice(0, top).map((d) => ({ label: d.feature, value: d.psi, color: colors[d.status] })),
    format: (v) => v.toFixed(3),
  });
}
