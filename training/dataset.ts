import { createHash } from 'node:crypto';
import { z } from 'zod';
import { query, withTransaction, type Pool, type PoolClient, type Sql } from '../core/db.ts';
import { ChurnError, describeIssues } from '../core/errors.ts';
import { noProgress, type Progress } from '../core/progress.ts';
import { labelsQuery } from '../features/labels.sql.ts';
import { labelParams, resolveDataEnd, type LabelOptions } from '../features/labels.ts';
import { readFeatureSet, type FeatureSetInfo } from '../features/qa.ts';
import { declaredFields, type NumericColumn, type PreparedTable, type Split } from './table.ts';

const DAY = 86_400_000;
/** activity history the first 'monthly' observation date needs behind it */
const HISTORY_DAYS = 28;
/**
 * rows fetched from the cursor at a time: the set never has to fit in memory at once (a batch of 63
 * features is about 10 MB); measured on 40,000 rows of 63 features, 2,000-row fetches read 65% slower
 * than one query, 10,000-row fetches 6%
 */
const FETCH_ROWS = 10_000;

export const TrainingSetOptionsSchema = z.object({
  featureSetVersion: z.string().min(1),
  horizonDays: z.number().positive().max(3650),
  leadDays: z.number().min(0).max(3650).default(0),
  graceDays: z.number().min(0).max(3650).default(14),
  minTenureDays: z.number().min(0).max(3650).default(14),
  /** the end of the data; default: the last time the source data has evidence of (features/labels.sql.ts) */
  dataEnd: z.date().optional(),
  /**
   * observation dates. 'monthly' (default): the first of every month from four weeks into the event
   * history (and minTenureDays after the first account) to the data end, a rule of the data, so storing
   * other snapshots never changes it; 'stored': the stored snapshot dates; or the dates themselves.
   * Dates whose lead + horizon + grace passes the data end are skipped (and counted).
   */
  asOfs: z.union([z.array(z.date()).min(1), z.literal('monthly'), z.literal('stored')]).default('monthly'),
  /** how many observation dates (before the test dates) form the validation side (0: none) */
  validDates: z.number().int().min(0).default(1),
  /** how many of the latest observation dates form the held-out test side (0: none) */
  testDates: z.number().int().min(0).default(1),
  /** the validation and test dates themselves (a report rebuilding recorded rows): override validDates and testDates */
  sides: z.object({ valid: z.array(z.date()), test: z.array(z.date()) }).optional(),
  /**
   * false (default): an out-of-time split, every account on every side (the time order keeps the sides
   * apart; dates whose churn window runs into the next side's first date are left out). true: accounts
   * are also partitioned by a seeded hash (validShare, testShare), and rows whose account is on another
   * side are dropped.
   */
  groupByAccount: z.boolean().default(false),
  /** with groupByAccount: share of accounts on the validation side */
  validShare: z.number().gt(0).lt(1).default(0.3),
  /** with groupByAccount: share of accounts on the test side */
  testShare: z.number().gt(0).lt(1).default(0.2),
  seed: z.number().int().default(42),
  /** false: a side without rows is no error (a report rebuilding rows whose other sides are gone) */
  requireSides: z.boolean().default(true),
}).refine((o) => !o.groupByAccount || o.testDates === 0 || o.validDates === 0 || o.validShare + o.testShare < 1, {
  message: 'validShare + testShare must leave some accounts for training',
  path: ['testShare'],
});

type ParsedOptions = z.infer<typeof TrainingSetOptionsSchema>;

export type TrainingSetOptions = z.input<typeof TrainingSetOptionsSchema> & {
  /** builds the snapshots of missing dates (the CLI passes features/materialize's buildSnapshots) */
  buildSnapshots?: (asOfs: Date[]) => Promise<unknown>;
  progress?: Progress;
};

export interface TrainingSetStats {
  dataEnd: string | null;
  /** where the data end came from: the option, or the source data */
  dataEndFrom: 'option' | 'data';
  split: 'time' | 'account';
  /** observation dates with rows in the set, and those of each side */
  asOfs: string[];
  trainAsOfs: string[];
  validAsOfs: string[];
  testAsOfs: string[];
  /** observation dates left out because lead + horizon + grace after them passes the data end */
  skippedAsOfs: string[];
  /** time split: dates left out because their churn window runs into the next side's first date */
  purgedAsOfs: string[];
  /** labelled rows at the observation dates that had any (before the split left any out) */
  labelledRows: number;
  /** rows of the purged dates */
  purgedRows: number;
  /** labelled rows dropped because their account is on the other side of the split (groupByAccount) */
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

/** Labelled snapshot rows per observation date (what the split is decided from before any row is read). */
export function labelledCountsQuery(version: string, asOfs: Date[]): Sql {
  return {
    text: `SELECT s.as_of, count(*)::int AS n
FROM churn.feature_snapshots s
JOIN training_labels l ON l.account_id = s.account_id AND l.as_of = s.as_of
JOIN source.accounts a ON a.account_id = s.account_id
WHERE s.feature_set_version = $1 AND s.as_of = ANY ($2::timestamptz[])
GROUP BY s.as_of ORDER BY s.as_of`,
    values: [version, asOfs],
  };
}

type SnapshotRow = { account_id: string; segment: string; churned: boolean; feature_values: (number | null)[] };

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

/** 'monthly': the first of every month from four weeks into the event history (and minTenureDays after the first account) to the data end. */
async function monthlyAsOfs(pool: Pool, o: ParsedOptions, dataEnd: Date | null): Promise<Date[]> {
  const [{ first, events }] = await query<{ first: Date | null; events: Date | null }>(pool, 'SELECT (SELECT min(created_at) FROM source.accounts) AS first, (SELECT min(occurred_at) FROM source.events) AS events');
  if (!first || !dataEnd) return [];
  const start = Math.max(first.getTime() + o.minTenureDays * DAY, events ? Math.floor(events.getTime() / DAY) * DAY + HISTORY_DAYS * DAY : -Infinity);
  return monthStarts(new Date(start), dataEnd);
}

const sortDates = (ds: Date[]) => [...new Map(ds.map((t) => [t.getTime(), t])).values()].sort((a, b) => a.getTime() - b.getTime());
const isoDay = (t: Date) => t.toISOString().slice(0, 10);

/** What every reader of the set needs before the first row: options, data end, dates, feature set. */
interface Plan {
  o: ParsedOptions;
  dataEnd: Date | null;
  dataEndFrom: 'option' | 'data';
  asOfs: Date[];
  skipped: Date[];
  built: Date[];
  fs: FeatureSetInfo;
  label: Omit<LabelOptions, 'asOfs'>;
  progress: Progress;
}

/** Validates the options, resolves the data end and the observation dates, and builds (or refuses) missing snapshots. */
async function planTrainingSet(pool: Pool, options: TrainingSetOptions): Promise<Plan> {
  const parsed = TrainingSetOptionsSchema.safeParse(options);
  if (!parsed.success) throw new ChurnError('CHURN_ERR_VALIDATION', `training set options: ${describeIssues(parsed.error.issues)}`);
  const o = parsed.data;
  if (Array.isArray(o.asOfs) && o.asOfs.some((t) => Number.isNaN(t.getTime()))) throw new ChurnError('CHURN_ERR_VALIDATION', 'training set options: invalid observation date');
  const dataEnd = o.dataEnd ?? (await resolveDataEnd(pool));
  const need = o.leadDays + o.horizonDays + o.graceDays;
  const knownUntil = dataEnd ? dataEnd.getTime() - need * DAY : -Infinity;
  const storedDates = await storedAsOfs(pool, o.featureSetVersion);
  if (o.asOfs === 'stored' && !storedDates.length) {
    throw new ChurnError('CHURN_ERR_NOT_ENOUGH_DATA', `feature set ${o.featureSetVersion} has no stored snapshots; run \`churn features build\` (or use monthly observation dates)`);
  }
  const candidates = sortDates(o.asOfs === 'monthly' ? await monthlyAsOfs(pool, o, dataEnd) : o.asOfs === 'stored' ? storedDates.map((d) => d.asOf) : o.asOfs);
  const asOfs = candidates.filter((t) => t.getTime() <= knownUntil);
  const skipped = candidates.filter((t) => t.getTime() > knownUntil);
  if (!asOfs.length) {
    if (!dataEnd) {
      throw new ChurnError('CHURN_ERR_NOT_ENOUGH_DATA', 'nothing to train on: the source tables hold no events and no subscriptions; load your data with `churn ingest TABLE FILE` (or a demo with `churn generate`)');
    }
    const end = `the data ends ${dataEnd.toISOString()}`;
    const latest = `; the latest observation date with a known outcome is ${new Date(knownUntil).toISOString()}`;
    const what = skipped.length ? `all ${skipped.length} observation dates (${isoDay(skipped[0])}${skipped.length > 1 ? ` .. ${isoDay(skipped[skipped.length - 1])}` : ''}) are too late` : 'there is no observation date';
    throw new ChurnError('CHURN_ERR_NOT_ENOUGH_DATA', `no observation date with a known outcome: ${what}: ${end} and a label needs lead + horizon + grace = ${need} days after its date${latest} (pass --data-end if the data goes further)`);
  }
  const fresh = new Set(storedDates.filter((d) => !d.stale).map((d) => d.asOf.getTime()));
  const have = new Set(storedDates.map((d) => d.asOf.getTime()));
  const missing = asOfs.filter((t) => !fresh.has(t.getTime()));
  if (missing.length) {
    if (!options.buildSnapshots) {
      const absent = missing.filter((t) => !have.has(t.getTime()));
      const hint = o.asOfs === 'monthly' ? ` (or pass --dates stored to use the ${storedDates.length} stored dates)` : '';
      throw new ChurnError('CHURN_ERR_NOT_ENOUGH_DATA', absent.length
        ? `feature set ${o.featureSetVersion} has no snapshot for ${absent.length} of ${asOfs.length} observation dates (first: ${absent[0].toISOString()}); run \`churn features build\` for them${hint}`
        : `the snapshots of ${missing.length} observation dates (first: ${missing[0].toISOString()}) were built before the source data last changed; rebuild them with \`churn features build\``);
    }
    await options.buildSnapshots(missing);
  }
  const fs = await readFeatureSet(pool, o.featureSetVersion);
  const label = { horizonDays: o.horizonDays, leadDays: o.leadDays, graceDays: o.graceDays, minTenureDays: o.minTenureDays, dataEnd: dataEnd ?? undefined };
  return { o, dataEnd, dataEndFrom: o.dataEnd ? 'option' : 'data', asOfs, skipped, built: missing, fs, label, progress: options.progress ?? noProgress };
}

export interface DateSides {
  side: Map<number, Split>;
  /** dates left out so that no churn window runs into a later side */
  purged: Date[];
}

/**
 * The side of each observation date. Explicit `sides` win. Else the latest `testDates` dates are test
 * and the `validDates` before them validation; in a time split (`purgeDays` > 0) a date whose churn
 * window [t, t + purgeDays) runs past the first date of the side after it is left out instead, so no
 * training label reaches into the held-out period. The remaining earlier dates are train.
 */
export function assignDateSides(dates: Date[], o: { validDates: number; testDates: number; purgeDays: number; sides?: { valid: Date[]; test: Date[] } }): DateSides {
  const side = new Map<number, Split>();
  if (o.sides) {
    const valid = new Set(o.sides.valid.map((t) => t.getTime()));
    const test = new Set(o.sides.test.map((t) => t.getTime()));
    for (const t of dates) side.set(t.getTime(), test.has(t.getTime()) ? 'test' : valid.has(t.getTime()) ? 'valid' : 'train');
    return { side, purged: [] };
  }
  const remaining = sortDates(dates);
  const purged: Date[] = [];
  let boundary = Infinity;
  const overlaps = (t: Date) => o.purgeDays > 0 && t.getTime() + o.purgeDays * DAY > boundary;
  for (const [s, count] of [['test', o.testDates], ['valid', o.validDates]] as const) {
    const chosen: Date[] = [];
    while (remaining.length && chosen.length < count) {
      const t = remaining.pop()!;
      if (overlaps(t)) purged.push(t);
      else chosen.unshift(t);
    }
    for (const t of chosen) side.set(t.getTime(), s);
    if (chosen.length) boundary = chosen[0].getTime();
  }
  for (const t of remaining) {
    if (overlaps(t)) purged.push(t);
    else side.set(t.getTime(), 'train');
  }
  return { side, purged: sortDates(purged) };
}

export interface TrainingColumn {
  name: string;
  family?: string;
  risk?: 'increasing' | 'decreasing';
  /** the feature's unit in the catalogue (its values' domain: see training/contract.ts) */
  unit?: string;
  /** what a missing value stands for, where the catalogue declares it (training/table.ts) */
  missing?: 'lowest' | 'highest';
}

/** One labelled row of the database training set. */
export interface TrainingRow {
  id: string;
  accountId: string;
  asOf: string;
  segment: string;
  label: 0 | 1;
  split: Split;
  values: (number | null)[];
}

export interface TrainingSetSink {
  /** called once, before any row */
  start(header: { featureSetVersion: string; columns: TrainingColumn[] }): void | Promise<void>;
  /** rows in order (observation date, then account id), a batch at a time */
  rows(batch: TrainingRow[]): void | Promise<void>;
}

/** Declares a cursor over one date's labelled rows and hands them to `sink` a batch at a time; rows whose side is null are dropped and counted. */
async function readDate(client: PoolClient, plan: Plan, asOf: Date, sideOf: (id: string) => Split | null, sink: TrainingSetSink, onRead: (n: number) => void): Promise<number> {
  const q = labelledSnapshotQuery(plan.fs.version, asOf);
  await client.query(`DECLARE training_rows NO SCROLL CURSOR FOR ${q.text}`, q.values);
  const width = plan.fs.names.length;
  const asOfIso = asOf.toISOString();
  const idOf = (accountId: string) => rowId(accountId, asOf);
  let dropped = 0;
  try {
    for (;;) {
      const { rows } = await client.query<SnapshotRow>(`FETCH FORWARD ${FETCH_ROWS} FROM training_rows`);
      if (!rows.length) break;
      const batch: TrainingRow[] = [];
      for (const r of rows) {
        if (r.feature_values.length !== width) {
          throw new ChurnError('CHURN_ERR_FEATURE_MISMATCH', `snapshot of ${r.account_id} as of ${asOfIso} has ${r.feature_values.length} values; feature set ${plan.fs.version} has ${width} features`);
        }
        const split = sideOf(r.account_id);
        if (split === null) {
          dropped += 1;
          continue;
        }
        const values = r.feature_values;
        for (let k = 0; k < width; k++) if (values[k] === undefined || Number.isNaN(values[k])) values[k] = null;
        batch.push({ id: idOf(r.account_id), accountId: r.account_id, asOf: asOfIso, segment: r.segment, label: r.churned ? 1 : 0, split, values });
      }
      if (batch.length) await sink.rows(batch);
      onRead(rows.length);
    }
  } finally {
    await client.query('CLOSE training_rows');
  }
  return dropped;
}

/**
 * Streams the database training set: stored feature snapshots joined to churn labels over the
 * observation dates, split by date (and by account with groupByAccount), read through a cursor a
 * batch at a time so that no reader needs the whole set in memory. Returns the statistics.
 */
export async function streamTrainingSet(pool: Pool, options: TrainingSetOptions, sink: TrainingSetSink): Promise<TrainingSetStats> {
  const plan = await planTrainingSet(pool, options);
  const { o, fs } = plan;
  return withTransaction(pool, async (client) => {
    // the cursors are read to the end: plan them for the whole result, not for its first rows
    await client.query('SET LOCAL cursor_tuple_fraction = 1.0');
    await client.query('CREATE TEMPORARY TABLE training_labels (account_id text NOT NULL, as_of timestamptz NOT NULL, churned boolean NOT NULL, PRIMARY KEY (as_of, account_id)) ON COMMIT DROP');
    await query(client, fillLabelsQuery(plan.asOfs, plan.label));
    await client.query('ANALYZE training_labels');
    const counts = await query<{ as_of: Date; n: number }>(client, labelledCountsQuery(fs.version, plan.asOfs));
    const withRows = counts.filter((c) => c.n > 0).map((c) => c.as_of);
    const labelledRows = counts.reduce((s, c) => s + c.n, 0);
    if (!withRows.length) throw new ChurnError('CHURN_ERR_NOT_ENOUGH_DATA', `no labelled snapshot rows for feature set ${fs.version} at ${plan.asOfs.length} observation dates`);
    const heldOut = o.sides ? 0 : o.validDates + o.testDates;
    if (heldOut > 0 && withRows.length <= heldOut) {
      throw new ChurnError('CHURN_ERR_NOT_ENOUGH_DATA', `a split with ${o.validDates} validation and ${o.testDates} test dates needs more than ${heldOut} observation dates with labelled rows; found ${withRows.length} (use more dates, or fewer with --valid-dates and --test-dates)`);
    }
    const { side, purged } = assignDateSides(withRows, { validDates: o.validDates, testDates: o.testDates, sides: o.sides, purgeDays: o.groupByAccount ? 0 : o.leadDays + o.horizonDays });
    const kept = withRows.filter((t) => side.has(t.getTime()));
    if (!kept.some((t) => side.get(t.getTime()) === 'train') && o.requireSides) {
      throw new ChurnError('CHURN_ERR_NOT_ENOUGH_DATA', `no training dates are left: ${purged.length} dates before the held-out ones were left out because their ${o.leadDays + o.horizonDays}-day churn window runs into the held-out dates; use more observation dates or --group-by-account`);
    }
    // accounts are partitioned by a seeded hash into the same sides (groupByAccount only)
    const validCut = (o.sides ? o.sides.valid.length > 0 : o.validDates > 0) ? o.validShare : 0;
    const testCut = validCut + ((o.sides ? o.sides.test.length > 0 : o.testDates > 0) ? o.testShare : 0);
    const accountSide = (id: string): Split => {
      const u = accountShare(id, o.seed);
      return u < validCut ? 'valid' : u < testCut ? 'test' : 'train';
    };
    await sink.start({ featureSetVersion: fs.version, columns: fs.names.map((name, k) => ({ name, ...declaredFields(fs, k) })) });
    const total = counts.filter((c) => side.has(c.as_of.getTime())).reduce((s, c) => s + c.n, 0);
    let read = 0;
    let droppedCrossing = 0;
    plan.progress.start(total, 'training set');
    try {
      for (const asOf of kept) {
        const dateSide = side.get(asOf.getTime())!;
        const sideOf = o.groupByAccount ? (id: string) => (accountSide(id) === dateSide ? dateSide : null) : () => dateSide;
        droppedCrossing += await readDate(client, plan, asOf, sideOf, sink, (n) => plan.progress.update((read += n)));
      }
    } finally {
      plan.progress.stop();
    }
    const datesOf = (s: Split) => kept.filter((t) => side.get(t.getTime()) === s).map((t) => t.toISOString());
    return {
      dataEnd: plan.dataEnd?.toISOString() ?? null,
      dataEndFrom: plan.dataEndFrom,
      split: o.groupByAccount ? 'account' : 'time',
      asOfs: kept.map((t) => t.toISOString()),
      trainAsOfs: datesOf('train'),
      validAsOfs: datesOf('valid'),
      testAsOfs: datesOf('test'),
      skippedAsOfs: plan.skipped.map((t) => t.toISOString()),
      purgedAsOfs: purged.map((t) => t.toISOString()),
      labelledRows,
      purgedRows: counts.filter((c) => c.n > 0 && !side.has(c.as_of.getTime())).reduce((s, c) => s + c.n, 0),
      droppedCrossing,
      built: plan.built.map((t) => t.toISOString()),
    };
  });
}

/** The sides a set must have (each with rows): train, and validation and test when asked for. */
export function requireSides(options: Pick<ParsedOptions, 'validDates' | 'testDates' | 'sides' | 'requireSides'>, rowsPerSide: Partial<Record<Split, number>>, kept: number): void {
  if (!options.requireSides) return;
  const wanted: Split[] = ['train'];
  if (options.sides ? options.sides.valid.length : options.validDates > 0) wanted.push('valid');
  if (options.sides ? options.sides.test.length : options.testDates > 0) wanted.push('test');
  for (const s of wanted) {
    if (!rowsPerSide[s]) throw new ChurnError('CHURN_ERR_NOT_ENOUGH_DATA', `the ${s} side of the split is empty (${kept} rows kept; try other shares or more observation dates)`);
  }
}

/** The parsed options (defaults filled in), for callers that record or check them. */
export function parseTrainingSetOptions(options: TrainingSetOptions): ParsedOptions {
  const parsed = TrainingSetOptionsSchema.safeParse(options);
  if (!parsed.success) throw new ChurnError('CHURN_ERR_VALIDATION', `training set options: ${describeIssues(parsed.error.issues)}`);
  return parsed.data;
}

/**
 * The database training set in memory: stored feature snapshots joined to churn labels over a range
 * of observation dates, with an out-of-time split (train on earlier dates, validate on the next
 * `validDates`, test on the latest `testDates`); see streamTrainingSet and TrainingSetOptionsSchema.
 */
export async function buildTrainingSet(pool: Pool, options: TrainingSetOptions): Promise<{ table: PreparedTable; stats: TrainingSetStats }> {
  const o = parseTrainingSetOptions(options);
  let columns: NumericColumn[] = [];
  const table: PreparedTable = { ids: [], label: [], split: [], columns, context: { accountId: [], asOf: [], segment: [] }, source: { kind: 'database', featureSetVersion: o.featureSetVersion, asOfs: [], horizonDays: o.horizonDays } };
  const perSide: Partial<Record<Split, number>> = {};
  const stats = await streamTrainingSet(pool, options, {
    start: (h) => {
      columns = h.columns.map((c) => ({ ...c, kind: 'numeric', values: [] }));
      table.columns = columns;
    },
    rows: (batch) => {
      for (const r of batch) {
        table.ids.push(r.id);
        table.label.push(r.label);
        table.split.push(r.split);
        table.context!.accountId!.push(r.accountId);
        table.context!.asOf!.push(r.asOf);
        table.context!.segment!.push(r.segment);
        for (let k = 0; k < columns.length; k++) columns[k].values.push(r.values[k]);
        perSide[r.split] = (perSide[r.split] ?? 0) + 1;
      }
    },
  });
  requireSides(o, perSide, table.ids.length);
  table.source = { kind: 'database', featureSetVersion: o.featureSetVersion, asOfs: stats.asOfs, horizonDays: o.horizonDays };
  records.set(table, datasetRecord(o, stats));
  return { table, stats };
}

/** The database training set as a prepared table (see buildTrainingSet). */
export async function buildTrainingTable(pool: Pool, options: TrainingSetOptions): Promise<PreparedTable> {
  return (await buildTrainingSet(pool, options)).table;
}

/**
 * What the registry records about a database training set: every option that decides its rows and
 * labels, resolved (the data end, the observation dates of each side), so that a report can rebuild
 * exactly the same rows later, whatever snapshots are stored by then.
 */
export const DatasetRecordSchema = z.object({
  featureSetVersion: z.string().min(1),
  horizonDays: z.number().positive(),
  leadDays: z.number().min(0),
  graceDays: z.number().min(0),
  minTenureDays: z.number().min(0),
  dataEnd: z.string().nullable(),
  split: z.enum(['time', 'account']),
  validShare: z.number().gt(0).lt(1),
  testShare: z.number().gt(0).lt(1),
  seed: z.number().int(),
  asOfs: z.array(z.string()).min(1),
  validAsOfs: z.array(z.string()),
  testAsOfs: z.array(z.string()),
});
export type DatasetRecord = z.infer<typeof DatasetRecordSchema>;

const records = new WeakMap<PreparedTable, DatasetRecord>();

export function datasetRecord(o: ParsedOptions, stats: TrainingSetStats): DatasetRecord {
  return {
    featureSetVersion: o.featureSetVersion, horizonDays: o.horizonDays, leadDays: o.leadDays, graceDays: o.graceDays, minTenureDays: o.minTenureDays,
    dataEnd: stats.dataEnd, split: stats.split, validShare: o.validShare, testShare: o.testShare, seed: o.seed,
    asOfs: stats.asOfs, validAsOfs: stats.validAsOfs, testAsOfs: stats.testAsOfs,
  };
}

/** The record of a table built by buildTrainingSet (undefined for any other table). */
export function datasetRecordOf(table: PreparedTable): DatasetRecord | undefined {
  return records.get(table);
}

/** The options that rebuild a recorded set: the same dates on the same sides, the same labels. */
export function optionsFromRecord(r: DatasetRecord, dates: string[] = r.asOfs): z.input<typeof TrainingSetOptionsSchema> {
  const at = (xs: string[]) => xs.map((s) => new Date(s));
  return {
    featureSetVersion: r.featureSetVersion, horizonDays: r.horizonDays, leadDays: r.leadDays, graceDays: r.graceDays, minTenureDays: r.minTenureDays,
    ...(r.dataEnd ? { dataEnd: new Date(r.dataEnd) } : {}), asOfs: at(dates), sides: { valid: at(r.validAsOfs), test: at(r.testAsOfs) },
    groupByAccount: r.split === 'account', validShare: r.validShare, testShare: r.testShare, seed: r.seed,
  };
}

/**
 * Incremental form of trainingFingerprint: sha256 over the column names and every row's id, label,
 * split and values, fed a row at a time. Numbers are hashed as their IEEE-754 bytes, with a null mask per row.
 */
export class TableFingerprint {
  private readonly h = createHash('sha256');
  private readonly nums: Float64Array;
  private readonly nulls: Uint8Array;
  constructor(columns: { name: string; kind: string }[]) {
    this.h.update(JSON.stringify(columns.map((c) => [c.name, c.kind])));
    this.nums = new Float64Array(columns.length);
    this.nulls = new Uint8Array(columns.length);
  }

  add(id: string, label: number, split: string, values: ArrayLike<number | string | null | undefined>): void {
    let text = '';
    for (let k = 0; k < this.nums.length; k++) {
      const v = values[k];
      this.nulls[k] = v === null || v === undefined ? 1 : 0;
      this.nums[k] = typeof v === 'number' ? v : 0;
      if (typeof v === 'string') text += `${k}:${JSON.stringify(v)}`;
    }
    this.h.update(`\n${JSON.stringify(id)}\t${label}\t${split}\t${text}`);
    this.h.update(this.nulls);
    this.h.update(new Uint8Array(this.nums.buffer));
  }

  digest(): string {
    return this.h.digest('hex');
  }
}

/** sha256 over the column names and every row's id, label, split and values: equal tables, equal fingerprints. */
export function trainingFingerprint(table: PreparedTable): string {
  const f = new TableFingerprint(table.columns);
  const row: (number | string | null)[] = new Array(table.columns.length);
  for (let i = 0; i < table.ids.length; i++) {
    for (let k = 0; k < table.columns.length; k++) row[k] = table.columns[k].values[i];
    f.add(table.ids[i], table.label[i], table.split[i], row);
  }
  return f.digest();
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
