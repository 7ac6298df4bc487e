/**
 * Monitoring: how the scores we stored did once their outcome became known (realised AUC and lift
 * per month, from training/evaluate.ts; only scores whose as-of lies after their model's training
 * window: a model's own training and validation rows would flatter it), and how far the latest feature snapshot has drifted from the
 * champion's training snapshot. `runMonitor` stores one row in churn.monitoring_runs; `monitoringMetrics`
 * turns the latest row into Prometheus gauges.
 */
import { z } from 'zod';
import { query, type Pool, type Queryable } from '../../core/db.ts';
import { ChurnError, describeIssues, isChurnError } from '../../core/errors.ts';
import { loadCatalog } from '../../features/catalog.ts';
import { labelParams, resolveDataEnd } from '../../features/labels.ts';
import { liftAt, summariseGroups } from '../../training/evaluate.ts';
import { getModel, loadModel } from '../../training/registry/index.ts';
import { driftNotMeasured, driftSamples, featureDrift, noSnapshotSinceTraining, type FeatureDrift } from '../report/drift.ts';
import { inSampleScoresQuery, insertRunQuery, latestRunQuery, monitoredAsOfsQuery, monitoredScoresQuery, type MonitoredScoreRow } from './sql.ts';

export interface RealisedMonth {
  month: string;
  /** accounts scored that month (latest score per account) */
  scored: number;
  /** of which the outcome is known (churned or retained) */
  labelled: number;
  /** of which the outcome is not known yet (the horizon has not passed) */
  pending: number;
  /**
   * of which never evaluated, as training labels leave them out: accounts too young (under the minimum
   * tenure) or not paying at the as-of time, and those that churned within the lead time
   */
  excluded: number;
  /**
   * 'realised' when every outcome of the month is known; 'pending' while any is not (the metrics are
   * then null: the outcomes known early are the early churners, a biased subset)
   */
  status: 'realised' | 'pending';
  churnRate: number | null;
  meanPredicted: number | null;
  /** null when the labelled rows hold a single class */
  auc: number | null;
  lift10: number | null;
  modelVersions: number[];
}

/** Stored scores of a month left out as in-sample: their as-of lies within their model's training window. */
export interface InSampleMonth {
  month: string;
  accounts: number;
  modelVersions: number[];
}

export interface RealisedPerformance {
  asOf: string;
  /** the one model version whose scores these are, or null: every version's */
  modelVersion?: number | null;
  horizonDays: number;
  /** the end of the data used for labels: the source data's end, or `now` when that is earlier */
  dataEnd: string;
  /** accounts younger than this at their score's as-of time are not evaluated (as in training) */
  minTenureDays: number;
  months: RealisedMonth[];
  /**
   * scores left out of `months` because their model learnt from that time (absent in runs stored
   * before the rule): per month, the accounts and versions
   */
  inSample?: InSampleMonth[];
}

export interface DriftReport {
  modelVersion: number | null;
  featureSetVersion: string | null;
  /** the training side's time: the same weekday and time as `latestAsOf` when `aligned` (report/drift.ts) */
  referenceAsOf: string | null;
  latestAsOf: string | null;
  aligned?: boolean;
  features: FeatureDrift[];
  /**
   * whether drift was measured: false when there is no snapshot since training (`features` is then
   * empty and `note` says why); absent in runs stored before it (then measured when `features` is
   * not empty and the two samples differ)
   */
  measured?: boolean;
  /** why there is no drift, when `features` is empty */
  note?: string;
}

export interface MonitoringResult {
  runId: number;
  asOf: string;
  horizonDays: number;
  modelVersion: number | null;
  realised: RealisedPerformance;
  drift: DriftReport;
  alerts: number;
  warnings: number;
}

export const MonitorOptionsSchema = z.object({
  now: z.date().refine((d) => !Number.isNaN(d.getTime()), 'invalid date'),
  horizonDays: z.number().int().positive().max(3650).default(30),
  graceDays: z.number().int().min(0).max(3650).default(14),
  minTenureDays: z.number().int().min(0).max(3650).default(14),
  /** only this model version's scores (default: every version's) */
  modelVersion: z.number().int().positive().nullable().default(null),
});
export type MonitorOptions = z.input<typeof MonitorOptionsSchema>;

function parseOptions(opts: MonitorOptions): z.infer<typeof MonitorOptionsSchema> {
  const r = MonitorOptionsSchema.safeParse(opts);
  if (!r.success) throw new ChurnError('CHURN_ERR_VALIDATION', `monitor options: ${describeIssues(r.error.issues)}`);
  return r.data;
}

function monthOf(month: string, rows: MonitoredScoreRow[]): RealisedMonth {
  const known = rows.filter((r) => r.status === 'churned' || r.status === 'retained');
  const pending = rows.filter((r) => r.status === 'unknown').length;
  const modelVersions = [...new Set(rows.map((r) => r.model_version))].sort((a, b) => a - b);
  const base = { month, scored: rows.length, labelled: known.length, pending, excluded: rows.length - known.length - pending, modelVersions };
  if (pending > 0 || !known.length) return { ...base, status: 'pending', churnRate: null, meanPredicted: null, auc: null, lift10: null };
  const y = known.map((r) => (r.status === 'churned' ? 1 : 0));
  const p = known.map((r) => r.churn_probability);
  const g = summariseGroups(y, p, known.map(() => month))[month];
  return { ...base, status: 'realised', churnRate: g.churnRate, meanPredicted: g.meanPredicted, auc: g.auc, lift10: g.churnRate > 0 ? liftAt(y, p, 0.1) : null };
}

/**
 * Realised performance of the stored scores (latest per account and month, as of `now` or earlier,
 * of `modelVersion` or every version) whose churn outcome is known by the end of the data (capped at
 * `now`). Scores whose as-of lies within their model's training window are in-sample (the model
 * learnt those accounts' outcomes): they are left out of the months and counted in `inSample`. Reads only.
 */
export async function realisedPerformance(db: Queryable, opts: MonitorOptions): Promise<RealisedPerformance> {
  const o = parseOptions(opts);
  const end = await resolveDataEnd(db);
  const dataEnd = end && end.getTime() < o.now.getTime() ? end : o.now;
  const inSample = (await query<{ month: string; accounts: number; model_versions: number[] }>(db, inSampleScoresQuery(o.now, o.modelVersion)))
    .map((r) => ({ month: r.month, accounts: r.accounts, modelVersions: r.model_versions }));
  const base = { asOf: o.now.toISOString(), modelVersion: o.modelVersion, horizonDays: o.horizonDays, dataEnd: dataEnd.toISOString(), minTenureDays: o.minTenureDays, inSample };
  const asOfs = (await query<{ as_of: Date }>(db, monitoredAsOfsQuery(o.now, o.modelVersion))).map((r) => r.as_of);
  if (!asOfs.length) return { ...base, months: [] };
  const label = labelParams({ asOfs, horizonDays: o.horizonDays, graceDays: o.graceDays, minTenureDays: o.minTenureDays, dataEnd });
  const rows = await query<MonitoredScoreRow & Record<string, unknown>>(db, monitoredScoresQuery(o.now, label, o.modelVersion));
  const byMonth = new Map<string, MonitoredScoreRow[]>();
  for (const r of rows) {
    const list = byMonth.get(r.month);
    if (list) list.push(r);
    else byMonth.set(r.month, [r]);
  }
  return { ...base, months: [...byMonth.keys()].sort().map((m) => monthOf(m, byMonth.get(m)!)) };
}

/** Drift of the champion's features: latest stored snapshot against its training snapshot. */
export async function championDrift(db: Queryable): Promise<DriftReport> {
  const none = (note: string, modelVersion: number | null = null, featureSetVersion: string | null = null): DriftReport => ({
    modelVersion, featureSetVersion, referenceAsOf: null, latestAsOf: null, features: [], note,
  });
  let meta;
  try {
    meta = await getModel(db, 'champion');
  } catch (err) {
    if (isChurnError(err) && err.code === 'CHURN_ERR_MODEL_NOT_FOUND') return none('no champion model');
    throw err;
  }
  if (!meta.featureSetVersion || !meta.trainingWindow) return none(`model version ${meta.version} was not trained on database snapshots`, meta.version);
  const { artifact } = await loadModel(db, meta.version);
  const names = (artifact as { feature_names: string[] }).feature_names;
  let s;
  try {
    s = await driftSamples(db, meta.featureSetVersion, names, new Date(meta.trainingWindow.to), loadCatalog());
  } catch (err) {
    if (isChurnError(err) && err.code === 'CHURN_ERR_NOT_ENOUGH_DATA') return none(err.message, meta.version, meta.featureSetVersion);
    throw err;
  }
  const sides = { modelVersion: meta.version, featureSetVersion: meta.featureSetVersion, referenceAsOf: s.referenceAsOf, latestAsOf: s.latestAsOf, aligned: s.aligned };
  if (noSnapshotSinceTraining(s)) return { ...sides, features: [], measured: false, note: driftNotMeasured(s) };
  return { ...sides, features: featureDrift(names, s), measured: true };
}

/** Computes realised performance and drift, stores them as one monitoring run, and returns it. */
export async function runMonitor(pool: Pool, opts: MonitorOptions): Promise<MonitoringResult> {
  const o = parseOptions(opts);
  const realised = await realisedPerformance(pool, o);
  const drift = await championDrift(pool);
  const alerts = drift.features.filter((f) => f.status === 'alert').length;
  const warnings = drift.features.filter((f) => f.status === 'warn').length;
  const summary = {
    alerts, warnings, driftMeasured: driftMeasured(drift), realisedMonths: realised.months.filter((m) => m.status === 'realised').length,
    dataEnd: realised.dataEnd, minTenureDays: realised.minTenureDays, inSample: realised.inSample,
  };
  const [row] = await query<{ run_id: number }>(pool, insertRunQuery({
    asOf: o.now, horizonDays: o.horizonDays, modelVersion: drift.modelVersion, realised: realised.months, drift, summary,
  }));
  return { runId: row.run_id, asOf: o.now.toISOString(), horizonDays: o.horizonDays, modelVersion: drift.modelVersion, realised, drift, alerts, warnings };
}

interface RunRow {
  run_id: number;
  as_of: Date;
  horizon_days: number;
  model_version: number | null;
  realised: RealisedMonth[];
  drift: DriftReport;
  summary: { dataEnd?: string; minTenureDays?: number; inSample?: InSampleMonth[] };
}

/**
 * Whether a run measured drift: its features were compared with a later snapshot than the training
 * data's own. Runs stored before `measured` existed: features listed, and the two samples differ.
 */
export function driftMeasured(d: DriftReport): boolean {
  return d.measured ?? (d.features.length > 0 && d.referenceAsOf !== d.latestAsOf);
}

/** The latest stored monitoring run, or null when `churn monitor` never ran. */
export async function latestMonitoringRun(db: Queryable): Promise<MonitoringResult | null> {
  const [r] = await query<RunRow & Record<string, unknown>>(db, latestRunQuery());
  if (!r) return null;
  const asOf = r.as_of.toISOString();
  return {
    runId: r.run_id, asOf, horizonDays: r.horizon_days, modelVersion: r.model_version,
    realised: {
      asOf, horizonDays: r.horizon_days, dataEnd: r.summary.dataEnd ?? asOf, minTenureDays: r.summary.minTenureDays ?? MonitorOptionsSchema.shape.minTenureDays.parse(undefined),
      // runs stored before the count existed: what is neither known nor pending
      months: r.realised.map((m) => ({ ...m, excluded: m.excluded ?? m.scored - m.labelled - m.pending })),
      ...(r.summary.inSample ? { inSample: r.summary.inSample } : {}),
    },
    drift: r.drift,
    alerts: r.drift.features.filter((f) => f.status === 'alert').length,
    warnings: r.drift.features.filter((f) => f.status === 'warn').length,
  };
}

export interface Gauge {
  name: string;
  help: string;
  labels: Record<string, string>;
  value: number;
}

/** Names, help texts and labels of the monitoring gauges (jobs/monitor/metrics.ts registers them). */
export const MONITORING_GAUGES = {
  churn_realised_auc: { help: 'ROC AUC of stored scores against the churn that followed, per month scored (scores within their model\'s training window left out)', labelNames: ['month'] },
  churn_realised_lift10: { help: 'lift at 10% of stored scores against realised churn, per month scored', labelNames: ['month'] },
  churn_realised_churn_rate: { help: 'realised churn rate of scored accounts, per month scored', labelNames: ['month'] },
  churn_feature_psi: { help: 'population stability index of each feature, latest snapshot against the training snapshot', labelNames: ['feature'] },
  churn_drift_alerts: { help: 'features whose PSI is at alert level (0.25 or more); absent while drift is not measured (no snapshot since training)', labelNames: [] },
  churn_drift_warnings: { help: 'features whose PSI is at watch level (0.1 to 0.25); absent while drift is not measured (no snapshot since training)', labelNames: [] },
  churn_monitor_run_timestamp_seconds: { help: 'as-of time of the latest monitoring run', labelNames: [] },
} as const satisfies Record<string, { help: string; labelNames: readonly string[] }>;

type GaugeName = keyof typeof MONITORING_GAUGES;

/**
 * The latest monitoring run as flat gauges for Prometheus: realised AUC, lift at 10% and churn rate
 * per month, PSI per feature, the number of features at alert and warn level (only when drift was
 * measured: never a 0 for "no snapshot since training"), and the run's time.
 */
export function monitoringGauges(run: MonitoringResult | null): Gauge[] {
  if (!run) return [];
  const out: Gauge[] = [];
  const add = (name: GaugeName, labels: Record<string, string>, value: number | null) => {
    if (value !== null) out.push({ name, help: MONITORING_GAUGES[name].help, labels, value });
  };
  for (const m of run.realised.months) {
    add('churn_realised_auc', { month: m.month }, m.auc);
    add('churn_realised_lift10', { month: m.month }, m.lift10);
    add('churn_realised_churn_rate', { month: m.month }, m.churnRate);
  }
  if (driftMeasured(run.drift)) {
    for (const f of run.drift.features) add('churn_feature_psi', { feature: f.feature }, f.psi);
    add('churn_drift_alerts', {}, run.alerts);
    add('churn_drift_warnings', {}, run.warnings);
  }
  add('churn_monitor_run_timestamp_seconds', {}, Date.parse(run.asOf) / 1000);
  return out;
}

/** The latest stored monitoring run as gauges (empty when `churn monitor` never ran). */
export async function monitoringMetrics(db: Queryable): Promise<Gauge[]> {
  return monitoringGauges(await latestMonitoringRun(db));
}
