/**
 * The rows a model version is evaluated on in its accuracy report. For a model trained on the
 * database, the registry records the training set (every option that decides its rows, resolved: the
 * observation dates of each side, the horizon, the data end; training/dataset.ts) and the evaluated
 * rows (how many, their churners, a fingerprint of their ids and labels, per observation date;
 * training/register-run.ts). The report rebuilds exactly those rows from the stored snapshots, whatever
 * else is stored by then, and says precisely what changed when they differ (dates whose snapshots are
 * gone, rows or labels that differ per date, feature values). Versions registered before those records
 * are rebuilt as they were then (the stored snapshots of their training window). A model trained on a
 * prepared CSV table can only be reported on rows the caller passes.
 */
import { z } from 'zod';
import { query, type Pool, type Sql } from '../../core/db.ts';
import { ChurnError } from '../../core/errors.ts';
import type { Progress } from '../../core/progress.ts';
import { buildTrainingSet, DatasetRecordSchema, optionsFromRecord, trainingFingerprint, type DatasetRecord } from '../../training/dataset.ts';
import { evaluationRecord, EvaluationRecordSchema, heldOutRows, type EvaluationRecord } from '../../training/register-run.ts';
import type { ModelVersion } from '../../training/registry/index.ts';
import type { PreparedTable } from '../../training/table.ts';

export interface EvaluationRows {
  table: PreparedTable;
  /** indices of the evaluated rows in `table` */
  rows: number[];
  /** which side they are: 'test' or 'validation' */
  side: 'test' | 'validation';
  /** the training rows (for drift when no snapshot is stored) */
  trainRows: number[];
  horizonDays: number;
  /** the training-set options the rows were rebuilt with (database path; empty for a caller's table) */
  dataset: DatasetOptions;
  /** the training set as the registry recorded it (versions registered with the record) */
  recorded?: DatasetRecord;
  /** true when the rebuilt table has the fingerprint recorded at training time */
  exact: boolean;
  /** what differs from the rows evaluated at training, one sentence each (empty when nothing does) */
  changes: string[];
  /** one sentence describing the rows, for the report header */
  description: string;
}

export interface EvaluationRowsOptions {
  /** churn horizon of the labels; default: the version's recorded horizon (params.dataset.horizonDays or params.horizon_days), else 30 */
  horizonDays?: number;
  /** the prepared table to evaluate on (required for a model trained on a CSV file) */
  table?: PreparedTable;
  /** progress of the rebuild (one step per observation date) */
  progress?: Progress;
}

const snapshotDates = (featureSetVersion: string, from: string, to: string): Sql => ({
  text: `SELECT DISTINCT as_of FROM churn.feature_snapshots
    WHERE feature_set_version = $1 AND as_of >= $2::timestamptz AND as_of <= $3::timestamptz ORDER BY as_of`,
  values: [featureSetVersion, from, to],
});

const storedAmong = (featureSetVersion: string, dates: string[]): Sql => ({
  text: 'SELECT DISTINCT as_of FROM churn.feature_snapshots WHERE feature_set_version = $1 AND as_of = ANY ($2::timestamptz[])',
  values: [featureSetVersion, dates],
});

function numberParam(params: Record<string, unknown>, key: string): number | undefined {
  const v = params[key];
  return typeof v === 'number' && Number.isFinite(v) ? v : undefined;
}

/**
 * The training-set options a version records (params.dataset, camelCase as in TrainingSetOptions);
 * older versions record at most `seed` (and perhaps `horizon_days`) at the top level.
 */
const DatasetParams = z.object({
  horizonDays: z.number().positive(), leadDays: z.number().min(0), graceDays: z.number().min(0), minTenureDays: z.number().min(0),
  validDates: z.number().int().min(0), validShare: z.number().gt(0).lt(1), testDates: z.number().int().min(0), testShare: z.number().gt(0).lt(1),
  seed: z.number().int(), groupByAccount: z.boolean(),
}).partial();

export type DatasetOptions = z.infer<typeof DatasetParams> & { dataEnd?: Date };

/** The split every version registered before the training-set record used: accounts partitioned, the two latest dates validation. */
const LEGACY_SPLIT = { groupByAccount: true, validDates: 2, validShare: 0.3, testDates: 0, testShare: 0.2 } as const;

function datasetParams(params: Record<string, unknown>): DatasetOptions {
  const nested = DatasetParams.safeParse(params.dataset ?? {});
  const fromTop = { horizonDays: numberParam(params, 'horizon_days'), seed: numberParam(params, 'seed') };
  const clean = Object.fromEntries(Object.entries(fromTop).filter(([, v]) => v !== undefined));
  return { ...clean, ...(nested.success ? nested.data : {}) };
}

const day = (iso: string) => iso.slice(0, 10);
const count = (n: number) => n.toLocaleString('en-US');

function describe(table: PreparedTable, rows: number[], side: string, horizonDays: number, changes: string[]): string {
  const asOf = table.context?.asOf;
  const dates = asOf ? [...new Set(rows.map((i) => day(asOf[i])))].sort() : [];
  const when = dates.length ? ` observed ${dates.length > 3 ? `${dates[0]} to ${dates[dates.length - 1]}` : dates.join(', ')}` : '';
  const what = table.source.kind === 'database' ? `held-out rows` : 'held-out rows of the given table';
  const differs = changes.length ? `; not exactly the rows evaluated at training: ${changes.join('; ')}` : '';
  return `${side} ${what}${when}; churn within ${horizonDays} days${differs}`;
}

/** What differs between the evaluated rows recorded at training and the rows rebuilt now, in sentences. */
export function describeChanges(then: EvaluationRecord, now: EvaluationRecord, missingDates: string[] = []): string[] {
  if (then.fingerprint === now.fingerprint && !missingDates.length) return [];
  const out: string[] = [];
  if (missingDates.length) out.push(`no stored snapshot for ${missingDates.map(day).join(', ')} any more`);
  const nowByDate = new Map(now.asOfs.map((d) => [d.asOf, d]));
  const missing = new Set(missingDates);
  for (const d of then.asOfs) {
    if (missing.has(d.asOf)) continue;
    const n = nowByDate.get(d.asOf);
    if (!n) out.push(`${day(d.asOf)}: no labelled rows now (${count(d.rows)} at training)`);
    else if (n.fingerprint !== d.fingerprint) {
      out.push(n.rows === d.rows && n.churned === d.churned
        ? `${day(d.asOf)}: the same number of rows (${count(d.rows)}) and churners (${d.churned}), but other accounts or labels`
        : `${day(d.asOf)}: ${count(n.rows)} rows now vs ${count(d.rows)} at training (${n.rows - d.rows >= 0 ? '+' : ''}${n.rows - d.rows}), ${n.churned} churners vs ${d.churned}`);
    }
  }
  for (const d of now.asOfs) if (!then.asOfs.some((t) => t.asOf === d.asOf)) out.push(`${day(d.asOf)}: ${count(d.rows)} rows that were not evaluated at training`);
  if (!out.length || out.length > 1) out.push(`${count(now.rows)} evaluated rows (${now.churned} churners) now vs ${count(then.rows)} (${then.churned}) at training`);
  return out;
}

/** The rows of one side of a table, the recorded side when the table has it. */
function sideOf(table: PreparedTable, side: 'test' | 'validation'): { rows: number[]; trainRows: number[] } {
  const of = (s: string) => table.split.flatMap((v, i) => (v === s ? [i] : []));
  return { rows: of(side === 'test' ? 'test' : 'valid'), trainRows: of('train') };
}

/** Rebuilds the recorded rows: the same observation dates on the same sides, the same labels (same data end). */
async function fromRecord(pool: Pool, meta: ModelVersion, record: DatasetRecord, evaluated: EvaluationRecord | null, opts: EvaluationRowsOptions): Promise<EvaluationRows> {
  const stored = new Set((await query<{ as_of: Date }>(pool, storedAmong(record.featureSetVersion, record.asOfs))).map((r) => r.as_of.toISOString()));
  const missing = record.asOfs.filter((d) => !stored.has(d));
  const side = evaluated?.side ?? (record.testAsOfs.length ? 'test' : 'validation');
  const sideDates = side === 'test' ? record.testAsOfs : record.validAsOfs;
  if (sideDates.length && sideDates.every((d) => missing.includes(d))) {
    throw new ChurnError('CHURN_ERR_NOT_ENOUGH_DATA', `the ${side} rows of model version ${meta.version} cannot be rebuilt: feature set ${record.featureSetVersion} has no stored snapshot for ${sideDates.map(day).join(', ')} any more (rebuild it with \`churn features build --as-of\` for those dates)`);
  }
  const horizonDays = opts.horizonDays ?? record.horizonDays;
  const rebuilt = { ...record, horizonDays };
  const present = record.asOfs.filter((d) => stored.has(d));
  const { table } = await buildTrainingSet(pool, { ...optionsFromRecord(rebuilt, present), requireSides: false, progress: opts.progress });
  const { rows, trainRows } = sideOf(table, side);
  if (!rows.length) throw new ChurnError('CHURN_ERR_NOT_ENOUGH_DATA', `the ${side} dates of model version ${meta.version} (${sideDates.map(day).join(', ')}) have no labelled rows now`);
  const exact = trainingFingerprint(table) === meta.dataFingerprint;
  const changes: string[] = [];
  if (horizonDays !== record.horizonDays) changes.push(`labels with a ${horizonDays}-day horizon instead of the recorded ${record.horizonDays} days`);
  if (evaluated) changes.push(...describeChanges(evaluated, evaluationRecord(table, { rows, side }), missing.filter((d) => sideDates.includes(d))));
  const otherMissing = missing.filter((d) => !sideDates.includes(d));
  if (otherMissing.length) changes.push(`no stored snapshot for the training dates ${otherMissing.map(day).join(', ')} any more (the evaluated rows do not need them)`);
  if (!exact && !changes.length) changes.push('the evaluated rows and their labels are the same, but feature values or training rows differ (snapshots rebuilt, or the feature code changed)');
  const dataset: DatasetOptions = { horizonDays, leadDays: record.leadDays, graceDays: record.graceDays, minTenureDays: record.minTenureDays, seed: record.seed, groupByAccount: record.split === 'account', validShare: record.validShare, testShare: record.testShare, ...(record.dataEnd ? { dataEnd: new Date(record.dataEnd) } : {}) };
  return { table, rows, side, trainRows, horizonDays, dataset, recorded: record, exact, changes, description: describe(table, rows, side, horizonDays, changes) };
}

/** Rebuilds (or takes) the table a version was trained on and picks its held-out rows. */
export async function evaluationRows(pool: Pool, meta: ModelVersion, opts: EvaluationRowsOptions = {}): Promise<EvaluationRows> {
  const legacy = datasetParams(meta.params);
  const evaluated = EvaluationRecordSchema.safeParse(meta.params.evaluation);
  const horizonDays = opts.horizonDays ?? legacy.horizonDays ?? 30;
  if (opts.table) {
    const { rows, side, trainRows } = heldOutRows(opts.table);
    const exact = trainingFingerprint(opts.table) === meta.dataFingerprint;
    const changes = evaluated.success ? describeChanges(evaluated.data, evaluationRecord(opts.table, { rows, side })) : [];
    return { table: opts.table, rows, side, trainRows, horizonDays, dataset: {}, exact, changes, description: describe(opts.table, rows, side, horizonDays, changes) };
  }
  if (meta.dataSource !== 'database' || !meta.featureSetVersion || !meta.trainingWindow) {
    throw new ChurnError('CHURN_ERR_VALIDATION', `model version ${meta.version} was trained on ${meta.dataSource}, not on the database: its report needs the rows to evaluate on (churn report --from-csv FILE --label COL)`);
  }
  const record = DatasetRecordSchema.safeParse(meta.params.dataset);
  if (record.success) return fromRecord(pool, meta, record.data, evaluated.success ? evaluated.data : null, opts);
  // a version registered before the training-set record: the stored snapshots of its window, the split of then
  const dates = (await query<{ as_of: Date }>(pool, snapshotDates(meta.featureSetVersion, meta.trainingWindow.from, meta.trainingWindow.to))).map((r) => r.as_of);
  if (!dates.length) {
    throw new ChurnError('CHURN_ERR_NOT_ENOUGH_DATA', `no stored snapshot of feature set ${meta.featureSetVersion} between ${meta.trainingWindow.from} and ${meta.trainingWindow.to}: the training rows of model version ${meta.version} cannot be rebuilt`);
  }
  const dataset: DatasetOptions = { ...LEGACY_SPLIT, ...legacy, horizonDays, seed: legacy.seed ?? 42 };
  const { table } = await buildTrainingSet(pool, { ...dataset, horizonDays, featureSetVersion: meta.featureSetVersion, asOfs: dates, progress: opts.progress });
  const { rows, side, trainRows } = heldOutRows(table);
  const exact = trainingFingerprint(table) === meta.dataFingerprint;
  const changes = exact ? [] : ['this version predates the record of its exact rows, so what differs cannot be told (the stored snapshots of its window, the data end or the code changed)'];
  return { table, rows, side, trainRows, horizonDays, dataset, exact, changes, description: describe(table, rows, side, horizonDays, changes) };
}
