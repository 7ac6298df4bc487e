/**
 * Maps report data to the report's charts. Every plotted number comes from ReportData; axes are
 * scaled to the data except where a share of a whole (0-100%) is the point.
 */
import { labelOf, movedFeatures, MOVED_PSI, type ReportData } from './data.ts';
import { barChart, COLORS, niceMax, horizontalBarChart, lineChart, matrixChart, pct, type LineSeries } from './svg.ts';
import type { EvaluationReport } from '../../training/evaluate.ts';

interface Compared { name: string; color: string; dashed?: boolean; report: EvaluationReport }

function compared(data: ReportData): Compared[] {
  const out: Compared[] = [{ name: `model v${data.model.version}`, color: COLORS.model, report: data.metrics }];
  if (data.previous) out.push({ name: `previous v${data.previous.version}`, color: COLORS.previous, dashed: true, report: data.previous.metrics });
  if (data.scorecard) out.push({ name: 'scorecard', color: COLORS.scorecard, dashed: true, report: data.scorecard });
  return out;
}

const percentAxis = (label: string) => ({ label, min: 0, max: 1, format: (v: number) => pct(v) });

/** Percent with one decimal below 10%, none above. */
const rate = (v: number): string => pct(v, v < 0.1 ? 1 : 0);

export function rocChart(data: ReportData): string {
  const series: LineSeries[] = compared(data).map((c) => ({ name: `${c.name} (AUC ${c.report.auc.toFixed(2)})`, color: c.color, dashed: c.dashed, points: c.report.rocCurve.map((q) => [q.fpr, q.tpr]) }));
  return lineChart({
    id: 'roc', title: 'ROC curve', series, diagonal: 'chance',
    description: 'Share of churners flagged (y) against share of retained accounts wrongly flagged (x), over every threshold.',
    x: percentAxis('Retained accounts flagged (false positive rate)'), y: percentAxis('Churners caught (TPR)'),
  });
}

/** Cumulative gains: share of churners caught (y) by the riskiest x% of accounts, per compared ranking. */
export function gainsChart(data: ReportData): string {
  const series: LineSeries[] = compared(data).map((c) => ({
    name: c.name, color: c.color, dashed: c.dashed, markers: !c.dashed,
    points: [[0, 0] as [number, number], ...c.report.deciles.map((d) => [d.cumulativeShare, d.cumulativeCapture] as [number, number])],
  }));
  return lineChart({
    id: 'gains', title: 'Churners caught by the riskiest accounts', series, diagonal: 'random pick',
    description: 'For the riskiest x% of accounts by each ranking, the share of all churners among them (the headline reads it at 10% and 20%).',
    x: percentAxis('Riskiest share of accounts'), y: percentAxis('Share of all churners caught'),
  });
}

export function liftChart(data: ReportData): string {
  const d = data.metrics.deciles;
  return barChart({
    id: 'lift', title: 'Churn rate by risk decile',
    description: 'Accounts split into ten equal groups, riskiest first: the share of each group that churned, against the average.',
    categories: d.map((r) => String(r.decile)), xLabel: 'Risk decile (1 = riskiest 10% of accounts)',
    series: [{ name: `churn rate in decile (model v${data.model.version})`, values: d.map((r) => r.churnRate), color: COLORS.model }],
    reference: { value: data.metrics.churnRate, label: `average ${rate(data.metrics.churnRate)}` },
    y: { label: 'Churn rate', format: (v) => rate(v) },
  });
}

/**
 * "0.4-1.2%": a calibration bin's range of predicted risk, on two lines, with a significant digit at
 * each end and as many decimals as it takes for the two to differ (a bin of 0.004-0.03% read
 * "0.0-0.0%", like its neighbour).
 */
export function binLabel(b: { lower: number; upper: number }): string {
  // under 1%, one significant digit at least (0.05%, not 0.0%), up to three decimals
  const end = (v: number) => (v > 0 && v < 0.01 ? pct(v, Math.min(3, Math.max(1, Math.ceil(-Math.log10(v * 100))))) : rate(v));
  let lo = end(b.lower);
  let hi = end(b.upper);
  for (let digits = 2; lo === hi && digits <= 4; digits++) {
    lo = pct(b.lower, digits);
    hi = pct(b.upper, digits);
  }
  return `${lo.replace('%', '')}-\n${hi}`;
}

export function calibrationChart(data: ReportData): string {
  const bins = data.calibration;
  const size = bins.length ? Math.round(bins.reduce((s, b) => s + b.n, 0) / bins.length) : 0;
  return barChart({
    id: 'reliability', title: 'Calibration: predicted against actual churn',
    description: `Accounts in ${bins.length} equal groups of about ${size} by predicted risk (lowest first): the average predicted churn and the share that churned.`,
    categories: bins.map(binLabel), xLabel: `Predicted risk range (${bins.length} groups of about ${size} accounts)`,
    series: [
      { name: 'predicted churn', values: bins.map((b) => b.meanPredicted), color: COLORS.model },
      { name: 'actual churn', values: bins.map((b) => b.observedRate), color: COLORS.actual },
    ],
    y: { label: 'Churn rate', format: (v) => rate(v) },
  });
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
    categories: data.tiers.map((t) => t.tier.replace(/_/g, ' ')), xLabel: 'Tier',
    series: [
      { name: 'predicted churn', values: data.tiers.map((t) => t.predictedMean), color: COLORS.model },
      { name: 'actual churn', values: data.tiers.map((t) => t.actualRate), color: COLORS.actual },
    ],
    y: { label: 'Churn rate', format: (v) => rate(v) },
  });
}

export function backtestChart(data: ReportData): string {
  const b = data.backtest;
  const max = niceMax(Math.max(0.01, ...b.flatMap((r) => [r.predictedMean, r.actualRate])) * 1.12);
  // 2026-04 -> "Apr", with the year under the first month and every January
  const short = (month: string, i: number) => {
    const [y, m] = month.split('-');
    const name = ['Jan', 'Feb', 'Mar', 'Apr', 'May', 'Jun', 'Jul', 'Aug', 'Sep', 'Oct', 'Nov', 'Dec'][Number(m) - 1];
    if (!name) return month;
    return i === 0 || m === '01' ? `${name}\n${y}` : `${name}\n`;
  };
  return lineChart({
    id: 'backtest', title: 'Backtest: predicted against actual churn by month',
    description: 'For each observation month, the average predicted churn probability and the share of accounts that churned.',
    series: [
      { name: 'predicted churn', color: COLORS.model, markers: true, points: b.map((r, i) => [i, r.predictedMean]) },
      { name: 'actual churn', color: COLORS.actual, markers: true, points: b.map((r, i) => [i, r.actualRate]) },
    ],
    x: { label: 'Observation month', min: -0.5, max: Math.max(0.5, b.length - 0.5), categories: b.map((r, i) => short(r.month, i)) },
    y: { label: 'Churn rate', min: 0, max, format: (v) => rate(v) },
  });
}

export function importanceChart(data: ReportData, top = 12): string {
  return horizontalBarChart({
    id: 'importance', title: 'What drives the predictions',
    description: 'Average absolute contribution of each feature to the log-odds of churn, across the evaluated accounts.',
    items: data.importance.slice(0, top).map((f) => ({ label: labelOf(data, f.feature), value: f.meanAbsContribution, color: COLORS.model })),
    format: (v) => v.toFixed(2),
  });
}

/** The features that moved most (at least the top few, so a stable model still shows its largest PSI). */
export function driftChart(data: ReportData, top = 8): string {
  const colors = { ok: COLORS.actual, warn: '#92400e', alert: '#b91c1c' };
  const moved = movedFeatures(data);
  const shown = moved.length >= 4 ? moved.slice(0, top) : [...data.drift].sort((a, b) => b.psi - a.psi).slice(0, 4);
  return horizontalBarChart({
    id: 'drift', title: 'Drift since training (population stability index)',
    description: `How much each feature's distribution moved between the training data and the latest snapshot; ${MOVED_PSI} and 0.25 are the warning and alert lines.`,
    items: shown.map((d) => ({ label: labelOf(data, d.feature), value: d.psi, color: colors[d.status] })),
    lines: [{ value: MOVED_PSI, label: 'watch' }, { value: 0.25, label: 'alert' }],
    format: (v) => v.toFixed(2),
  });
}
