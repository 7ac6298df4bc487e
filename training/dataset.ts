import { createHash } from 'node:crypto';
import { z } from 'zod';
import { query, withTransaction, type Pool, type Sql } from '../core/db.ts';
import { ChurnError, describeIssues } from '../core/errors.ts';
import { noProgress, type Progress } from '../core/progress.ts';
import { labelsQuery } from '../features/labels.sql.ts';
import { labelParams, resolveDataEnd, type LabelOptions } from '../features/labels.ts';
import { readFeatureSet } from '../features/qa.ts';
import type { NumericColumn, PreparedTable, Split } from './table.ts';

const DAY = 86_400_000;
/** activity history the first 'monthly' observation date needs behind it */
const HISTORY_DAYS = 28;

export const TrainingSetOptionsSchema = z.object({
  featureSetVersion: z.string().min(1),
  horizonDays: z.number().positive().max(3650),
  leadDays: z.number().min(0).max(3650).default(0),
  graceDays: z.number().min(0).max(3650).default(14),
  minTenureDays: z.number().min(0).max(3650).default(14),
  dataEnd: z.date().optional(),
  /** observation dates; 'monthly': the first of every month whose outcome is known; default: the stored snapshot dates */
  asOfs: z.union([z.array(z.date()).min(1), z.literal('monthly')]).optional(),
  /** how many of the latest observation dates are validation candidates (0: everything is train) */
  validDates: z.number().int().min(0).default(2),
  /** share of accounts assigned to the validation side */
  validShare: z.number().gt(0).lt(1).default(0.3),
  /** how many of the very latest observation dates form a held-out test side (after the validation dates) */
  testDates: z.number().int().min(0).default(0),
  /** share of accounts assigned to the test side (when testDates > 0) */
  testShare: z.number().gt(0).lt(1).default(0.2),
  seed: z.number().int().default(42),
}).refine((o) => o.testDates === 0 || o.validDates === 0 || o.validShare + o.testShare < 1, {
  message: 'validShare + testShare must leave some accounts for training',
  path: ['testShare'],
});

export type TrainingSetOptions = z.input<typeof TrainingSetOptionsSchema> & {
  /** builds the snapshots of missing dates (the CLI passes features/materialize's buildSnapshots) */
  buildSnapshots?: (asOfs: Date[]) => Promise<unknown>;
  progress?: Progress;
};

export interface TrainingSetStats {
  dataEnd: string | null;
  asOfs: string[];
  validAsOfs: string[];
  testAsOfs: string[];
  /** labelled rows dropped because their account is on the other side of the split */
  droppedCrossing: number;
  /** snapshot dates built because they were missing or stale */
  built: string[];
}

/** Fills the session's temporary `training_labels` table with the labels of every observation date at once. */
export function fillLabelsQuery(asOfs: Date[], label: Omit<LabelOptions, 'asOfs'>): Sql {
  const l = labelsQuery(labelParams({ ...label, asOfs }));
  return { text: `INSERT INTO training_labels (account_id, as_of, churned) SELECT account_id, as_of, churned FROM (${l.text}) l`, values: l.values };
}

/** Stored snapshot rows of one observation date joined to their labels (unknown outcomes are not in the table). */
export function labelledSnapshotQuery(version: string, asOf: Date): Sql {
  return {
    text: `SELECT s.account_id, a.segment, l.churned, s.feature_values
FROM churn.feature_snapshots s
JOIN training_labels l ON l.account_id = s.account_id AND l.as_of = s.as_of
JOIN source.accounts a ON a.account_id = s.account_id
WHERE s.feature_set_version = $1 AND s.as_of = $2
ORDER BY s.account_id`,
    values: [version, asOf],
  };
}

type SnapshotRow = { account_id: string; segment: string; churned: boolean; feature_values: (number | null)[] };

/** Labels every date in one set-based pass into a temporary table, then reads the labelled snapshots date by date. */
async function readLabelledSnapshots(pool: Pool, version: string, asOfs: Date[], label: Omit<LabelOptions, 'asOfs'>, progress: Progress) {
  return withTransaction(pool, async (client) => {
    await client.query('CREATE TEMPORARY TABLE training_labels (account_id text NOT NULL, as_of timestamptz NOT NULL, churned boolean NOT NULL, PRIMARY KEY (as_of, account_id)) ON COMMIT DROP');
    await query(client, fillLabelsQuery(asOfs, label));
    await client.query('ANALYZE training_labels');
    const perDate: { asOf: Date; rows: SnapshotRow[] }[] = [];
    progress.start(asOfs.length, 'training set');
    for (const asOf of asOfs) {
      perDate.push({ asOf, rows: await query<SnapshotRow>(client, labelledSnapshotQuery(version, asOf)) });
      progress.increment();
    }
    progress.stop();
    return perDate;
  });
}

/** Which side an account falls on: a seeded hash of its id, uniform in [0, 1). */
export function accountShare(accountId: string, seed: number): number {
  return createHash('sha256').update(`${seed}\u0000${accountId}`).digest().readUInt32BE(0) / 2 ** 32;
}

/** Row id on the database path: account and observation date (full timestamp when not midnight UTC). */
export function rowId(accountId: string, asOf: Date): string {
  const iso = asOf.toISOString();
  return `${accountId}@${iso.endsWith('T00:00:00.000Z') ? iso.slice(0, 10) : iso}`;
}

function monthStarts(from: Date, to: Date): Date[] {
  const out: Date[] = [];
  let m = new Date(Date.UTC(from.getUTCFullYear(), from.getUTCMonth(), 1));
  if (m < from) m = new Date(Date.UTC(m.getUTCFullYear(), m.getUTCMonth() + 1, 1));
  for (; m <= to; m = new Date(Date.UTC(m.getUTCFullYear(), m.getUTCMonth() + 1, 1))) out.push(m);
  return out;
}

/**
 * The stored snapshot dates of a feature set; a date is stale when any of its rows was built before the
 * source data last changed (a `churn generate` or `churn ingest` run recorded after it).
 */
async function storedAsOfs(pool: Pool, version: string): Promise<{ asOf: Date; stale: boolean }[]> {
  const rows = await query<{ as_of: Date; stale: boolean }>(pool, {
    text: `SELECT s.as_of, coalesce(min(s.built_at) < (SELECT greatest((SELECT max(created_at) FROM churn.generation_runs), (SELECT max(created_at) FROM churn.ingestion_runs))), false) AS stale
FROM churn.feature_snapshots s WHERE s.feature_set_version = $1 GROUP BY s.as_of ORDER BY s.as_of`,
    values: [version],
  });
  return rows.map((r) => ({ asOf: r.as_of, stale: r.stale }));
}

/**
 * The database training set: stored feature snapshots joined to churn labels over a range of
 * observation dates, with an out-of-time split (train on earlier dates, validate on the latest
 * `validDates`, optionally test on the `testDates` after those) in which accounts are partitioned by
 * a seeded hash so that no account is on two sides.
 */
export async function buildTrainingSet(pool: Pool, options: TrainingSetOptions): Promise<{ table: PreparedTable; stats: TrainingSetStats }> {
  const parsed = TrainingSetOptionsSchema.safeParse(options);
  if (!parsed.success) throw new ChurnError('CHURN_ERR_VALIDATION', `training set options: ${describeIssues(parsed.error.issues)}`);
  const o = parsed.data;
  const progress = options.progress ?? noProgress;
  const dataEnd = o.dataEnd ?? (await resolveDataEnd(pool));
  const knownUntil = dataEnd ? dataEnd.getTime() - (o.leadDays + o.horizonDays + o.graceDays) * DAY : -Infinity;
  const storedDates = await storedAsOfs(pool, o.featureSetVersion);
  const stored = storedDates.map((d) => d.asOf);
  // 'monthly' starts once accounts are old enough and four weeks of activity history exist
  const monthly = async () => {
    const [{ first, events }] = await query<{ first: Date | null; events: Date | null }>(pool, 'SELECT (SELECT min(created_at) FROM source.accounts) AS first, (SELECT min(occurred_at) FROM source.events) AS events');
    if (!first || !Number.isFinite(knownUntil)) return [];
    const start = Math.max(first.getTime() + o.minTenureDays * DAY, events ? Math.floor(events.getTime() / DAY) * DAY + HISTORY_DAYS * DAY : -Infinity);
    return monthStarts(new Date(start), new Date(knownUntil));
  };
  let asOfs: Date[];
  if (Array.isArray(o.asOfs)) asOfs = o.asOfs;
  else if (o.asOfs === 'monthly') asOfs = await monthly();
  else {
    asOfs = stored.filter((t) => t.getTime() <= knownUntil);
    if (!asOfs.length && options.buildSnapshots) asOfs = await monthly();
  }
  asOfs = [...new Map(asOfs.map((t) => [t.getTime(), t])).values()].sort((a, b) => a.getTime() - b.getTime());
  if (!asOfs.length && !stored.length && o.asOfs === undefined) {
    throw new ChurnError('CHURN_ERR_NOT_ENOUGH_DATA', `feature set ${o.featureSetVersion} has no stored snapshots; run \`churn features build\` (or pass observation dates with a snapshot builder)`);
  }
  if (!asOfs.length) {
    throw new ChurnError('CHURN_ERR_NOT_ENOUGH_DATA', `no observation date with a known outcome: the data ends ${dataEnd?.toISOString() ?? 'nowhere (no subscriptions)'} and a label needs lead + horizon + grace = ${o.leadDays + o.horizonDays + o.graceDays} days after it`);
  }
  const fresh = new Set(storedDates.filter((d) => !d.stale).map((d) => d.asOf.getTime()));
  const have = new Set(stored.map((t) => t.getTime()));
  const missing = asOfs.filter((t) => !fresh.has(t.getTime()));
  if (missing.length) {
    if (!options.buildSnapshots) {
      const absent = missing.filter((t) => !have.has(t.getTime()));
      throw new ChurnError('CHURN_ERR_NOT_ENOUGH_DATA', absent.length
        ? `feature set ${o.featureSetVersion} has no snapshot for ${absent.length} of ${asOfs.length} observation dates (first: ${absent[0].toISOString()}); run \`churn features build\` for them`
        : `the snapshots of ${missing.length} observation dates (first: ${missing[0].toISOString()}) were built before the source data last changed; rebuild them with \`churn features build\``);
    }
    await options.buildSnapshots(missing);
  }
  const fs = await readFeatureSet(pool, o.featureSetVersion);
  const label = { horizonDays: o.horizonDays, leadDays: o.leadDays, graceDays: o.graceDays, minTenureDays: o.minTenureDays, dataEnd: dataEnd ?? undefined };

  // 1. labelled rows per observation date
  const perDate = await readLabelledSnapshots(pool, fs.version, asOfs, label, progress);
  const withRows = perDate.filter((p) => p.rows.length);
  if (!withRows.length) throw new ChurnError('CHURN_ERR_NOT_ENOUGH_DATA', `no labelled snapshot rows for feature set ${fs.version} at ${asOfs.length} observation dates`);
  const heldOut = o.validDates + o.testDates;
  if (heldOut > 0 && withRows.length <= heldOut) {
    throw new ChurnError('CHURN_ERR_NOT_ENOUGH_DATA', `an out-of-time split needs more than ${heldOut} observation dates with labelled rows; found ${withRows.length}`);
  }

  // 2. out-of-time split: the latest dates are test, the ones before valid, the rest train; accounts
  //    are partitioned by a seeded hash into the same sides, and rows whose account is elsewhere are dropped
  const n = withRows.length;
  const dateSideOf = (k: number): Split => (k >= n - o.testDates ? 'test' : k >= n - heldOut ? 'valid' : 'train');
  const validCut = o.validDates > 0 ? o.validShare : 0;
  const testCut = validCut + (o.testDates > 0 ? o.testShare : 0);
  const sideOf = new Map<string, Split>();
  const side = (id: string): Split => {
    let s = sideOf.get(id);
    if (!s) {
      const u = accountShare(id, o.seed);
      sideOf.set(id, (s = u < validCut ? 'valid' : u < testCut ? 'test' : 'train'));
    }
    return s;
  };
  const columns = fs.names.map((name, k): NumericColumn => ({ name, kind: 'numeric', values: [], ...(fs.families[k] ? { family: fs.families[k] } : {}), ...(fs.risks[k] ? { risk: fs.risks[k] } : {}) }));
  const table: PreparedTable = {
    ids: [],
    label: [],
    split: [],
    columns,
    context: { accountId: [], asOf: [], segment: [] },
    source: { kind: 'database', featureSetVersion: fs.version, asOfs: withRows.map((p) => p.asOf.toISOString()), horizonDays: o.horizonDays },
  };
  let droppedCrossing = 0;
  for (const [dateIndex, { asOf, rows }] of withRows.entries()) {
    const dateSide = dateSideOf(dateIndex);
    const asOfIso = asOf.toISOString();
    for (const r of rows) {
      if (r.feature_values.length !== columns.length) {
        throw new ChurnError('CHURN_ERR_FEATURE_MISMATCH', `snapshot of ${r.account_id} as of ${asOfIso} has ${r.feature_values.length} values; feature set ${fs.version} has ${columns.length} features`);
      }
      if (heldOut > 0 && side(r.account_id) !== dateSide) {
        droppedCrossing += 1;
        continue;
      }
      table.ids.push(rowId(r.account_id, asOf));
      table.label.push(r.churned ? 1 : 0);
      table.split.push(dateSide);
      table.context!.accountId!.push(r.account_id);
      table.context!.asOf!.push(asOfIso);
      table.context!.segment!.push(r.segment);
      for (let k = 0; k < columns.length; k++) {
        const v = r.feature_values[k];
        columns[k].values.push(v === null || v === undefined || Number.isNaN(v) ? null : v);
      }
    }
  }
  const sides: Split[] = ['train', ...(o.validDates > 0 ? (['valid'] as const) : []), ...(o.testDates > 0 ? (['test'] as const) : [])];
  for (const s of sides) {
    if (!table.split.includes(s)) throw new ChurnError('CHURN_ERR_NOT_ENOUGH_DATA', `the ${s} side of the split is empty (${table.ids.length} rows kept; try other shares or more observation dates)`);
  }
  const datesOf = (side: Split) => withRows.filter((_, k) => dateSideOf(k) === side).map((p) => p.asOf.toISOString());
  return {
    table,
    stats: {
      dataEnd: dataEnd?.toISOString() ?? null,
      asOfs: table.source.kind === 'database' ? table.source.asOfs : [],
      validAsOfs: datesOf('valid'),
      testAsOfs: datesOf('test'),
      droppedCrossing,
      built: missing.map((t) => t.toISOString()),
    },
  };
}

/** The database training set as a prepared table (see buildTrainingSet). */
export async function buildTrainingTable(pool: Pool, options: TrainingSetOptions): Promise<PreparedTable> {
  return (await buildTrainingSet(pool, options)).table;
}

/**
 * sha256 over the column names and every row's id, label, split and values: equal tables, equal
 * fingerprints. Numbers are hashed as their IEEE-754 bytes (exact, and fast), with a null mask per row.
 */
export function trainingFingerprint(table: PreparedTable): string {
  const h = createHash('sha256');
  const cols = table.columns;
  h.update(JSON.stringify(cols.map((c) => [c.name, c.kind])));
  const nums = new Float64Array(cols.length);
  const nulls = new Uint8Array(cols.length);
  for (let i = 0; i < table.ids.length; i++) {
    let text = '';
    for (let k = 0; k < cols.length; k++) {
      const v = cols[k].values[i];
      nulls[k] = v === null || v === undefined ? 1 : 0;
      nums[k] = typeof v === 'number' ? v : 0;
      if (typeof v === 'string') text += `${k}:${JSON.stringify(v)}`;
    }
    h.update(`\n${JSON.stringify(table.ids[i])}\t${table.label[i]}\t${table.split[i]}\t${text}`);
    h.update(nulls);
    h.update(new Uint8Array(nums.buffer));
  }
  return h.digest('hex');
}

/** Rows, churn rate and per-split sizes of a table. */
export function summarizeTable(table: PreparedTable): { rows: number; churnRate: number; splits: Partial<Record<Split, { rows: number; churned: number }>> } {
  const splits: Partial<Record<Split, { rows: number; churned: number }>> = {};
  let churned = 0;
  table.ids.forEach((_, i) => {
    const s = (splits[table.split[i]] ??= { rows: 0, churned: 0 });
    s.rows += 1;
    s.churned += table.label[i];
    churned += table.label[i];
  });
  return { rows: table.ids.length, churnRate: table.ids.length ? churned / table.ids.length : 0, splits };
}
