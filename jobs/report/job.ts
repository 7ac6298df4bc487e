/**
 * The accuracy report of one model version, built from the database: the version's held-out rows
 * (jobs/report/rows.ts) scored by the version itself, by the previous champion and by the weighted
 * scorecard, tiers as serving assigns them, drift against the training snapshot, and the realised
 * performance of stored scores. Every accuracy number comes from training/evaluate.ts through
 * buildReportData; this module only gathers the per-row arrays.
 */
import type { Pool, Queryable } from '../../core/db.ts';
import type { Progress } from '../../core/progress.ts';
import { ChurnError, isChurnError } from '../../core/errors.ts';
import { tableRow } from '../../training/register-run.ts';
import { aliasHistory, getModel, loadModel, type ModelVersion } from '../../training/registry/index.ts';
import { buildReportData, type ReportData } from './data.ts';
import { renderReportHtml } from './render.ts';
import type { FeatureValue } from './psi.ts';
import { baseRateOf, describeSettings, parseArtifact } from '../../training/artifact.ts';
import { createScorer, type Scorer } from '../../training/scorer.ts';
import type { PreparedTable } from '../../training/table.ts';
import { DEFAULT_SERVING_CONFIG, type ServingConfig } from '../../scoring/config.ts';
import { allTierNames, healthScore, resolveSegment, tierOf, type SegmentInfo } from '../../scoring/health.ts';
import { realisedPerformance, type RealisedPerformance } from '../monitor/monitor.ts';
import { driftNote, driftSamples, noSnapshotSinceTraining } from './drift.ts';
import { heldOutBacktest } from './backtest.ts';
import { evaluationRows, type EvaluationRows } from './rows.ts';
import { mrrAt, revenueAtRisk } from './revenue.ts';
import { deploymentSummary } from './deployment.ts';
import { loadCatalog } from '../../features/catalog.ts';
import { MonitorOptionsSchema } from '../monitor/monitor.ts';
import type { AliasMove } from '../../training/registry/types.ts';
import { scorecardScore } from '../../scoring/scorecard.ts';
import { readAccountInfo } from '../../scoring/score-accounts.ts';

export { dbReports, reportJson, saveModelReport, type ModelReportJson } from './store.ts';

export interface BuildReportOptions {
  /** version number or alias (default 'champion') */
  model?: string | number;
  /** the report's time: the cut-off of stored scores, revenue at risk and realised performance */
  now: Date;
  /** when the report is built (default: the clock when it is done); never before the model was created */
  generatedAt?: Date;
  servingConfig?: ServingConfig;
  /** churn horizon of the labels (default: the version's params.horizon_days, else 30) */
  horizonDays?: number;
  /** rows to evaluate on (required for a model trained on a CSV file) */
  table?: PreparedTable;
  /** bootstrap resamples for the confidence intervals (default 200) */
  bootstrap?: number;
  progress?: Progress;
}

export interface ModelReport {
  version: number;
  data: ReportData;
  realised: RealisedPerformance;
  /** true when the evaluated rows were rebuilt exactly as trained on (fingerprint match) */
  exact: boolean;
  /** per evaluated row: label and this model's probability (what the metrics were computed from) */
  rows: { y: number[]; p: number[] };
  html: string;
  json: string;
}

/**
 * The champion before `version`: the most recent model promoted to `champion` before `version` first
 * was (or, for a version never promoted, of all promotions) that is older than it. Never a newer
 * version: a rollback from v3 to v2 does not make v3 "previous" to v2.
 */
export async function previousChampion(db: Queryable, version: number): Promise<number | null> {
  return previousOf(await aliasHistory(db, 'champion'), version);
}

/** Pure: `moves` newest first (as aliasHistory returns them). */
export function previousOf(moves: readonly AliasMove[], version: number): number | null {
  let first = -1;
  for (let i = 0; i < moves.length; i++) if (moves[i].toVersion === version) first = i;
  const before = first >= 0 ? moves.slice(first + 1) : moves;
  return before.find((m) => m.toVersion < version)?.toVersion ?? null;
}

/** The version the alias `champion` points at now, or null. */
async function championVersion(db: Queryable): Promise<number | null> {
  try {
    return (await getModel(db, 'champion')).version;
  } catch (err) {
    if (isChurnError(err) && err.code === 'CHURN_ERR_MODEL_NOT_FOUND') return null;
    throw err;
  }
}

/** When `version` first became champion, or null. */
async function promotedAt(db: Queryable, version: number): Promise<string | null> {
  const moves = await aliasHistory(db, 'champion', { version });
  return moves.filter((m) => m.toVersion === version).at(-1)?.movedAt ?? null;
}

async function scorerOf(db: Queryable, version: number): Promise<Scorer & { baseRate: number; settings: string }> {
  const { artifact } = await loadModel(db, version);
  return Object.assign(createScorer(artifact), { baseRate: baseRateOf(artifact), settings: describeSettings(parseArtifact(artifact, `model version ${version}`)) });
}

function rowValues(table: PreparedTable, rows: number[]): Record<string, number | string | null>[] {
  return rows.map((i) => tableRow(table, i));
}

/** Segment info (account segment, tenure at the row's as-of) per evaluated row. */
async function segmentInfo(db: Queryable, ev: EvaluationRows): Promise<SegmentInfo[]> {
  const ctx = ev.table.context;
  const unknown: SegmentInfo = { accountSegment: null, tenureDays: null };
  if (!ctx?.accountId || !ctx.asOf) return ev.rows.map((i) => ({ ...unknown, accountSegment: ctx?.segment?.[i] ?? null }));
  const byAsOf = new Map<string, string[]>();
  for (const i of ev.rows) byAsOf.set(ctx.asOf[i], [...(byAsOf.get(ctx.asOf[i]) ?? []), ctx.accountId[i]]);
  const info = new Map<string, SegmentInfo>();
  for (const [asOf, ids] of byAsOf) {
    for (const [id, s] of await readAccountInfo(db, ids, new Date(asOf))) info.set(`${id}\u0000${asOf}`, s);
  }
  return ev.rows.map((i) => info.get(`${ctx.accountId![i]}\u0000${ctx.asOf![i]}`) ?? unknown);
}

async function previousScores(db: Queryable, meta: ModelVersion, prev: number | null, values: Record<string, number | string | null>[], warn: (m: string) => void): Promise<{ version: number; p: number[] } | null> {
  if (prev === null) return null;
  try {
    const prevMeta = await getModel(db, prev);
    if (prevMeta.featureSetVersion !== meta.featureSetVersion) {
      warn(`The previous champion (v${prev}) was trained on another feature set (${prevMeta.featureSetVersion ?? 'a prepared table'}); it is left out of the comparison.`);
      return null;
    }
    const scorer = await scorerOf(db, prev);
    const missing = scorer.missingFeatures(Object.keys(values[0] ?? {}));
    if (missing.length) {
      warn(`The previous champion (v${prev}) uses features these rows lack (${missing.slice(0, 3).join(', ')}); it is left out of the comparison.`);
      return null;
    }
    return { version: prev, p: scorer.scoreMany(values).map((s) => s.probability) };
  } catch (err) {
    if (!isChurnError(err)) throw err;
    warn(`The previous champion (v${prev}) could not be scored on these rows: ${err.message}`);
    return null;
  }
}

async function driftInputs(db: Queryable, meta: ModelVersion, scorer: Scorer, ev: EvaluationRows, values: Record<string, number | string | null>[]): Promise<{ training: FeatureValue[][]; latest: FeatureValue[][]; note: string }> {
  if (meta.featureSetVersion && meta.trainingWindow) {
    const s = await driftSamples(db, meta.featureSetVersion, scorer.featureNames, new Date(meta.trainingWindow.to), loadCatalog());
    if (noSnapshotSinceTraining(s)) return { training: [], latest: [], note: `drift: not measured, no snapshot since training (${driftNote(s)})` };
    return { training: s.reference, latest: s.latest, note: `drift: ${driftNote(s)}` };
  }
  const pick = (rows: Record<string, number | string | null>[]) => rows.map((r) => scorer.featureNames.map((f) => r[f] ?? null));
  return { training: pick(rowValues(ev.table, ev.trainRows)), latest: pick(values), note: 'drift: evaluated rows against training rows' };
}

/** MRR at each evaluated row's as-of, or null when the rows carry no account ids. */
async function rowMrr(db: Queryable, ev: EvaluationRows): Promise<(number | null)[] | null> {
  const ctx = ev.table.context;
  if (!ctx?.accountId || !ctx.asOf) return null;
  return mrrAt(db, ev.rows.map((i) => ctx.accountId![i]), ev.rows.map((i) => new Date(ctx.asOf![i])));
}

/** Plain labels of the model's features from the current catalogue (features it no longer has get none). */
function labelled(names: readonly string[], families: readonly string[]): { name: string; family: string; label?: string }[] {
  const catalog = loadCatalog();
  return names.map((name, j) => ({ name, family: families[j], label: catalog.byName.get(name)?.label }));
}

/** Builds the report of one version (default: the champion); reads only. */
export async function buildModelReport(pool: Pool, opts: BuildReportOptions): Promise<ModelReport> {
  const config = opts.servingConfig ?? DEFAULT_SERVING_CONFIG;
  const meta = await getModel(pool, opts.model ?? 'champion');
  const scorer = await scorerOf(pool, meta.version);
  const ev = await evaluationRows(pool, meta, { horizonDays: opts.horizonDays, table: opts.table, progress: opts.progress });
  const extraWarnings: string[] = [];
  if (!ev.exact) extraWarnings.push(`The evaluated rows were rebuilt from the database and differ from the rows the model was trained on: ${ev.changes.length ? ev.changes.join('; ') : 'the data, or the code that builds it, changed since training'}. Numbers may differ from the registry's.`);
  const values = rowValues(ev.table, ev.rows);
  const missing = scorer.missingFeatures(ev.table.columns.map((c) => c.name));
  if (missing.length) {
    throw new ChurnError('CHURN_ERR_FEATURE_MISMATCH', `model version ${meta.version} uses features the evaluated rows lack: ${missing.slice(0, 5).join(', ')}`);
  }
  const scores = scorer.scoreMany(values);
  const y = ev.rows.map((i) => ev.table.label[i]);
  const p = scores.map((s) => s.probability);
  const previousVersion = await previousChampion(pool, meta.version);
  const previous = await previousScores(pool, meta, previousVersion, values, (m) => extraWarnings.push(m));

  const info = await segmentInfo(pool, ev);
  const segs = info.map((s) => resolveSegment(config, s));
  const tiers = p.map((q, k) => tierOf(healthScore(q, config.health, scorer.baseRate), segs[k].tiers).tier.name);
  const known = new Set(scorer.featureNames);
  const usable = config.scorecard.metrics.some((m) => known.has(m.feature));
  const scorecardP = usable
    ? values.map((row, k) => 1 - scorecardScore((f) => (known.has(f) ? row[f] ?? null : undefined), config.scorecard.metrics, segs[k].weights) / 100)
    : null;
  const asOf = ev.table.context?.asOf;
  const months = ev.rows.map((i) => (asOf ? asOf[i].slice(0, 7) : 'all'));
  const segment = ev.table.context?.segment;
  const drift = await driftInputs(pool, meta, scorer, ev, values);

  // this version's scores only, each after its training window (in-sample ones counted apart)
  const realised = await realisedPerformance(pool, { now: opts.now, horizonDays: ev.horizonDays, modelVersion: meta.version });
  const deployment = await deploymentSummary(pool, {
    version: meta.version, until: opts.now, horizonDays: ev.horizonDays, trainedUntil: meta.trainingWindow?.to ?? null, realised,
    graceDays: MonitorOptionsSchema.parse({ now: opts.now }).graceDays,
  });
  const prevMeta = previous ? await getModel(pool, previous.version) : null;
  const tierOrder = allTierNames(config);

  const data = buildReportData({
    // the clock when built; a database clock a little ahead of this one must not date the report before its model
    generatedAt: (opts.generatedAt ?? new Date(Math.max(Date.now(), Date.parse(meta.createdAt)))).toISOString(),
    asOf: opts.now.toISOString(),
    model: {
      version: meta.version, modelType: meta.modelType, settings: scorer.settings, createdAt: meta.createdAt, promotedAt: await promotedAt(pool, meta.version), previousChampion: previousVersion,
      championVersion: await championVersion(pool),
      featureSetVersion: meta.featureSetVersion, evaluatedOn: `${ev.description}; ${drift.note}`,
    },
    y, p, previous: previous && { ...previous, createdAt: prevMeta?.createdAt ?? null }, scorecardP,
    tiers, tierOrder,
    months,
    segments: segment ? ev.rows.map((i) => segment[i]) : undefined,
    features: labelled(scorer.featureNames, scorer.families),
    contributions: scores.map((s) => Array.from(s.contributions)),
    trainingFeatures: drift.training,
    latestFeatures: drift.latest,
    evaluateOptions: { bootstrap: opts.bootstrap ?? 200, seed: typeof meta.params.seed === 'number' ? meta.params.seed : 0 },
    mrr: await rowMrr(pool, ev),
    // this version's own stored scores; else (a version that never scored) the latest of any version, said whose (revenue.scoredBy)
    revenue: await revenueAtRisk(pool, opts.now, tierOrder, { version: meta.version }) ?? await revenueAtRisk(pool, opts.now, tierOrder),
    deployment,
  });
  const held = await heldOutBacktest(pool, ev, scorer);
  if (held) {
    data.backtest = held.backtest;
    data.model.evaluatedOn += `; backtest: the same held-out accounts at ${held.dates} observation dates`;
  }
  data.warnings.push(...extraWarnings);
  const html = renderReportHtml(data, realised);
  const json = `${JSON.stringify({ ...data, realised }, null, 2)}\n`;
  return { version: meta.version, data, realised, exact: ev.exact, rows: { y, p }, html, json };
}
