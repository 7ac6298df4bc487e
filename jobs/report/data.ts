/**
 * The accuracy report's data: a zod schema (what `/v1/reports/:version` returns as JSON and what the
 * HTML renderer reads) and `buildReportData`, a pure function from per-row arrays. Every accuracy
 * number comes from training/evaluate.ts; drift comes from ./psi.ts.
 */
import { z } from 'zod';
import { ChurnError, describeIssues } from '../../core/errors.ts';
import { evaluate, EvaluationReportSchema, summariseGroups, type EvaluateOptions } from '../../training/evaluate.ts';
import { psi, psiStatus, type FeatureValue } from './psi.ts';

const Probability = z.number().min(0).max(1);

export const ReportDataSchema = z.object({
  schemaVersion: z.literal(1),
  generatedAt: z.string(),
  model: z.object({
    version: z.number().int().positive(),
    modelType: z.string(),
    createdAt: z.string(),
    featureSetVersion: z.string().nullable(),
    /** what the evaluated rows are, in words (e.g. "held-out test accounts, Jun-Oct 2026") */
    evaluatedOn: z.string(),
  }),
  metrics: EvaluationReportSchema,
  /** the previous champion scored on the same rows */
  previous: z.object({ version: z.number().int().positive(), metrics: EvaluationReportSchema }).nullable(),
  /** the weighted health scorecard on the same rows (risk = 1 - score / 100) */
  scorecard: EvaluationReportSchema.nullable(),
  tiers: z.array(z.object({ tier: z.string(), n: z.number().int(), share: Probability, predictedMean: Probability, actualRate: Probability })),
  backtest: z.array(z.object({ month: z.string(), n: z.number().int(), predictedMean: Probability, actualRate: Probability, auc: Probability.nullable() })),
  segments: z.array(z.object({ segment: z.string(), n: z.number().int(), churnRate: Probability, predictedMean: Probability, auc: Probability.nullable() })),
  importance: z.array(z.object({ feature: z.string(), family: z.string(), meanAbsContribution: z.number().nonnegative() })),
  drift: z.array(z.object({ feature: z.string(), psi: z.number().nonnegative(), status: z.enum(['ok', 'warn', 'alert']) })),
  warnings: z.array(z.string()),
});
export type ReportData = z.infer<typeof ReportDataSchema>;

export interface ReportFeature { name: string; family: string }

export interface ReportInputs {
  generatedAt: string;
  model: ReportData['model'];
  /** outcome per evaluated row (1 = churned) */
  y: number[];
  /** this model's churn probability per row */
  p: number[];
  previous?: { version: number; p: number[] } | null;
  /** the scorecard's risk per row in [0, 1] (1 - health score / 100) */
  scorecardP?: number[] | null;
  /** tier the model assigned to each row, and the display order of tiers (healthiest first) */
  tiers: string[];
  tierOrder?: string[];
  /** observation month per row (YYYY-MM) for the backtest */
  months: string[];
  segments?: string[];
  features: ReportFeature[];
  /** per row, per feature: contribution to the log-odds (same column order as `features`) */
  contributions: number[][];
  /** feature values at training time and in the latest snapshot (rows x features, same columns) */
  trainingFeatures: FeatureValue[][];
  latestFeatures: FeatureValue[][];
  /** how many trailing months the backtest shows, default 12 */
  backtestMonths?: number;
  evaluateOptions?: Pick<EvaluateOptions, 'threshold' | 'bootstrap' | 'seed'>;
}

function requireRows(name: string, got: number, want: number): void {
  if (got !== want) throw new ChurnError('CHURN_ERR_VALIDATION', `${name} has ${got} rows, expected ${want}`);
}

function column(matrix: FeatureValue[][], j: number): FeatureValue[] {
  return matrix.map((row) => row[j]);
}

function warningsFor(data: Omit<ReportData, 'warnings'>): string[] {
  const out: string[] = [];
  for (const d of data.drift) {
    if (d.status !== 'ok') {
      out.push(`${d.feature} has ${d.status === 'alert' ? 'shifted strongly' : 'shifted'} since training (PSI ${d.psi.toFixed(2)}).`);
    }
  }
  if (data.previous && data.metrics.auc < data.previous.metrics.auc) {
    out.push(`AUC ${data.metrics.auc.toFixed(3)} is below the previous champion's ${data.previous.metrics.auc.toFixed(3)} on the same accounts.`);
  }
  if (data.metrics.ece > 0.05) out.push(`Probabilities are off by ${(data.metrics.ece * 100).toFixed(1)} points on average (ECE); treat them as rankings.`);
  for (const t of data.tiers) {
    if (t.n >= 30 && Math.abs(t.actualRate - t.predictedMean) > 0.1) {
      out.push(`Tier ${t.tier}: predicted ${(t.predictedMean * 100).toFixed(0)}% churn, actual ${(t.actualRate * 100).toFixed(0)}%.`);
    }
  }
  return out;
}

/** Builds the report data from per-row arrays; pure (no clock, no I/O). */
export function buildReportData(inputs: ReportInputs): ReportData {
  const n = inputs.y.length;
  requireRows('p', inputs.p.length, n);
  requireRows('tiers', inputs.tiers.length, n);
  requireRows('months', inputs.months.length, n);
  requireRows('contributions', inputs.contributions.length, n);
  if (inputs.previous) requireRows('previous.p', inputs.previous.p.length, n);
  if (inputs.scorecardP) requireRows('scorecardP', inputs.scorecardP.length, n);
  if (inputs.segments) requireRows('segments', inputs.segments.length, n);
  const width = inputs.features.length;
  for (const [name, m] of [['contributions', inputs.contributions], ['trainingFeatures', inputs.trainingFeatures], ['latestFeatures', inputs.latestFeatures]] as const) {
    const bad = m.findIndex((row) => row.length !== width);
    if (bad >= 0) throw new ChurnError('CHURN_ERR_VALIDATION', `${name} row ${bad} has ${m[bad].length} values, expected ${width} features`);
  }
  const opts = { ...inputs.evaluateOptions, segments: inputs.segments };
  const metrics = evaluate(inputs.y, inputs.p, opts);
  const previous = inputs.previous ? { version: inputs.previous.version, metrics: evaluate(inputs.y, inputs.previous.p, opts) } : null;
  const scorecard = inputs.scorecardP ? evaluate(inputs.y, inputs.scorecardP, opts) : null;

  const tierGroups = summariseGroups(inputs.y, inputs.p, inputs.tiers);
  const order = inputs.tierOrder ?? Object.keys(tierGroups);
  const tierNames = [...order.filter((t) => t in tierGroups), ...Object.keys(tierGroups).filter((t) => !order.includes(t))];
  const tiers = tierNames.map((tier) => ({
    tier, n: tierGroups[tier].n, share: tierGroups[tier].n / n, predictedMean: tierGroups[tier].meanPredicted, actualRate: tierGroups[tier].churnRate,
  }));

  const monthGroups = summariseGroups(inputs.y, inputs.p, inputs.months);
  const backtest = Object.keys(monthGroups).slice(-(inputs.backtestMonths ?? 12)).map((month) => ({
    month, n: monthGroups[month].n, predictedMean: monthGroups[month].meanPredicted, actualRate: monthGroups[month].churnRate, auc: monthGroups[month].auc,
  }));

  const segments = Object.entries(metrics.perSegment).map(([segment, s]) => ({
    segment, n: s.n, churnRate: s.churnRate, predictedMean: s.meanPredicted, auc: s.auc,
  }));

  const importance = inputs.features
    .map((f, j) => ({ feature: f.name, family: f.family, meanAbsContribution: inputs.contributions.reduce((s, row) => s + Math.abs(row[j]), 0) / n }))
    .sort((a, b) => b.meanAbsContribution - a.meanAbsContribution || a.feature.localeCompare(b.feature));

  const drift = inputs.features.map((f, j) => {
    const value = psi(column(inputs.trainingFeatures, j), column(inputs.latestFeatures, j));
    return { feature: f.name, psi: value, status: psiStatus(value) };
  });

  const base = { schemaVersion: 1 as const, generatedAt: inputs.generatedAt, model: inputs.model, metrics, previous, scorecard, tiers, backtest, segments, importance, drift };
  return { ...base, warnings: warningsFor(base) };
}

/** Parses report data read back from storage or a file; one clear error when it does not fit. */
export function parseReportData(value: unknown): ReportData {
  const parsed = ReportDataSchema.safeParse(value);
  if (!parsed.success) throw new ChurnError('CHURN_ERR_VALIDATION', `report data is invalid: ${describeIssues(parsed.error.issues)}`);
  return parsed.data;
}
