/**
 * The rows a model version is evaluated on in its accuracy report. For a model trained on the
 * database, the training table is rebuilt from the stored snapshots of its training window (same
 * feature set, horizon and split seed) and its fingerprint is compared with the one the registry
 * recorded; the evaluated rows are the held-out (validation, or test) side. A model trained on a
 * prepared CSV table can only be reported on rows the caller passes.
 */
import { z } from 'zod';
import { query, type Pool, type Sql } from '../../core/db.ts';
import { ChurnError } from '../../core/errors.ts';
import type { Progress } from '../../core/progress.ts';
import { buildTrainingSet, trainingFingerprint } from '../../training/dataset.ts';
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
  /** true when the rebuilt table has the fingerprint recorded at training time */
  exact: boolean;
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
  seed: z.number().int(),
}).partial();

export type DatasetOptions = z.infer<typeof DatasetParams>;

function datasetParams(params: Record<string, unknown>): DatasetOptions {
  const nested = DatasetParams.safeParse(params.dataset ?? {});
  const fromTop = { horizonDays: numberParam(params, 'horizon_days'), seed: numberParam(params, 'seed') };
  const clean = Object.fromEntries(Object.entries(fromTop).filter(([, v]) => v !== undefined));
  return { ...clean, ...(nested.success ? nested.data : {}) };
}

function sideRows(table: PreparedTable): { rows: number[]; side: 'test' | 'validation'; trainRows: number[] } {
  const of = (s: string) => table.split.flatMap((v, i) => (v === s ? [i] : []));
  const test = of('test');
  const valid = of('valid');
  const rows = test.length ? test : valid;
  if (!rows.length) {
    throw new ChurnError('CHURN_ERR_NOT_ENOUGH_DATA', 'the table has no held-out rows (split `valid` or `test`) to evaluate the model on');
  }
  return { rows, side: test.length ? 'test' : 'validation', trainRows: of('train') };
}

const day = (iso: string) => iso.slice(0, 10);

function describe(table: PreparedTable, rows: number[], side: string, horizonDays: number): string {
  const asOf = table.context?.asOf;
  const dates = asOf ? [...new Set(rows.map((i) => day(asOf[i])))].sort() : [];
  const when = dates.length ? ` observed ${dates.length > 3 ? `${dates[0]} to ${dates[dates.length - 1]}` : dates.join(', ')}` : '';
  const accounts = table.source.kind === 'database' ? 'held-out accounts' : 'held-out rows';
  return `${side} ${accounts}${when}; churn within ${horizonDays} days`;
}

/** Rebuilds (or takes) the table a version was trained on and picks its held-out rows. */
export async function evaluationRows(pool: Pool, meta: ModelVersion, opts: EvaluationRowsOptions = {}): Promise<EvaluationRows> {
  const recorded = datasetParams(meta.params);
  const horizonDays = opts.horizonDays ?? recorded.horizonDays ?? 30;
  if (opts.table) {
    const { rows, side, trainRows } = sideRows(opts.table);
    const exact = trainingFingerprint(opts.table) === meta.dataFingerprint;
    return { table: opts.table, rows, side, trainRows, horizonDays, dataset: {}, exact, description: describe(opts.table, rows, side, horizonDays) };
  }
  if (meta.dataSource !== 'database' || !meta.featureSetVersion || !meta.trainingWindow) {
    throw new ChurnError('CHURN_ERR_VALIDATION', `model version ${meta.version} was trained on ${meta.dataSource}, not on the database: its report needs the rows to evaluate on (churn report --from-csv FILE --label COL)`);
  }
  const dates = (await query<{ as_of: Date }>(pool, snapshotDates(meta.featureSetVersion, meta.trainingWindow.from, meta.trainingWindow.to))).map((r) => r.as_of);
  if (!dates.length) {
    throw new ChurnError('CHURN_ERR_NOT_ENOUGH_DATA', `no stored snapshot of feature set ${meta.featureSetVersion} between ${meta.trainingWindow.from} and ${meta.trainingWindow.to}: the training rows of model version ${meta.version} cannot be rebuilt`);
  }
  const dataset = { ...recorded, horizonDays, seed: recorded.seed ?? 42 };
  const { table } = await buildTrainingSet(pool, { ...dataset, featureSetVersion: meta.featureSetVersion, asOfs: dates, progress: opts.progress });
  const { rows, side, trainRows } = sideRows(table);
  const exact = trainingFingerprint(table) === meta.dataFingerprint;
  return { table, rows, side, trainRows, horizonDays, dataset, exact, description: describe(table, rows, side, horizonDays) };
}
