/**
 * The accuracy report's data: a zod schema (what `/v1/reports/:version` returns as JSON and what the
 * HTML renderer reads) and `buildReportData`, a pure function from per-row arrays. Every accuracy
 * number comes from training/evaluate.ts, with the deciles (and capture and lift at 10% and 20%) from
 * the report's one ranking (./ranking.ts); drift comes from ./psi.ts.
 */
import { z } from 'zod';
import { ChurnError, describeIssues } from '../../core/errors.ts';
import { evaluate, EvaluationReportSchema, MIN_CHURNERS, summariseGroups, type EvaluateOptions } from '../../training/evaluate.ts';
import { psi, psiStatus, type FeatureValue } from './psi.ts';
import { quantileCalibration, withRiskDeciles } from './ranking.ts';
import { caughtRevenue, CaughtRevenueSchema, RevenueAtRiskSchema, type RevenueAtRisk } from './revenue.ts';
import { DeploymentSchema, type Deployment } from './deployment.ts';

const Probability = z.number().min(0).max(1);

/** PSI from which a feature counts as moved (the warning line). */
export const MOVED_PSI = 0.1;

export const ReportDataSchema = z.object({
  schemaVersion: z.literal(2),
  /** when the report was built (never before the model was created) */
  generatedAt: z.string(),
  /** the report's time: cut-off of stored scores, revenue and realised outcomes */
  asOf: z.string(),
  model: z.object({
    version: z.number().int().positive(),
    modelType: z.string(),
    /** the model's main settings in words (training/artifact.ts describeSettings) */
    settings: z.string().optional(),
    createdAt: z.string(),
    /** when it first became champion, if it did */
    promotedAt: z.string().nullable(),
    /** the champion promoted before it (in `previous` when it could be scored on the same rows) */
    previousChampion: z.number().int().positive().nullable(),
    /** the current champion when the report was built (null: none; absent in older reports) */
    championVersion: z.number().int().positive().nullable().optional(),
    featureSetVersion: z.string().nullable(),
    /** what the evaluated rows are, in words (e.g. "held-out test accounts, Jun-Oct 2026") */
    evaluatedOn: z.string(),
  }),
  metrics: EvaluationReportSchema,
  /** the champion before this model (promoted before it), scored on the same rows */
  previous: z.object({ version: z.number().int().positive(), createdAt: z.string().nullable(), metrics: EvaluationReportSchema }).nullable(),
  /** the weighted health scorecard on the same rows (risk = 1 - score / 100) */
  scorecard: EvaluationReportSchema.nullable(),
  /** equal-count bins by predicted risk, lowest first */
  calibration: z.array(z.object({ bin: z.number().int().positive(), n: z.number().int(), lower: Probability, upper: Probability, meanPredicted: Probability, observedRate: Probability })),
  tiers: z.array(z.object({ tier: z.string(), n: z.number().int(), share: Probability, predictedMean: Probability, actualRate: Probability })),
  backtest: z.array(z.object({ month: z.string(), n: z.number().int(), predictedMean: Probability, actualRate: Probability, auc: Probability.nullable() })),
  segments: z.array(z.object({ segment: z.string(), n: z.number().int(), churnRate: Probability, predictedMean: Probability, auc: Probability.nullable() })),
  /** every feature's plain label (from the catalogue), by feature name */
  labels: z.record(z.string(), z.string()),
  importance: z.array(z.object({ feature: z.string(), family: z.string(), meanAbsContribution: z.number().nonnegative() })),
  drift: z.array(z.object({ feature: z.string(), psi: z.number().nonnegative(), status: z.enum(['ok', 'warn', 'alert']) })),
  /** MRR of customers by tier and action from the latest stored scores (null: none stored yet) */
  revenue: RevenueAtRiskSchema.nullable(),
  /** MRR of the evaluated churners the riskiest 10% and 20% caught (null: rows without accounts) */
  caught: CaughtRevenueSchema.nullable(),
  /** this version's stored scores and when their outcomes become known */
  deployment: DeploymentSchema.nullable(),
  warnings: z.array(z.string()),
});
export type ReportData = z.infer<typeof ReportDataSchema>;

export interface ReportFeature {
  name: string;
  family: string;
  /** plain short name from the feature catalogue (default: the name in words) */
  label?: string;
}

/** A feature name in words when the catalogue has no label for it: `days_late_mean_180d` -> "Days late mean 180d". */
export function plainLabel(name: string): string {
  const words = name.replace(/_/g, ' ').trim();
  return words.charAt(0).toUpperCase() + words.slice(1);
}

export interface ReportInputs {
  /** when the report is built; never before model.createdAt */
  generatedAt: string;
  /** the report's time (default generatedAt) */
  asOf?: string;
  model: Omit<ReportData['model'], 'promotedAt' | 'previousChampion'> & { promotedAt?: string | null; previousChampion?: number | null };
  /** outcome per evaluated row (1 = churned) */
  y: number[];
  /** this model's churn probability per row */
  p: number[];
  previous?: { version: number; createdAt?: string | null; p: number[] } | null;
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
  /**
   * feature values at training time and in the latest snapshot (rows x features, same columns); both
   * empty when there is no snapshot since training: drift is then not measured (`drift` is empty)
   */
  trainingFeatures: FeatureValue[][];
  latestFeatures: FeatureValue[][];
  /** how many trailing months the backtest shows, default 12 */
  backtestMonths?: number;
  evaluateOptions?: Pick<EvaluateOptions, 'threshold' | 'bootstrap' | 'seed'>;
  /** per evaluated row: MRR at its as-of (null: unknown); omitted when the rows have no accounts */
  mrr?: (number | null)[] | null;
  revenue?: RevenueAtRisk | null;
  deployment?: Deployment | null;
}

function requireRows(name: string, got: number, want: number): void {
  if (got !== want) throw new ChurnError('CHURN_ERR_VALIDATION', `${name} has ${got} rows, expected ${want}`);
}

function column(matrix: FeatureValue[][], j: number): FeatureValue[] {
  return matrix.map((row) => row[j]);
}

/** The features that moved since training (PSI at least MOVED_PSI), most moved first. */
export function movedFeatures(data: Pick<ReportData, 'drift'>): ReportData['drift'] {
  return data.drift.filter((d) => d.psi >= MOVED_PSI).sort((a, b) => b.psi - a.psi || a.feature.localeCompare(b.feature));
}

/**
 * What the compared model is to this one, in words: the "previous champion" of a version that was
 * champion; for a version never promoted, the "current champion" (or an "earlier champion" when the
 * champion has moved on to a newer version since).
 */
export function previousRole(data: Pick<ReportData, 'model' | 'previous'>): string {
  if (data.model.promotedAt) return 'previous champion';
  const v = data.previous?.version ?? data.model.previousChampion;
  return v !== null && v === data.model.championVersion ? 'current champion' : 'earlier champion';
}

/** "a, b, c and 2 more" */
export function listed(items: string[], max = 3): string {
  if (items.length <= 1) return items.join('');
  if (items.length <= max) return `${items.slice(0, -1).join(', ')} and ${items[items.length - 1]}`;
  return `${items.slice(0, max).join(', ')} and ${items.length - max} more`;
}

/** A feature's plain label (its name in words when the report has none for it). */
export function labelOf(data: Pick<ReportData, 'labels'>, feature: string): string {
  return data.labels[feature] ?? plainLabel(feature);
}

/** "Label (0.36), Label (0.12) and 2 more": moved features with their PSI. */
export function movedList(data: Pick<ReportData, 'labels'>, moved: ReportData['drift']): string {
  return listed(moved.map((d) => `${labelOf(data, d.feature)} (${d.psi.toFixed(2)})`));
}

/** Churners a group needs before its AUC is shown, and the evaluated rows before their figures go without a warning. */
export const MIN_CHURNERS_FOR_AUC = MIN_CHURNERS;

function warningsFor(data: Omit<ReportData, 'warnings'>): string[] {
  const out: string[] = [];
  const m = data.metrics;
  if (m.positives < MIN_CHURNERS_FOR_AUC) {
    const ci = m.ci ? ` (the AUC's 95% interval runs from ${m.ci.auc.lower.toFixed(2)} to ${m.ci.auc.upper.toFixed(2)})` : '';
    out.push(`Only ${m.positives} of the ${m.n} evaluated accounts churned: with so few, one account moves every figure here a long way${ci}; read them as a first look, not a verdict.`);
  }
  const moved = movedFeatures(data);
  const strongly = moved.filter((d) => d.status === 'alert');
  const watch = moved.filter((d) => d.status !== 'alert');
  if (strongly.length) out.push(`${strongly.length} of ${data.drift.length} input features shifted strongly since training (PSI 0.25 or more): ${movedList(data, strongly)}.`);
  if (watch.length) out.push(`${watch.length} of ${data.drift.length} input features shifted since training (PSI 0.1 to 0.25): ${movedList(data, watch)}.`);
  if (data.previous && data.metrics.auc < data.previous.metrics.auc) {
    out.push(`AUC ${data.metrics.auc.toFixed(3)} is below the ${previousRole(data)}'s (v${data.previous.version}) ${data.previous.metrics.auc.toFixed(3)} on the same accounts.`);
  }
  if (data.metrics.ece > 0.05) out.push(`Probabilities are off by ${(data.metrics.ece * 100).toFixed(1)} points on average (ECE); treat them as rankings.`);
  for (const t of data.tiers) {
    if (t.n >= 30 && Math.abs(t.actualRate - t.predictedMean) > 0.1) {
      out.push(`Tier ${t.tier}: predicted ${(t.predictedMean * 100).toFixed(0)}% churn, actual ${(t.actualRate * 100).toFixed(0)}%.`);
    }
  }
  return out;
}

function checkInputs(inputs: ReportInputs): void {
  const n = inputs.y.length;
  requireRows('p', inputs.p.length, n);
  requireRows('tiers', inputs.tiers.length, n);
  requireRows('months', inputs.months.length, n);
  requireRows('contributions', inputs.contributions.length, n);
  if (inputs.previous) requireRows('previous.p', inputs.previous.p.length, n);
  if (inputs.scorecardP) requireRows('scorecardP', inputs.scorecardP.length, n);
  if (inputs.segments) requireRows('segments', inputs.segments.length, n);
  if (inputs.mrr) requireRows('mrr', inputs.mrr.length, n);
  const width = inputs.features.length;
  for (const [name, m] of [['contributions', inputs.contributions], ['trainingFeatures', inputs.trainingFeatures], ['latestFeatures', inputs.latestFeatures]] as const) {
    const bad = m.findIndex((row) => row.length !== width);
    if (bad >= 0) throw new ChurnError('CHURN_ERR_VALIDATION', `${name} row ${bad} has ${m[bad].length} values, expected ${width} features`);
  }
  const generated = Date.parse(inputs.generatedAt);
  if (Number.isNaN(generated)) throw new ChurnError('CHURN_ERR_VALIDATION', `generatedAt ${JSON.stringify(inputs.generatedAt)} is not a time`);
  if (generated < Date.parse(inputs.model.createdAt)) {
    throw new ChurnError('CHURN_ERR_VALIDATION', `a report generated at ${inputs.generatedAt} cannot report model v${inputs.model.version}, created later (${inputs.model.createdAt})`);
  }
}

/** Builds the report data from per-row arrays; pure (no clock, no I/O). */
export function buildReportData(inputs: ReportInputs): ReportData {
  checkInputs(inputs);
  const n = inputs.y.length;
  const { y, p } = inputs;
  const opts = { ...inputs.evaluateOptions, segments: inputs.segments };
  const metrics = withRiskDeciles(evaluate(y, p, opts), y, p);
  const previous = inputs.previous
    ? { version: inputs.previous.version, createdAt: inputs.previous.createdAt ?? null, metrics: withRiskDeciles(evaluate(y, inputs.previous.p, opts), y, inputs.previous.p) }
    : null;
  const scorecard = inputs.scorecardP ? withRiskDeciles(evaluate(y, inputs.scorecardP, opts), y, inputs.scorecardP) : null;

  const tierGroups = summariseGroups(y, p, inputs.tiers);
  const order = inputs.tierOrder ?? Object.keys(tierGroups);
  const tierNames = [...order.filter((t) => t in tierGroups), ...Object.keys(tierGroups).filter((t) => !order.includes(t))];
  const tiers = tierNames.map((tier) => ({
    tier, n: tierGroups[tier].n, share: tierGroups[tier].n / n, predictedMean: tierGroups[tier].meanPredicted, actualRate: tierGroups[tier].churnRate,
  }));

  const monthGroups = summariseGroups(y, p, inputs.months);
  const backtest = Object.keys(monthGroups).slice(-(inputs.backtestMonths ?? 12)).map((month) => ({
    month, n: monthGroups[month].n, predictedMean: monthGroups[month].meanPredicted, actualRate: monthGroups[month].churnRate, auc: monthGroups[month].auc,
  }));

  const segments = Object.entries(metrics.perSegment).map(([segment, s]) => ({
    segment, n: s.n, churnRate: s.churnRate, predictedMean: s.meanPredicted, auc: s.auc,
  }));

  const labels = Object.fromEntries(inputs.features.map((f) => [f.name, f.label ?? plainLabel(f.name)]));
  const importance = inputs.features
    .map((f, j) => ({ feature: f.name, family: f.family, meanAbsContribution: inputs.contributions.reduce((s, row) => s + Math.abs(row[j]), 0) / n }))
    .sort((a, b) => b.meanAbsContribution - a.meanAbsContribution || a.feature.localeCompare(b.feature));

  const drift = !inputs.trainingFeatures.length || !inputs.latestFeatures.length ? [] : inputs.features.map((f, j) => {
    const value = psi(column(inputs.trainingFeatures, j), column(inputs.latestFeatures, j));
    return { feature: f.name, psi: value, status: psiStatus(value) };
  });

  const base = {
    schemaVersion: 2 as const, generatedAt: inputs.generatedAt, asOf: inputs.asOf ?? inputs.generatedAt,
    model: { ...inputs.model, promotedAt: inputs.model.promotedAt ?? null, previousChampion: inputs.model.previousChampion ?? inputs.previous?.version ?? null },
    metrics, previous, scorecard, calibration: quantileCalibration(y, p), tiers, backtest, segments, labels, importance, drift,
    revenue: inputs.revenue ?? null,
    caught: inputs.mrr ? caughtRevenue(y, p, inputs.mrr) : null,
    deployment: inputs.deployment ?? null,
  };
  return { ...base, warnings: warningsFor(base) };
}

/** Parses report data read back from storage or a file; one clear error when it does not fit. */
export function parseReportData(value: unknown): ReportData {
  const parsed = ReportDataSchema.safeParse(value);
  if (!parsed.success) throw new ChurnError('CHURN_ERR_VALIDATION', `report data is invalid: ${describeIssues(parsed.error.issues)}`);
  return parsed.data;
}
