/**
 * `ingestFile`: loads one CSV or JSONL file into a source table, all or nothing.
 *
 * 1. stream the file (checksum and progress by bytes), validate every row against the table's contract;
 * 2. COPY the valid rows, with their line numbers, into a temporary staging table of the session
 *    (nothing shared is written, so concurrent ingests stage side by side);
 * 3. set-based checks on the staging table: duplicate natural keys, unknown parents, parents of
 *    another account;
 * 4. any problem: drop the staging table and throw one CHURN_ERR_BAD_FILE listing the first problems;
 * 5. events: the monthly partitions the file needs, and those of the next months, each in a short
 *    transaction of its own (see partitions.ts), so the ingest transaction never creates one;
 * 6. the ingest transaction: wait for the table's turn (ingests of one table write one at a time),
 *    upsert on the natural key (identical rows untouched) and record the run.
 */
import { createHash } from 'node:crypto';
import fs from 'node:fs/promises';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import { pipeline } from 'node:stream/promises';
import { from as copyFrom } from 'pg-copy-streams';
import { query, type Pool, type PoolClient } from '../../core/db.ts';
import { ChurnError, isChurnError } from '../../core/errors.ts';
import { noProgress, type Progress } from '../../core/progress.ts';
import type { TableContract } from './contract.ts';
import { validateAndEncode } from './copy.ts';
import { createEventPartitions, createEventPartitionsAhead, type PartitionLockOptions } from './partitions.ts';
import { badFileError, MAX_PROBLEMS, ProblemList, type Problem } from './problems.ts';
import { readRecords, type FileFormat } from './read.ts';
import * as sql from './sql.ts';
import { getContract } from './tables.ts';

export { SOURCE_TABLES, SOURCE_TABLE_NAMES, getContract } from './tables.ts';
export type { TableContract } from './contract.ts';
export type { ColumnSpec } from './cells.ts';
export type { Problem } from './problems.ts';
export type { FileFormat } from './read.ts';

export const FILE_FORMATS = ['csv', 'jsonl'] as const satisfies readonly FileFormat[];

export interface IngestOptions {
  /** default: from the extension (.csv; .jsonl or .ndjson) */
  format?: FileFormat;
  /** advanced by bytes read (with the rows read so far) */
  progress?: Progress;
  /** how long creating a month's partition may wait for source.events (tests) */
  partitionLock?: Omit<PartitionLockOptions, 'before'>;
}

export interface IngestResult {
  table: string;
  /** data rows in the file */
  rows: number;
  inserted: number;
  updated: number;
  seconds: number;
  runId: number;
  sha256: string;
  /** what loaded but looks wrong (times of things that happened, after the load): one sentence each */
  notes: string[];
}

export function formatFromPath(filePath: string): FileFormat {
  const ext = path.extname(filePath).toLowerCase();
  if (ext === '.csv') return 'csv';
  if (ext === '.jsonl' || ext === '.ndjson') return 'jsonl';
  throw new ChurnError('CHURN_ERR_VALIDATION', `cannot tell the format of ${filePath} from its extension; name it .csv, .jsonl or .ndjson, or pass --format csv|jsonl`);
}

/** Step 3: duplicate keys, unknown parents and parents of another account, found in SQL on the staging table, with their lines and counts. */
async function stagingProblems(client: PoolClient, contract: TableContract, problems: ProblemList): Promise<void> {
  const check = async (c: sql.StageCheck, column: string, reason: (detail: string) => string) => {
    const rows = await query<sql.LineProblemRow>(client, sql.firstProblemsSql(c, MAX_PROBLEMS));
    if (!rows.length) return;
    const details = [...new Set(rows.map((r) => r.detail))];
    const groups = await query<sql.ProblemGroupRow>(client, sql.problemGroupsSql(c, details));
    const first: Problem[] = rows.map((r) => ({ line: r.line_no, column, reason: reason(r.detail) }));
    problems.merge(first, rows[0].total, groups.map((g) => ({ column, reason: reason(g.detail), count: g.n, lines: g.lines })));
  };
  await check(sql.duplicateKeys(contract), contract.key[0], (first) => `duplicate of line ${first}`);
  for (const ref of contract.references) {
    await check(sql.unknownReference(ref), ref.column, (v) => `unknown ${ref.noun} '${v}' (not in source.${ref.table})`);
  }
  for (const owner of contract.owners) {
    await check(sql.otherAccountsParent(owner), owner.column, (detail) => {
      const [value, theirs, ours] = JSON.parse(detail) as [string, string, string];
      return `${owner.noun} '${value}' belongs to account '${theirs}', not to this row's account '${ours}'`;
    });
  }
}

/** Step 5: the monthly partitions of the staged events' months, and of the months ahead. */
async function preparePartitions(client: PoolClient, contract: TableContract & { partitionColumn: string }, opts: IngestOptions): Promise<void> {
  const [span] = await query<{ lo: Date | null; hi: Date | null }>(client, sql.stageSpanSql(contract.partitionColumn));
  const lock = { ...opts.partitionLock, before: sql.tableTurnSql(contract.name) };
  if (span.lo && span.hi) {
    const to = new Date(span.hi);
    to.setUTCMonth(to.getUTCMonth() + 1);
    await createEventPartitions(client, span.lo, to, lock).catch((err: Error) => {
      // Rows another writer left in the default partition block creating a month's partition.
      throw new ChurnError('CHURN_ERR_DATABASE', `cannot prepare the monthly event partitions for this file: ${err.message}; nothing was loaded`, { cause: err });
    });
  }
  await createEventPartitionsAhead(client, lock);
}

/**
 * Times of things that happened (an event, a ticket, a payment) more than a day after the load: they
 * load, and features count them only once that time has come, but they usually mean a time-zone or
 * date-format error in the export, so each such column gets a note.
 */
async function futureNotes(client: PoolClient, contract: TableContract): Promise<string[]> {
  const columns = contract.columns.filter((c) => c.happened).map((c) => c.name);
  if (!columns.length) return [];
  const found = await query<{ column_name: string; n: number; latest: Date }>(client, sql.stageFutureSql(columns));
  return found.map((f) => `${f.n} row(s) have ${f.column_name} more than a day after now (the latest ${f.latest.toISOString()}): `
    + 'they are loaded, and features count them only once that time has come; check the export\'s time zone and date format');
}

/** Step 6: the upsert, with counts and the run record, in one transaction after the table's turn. */
async function write(client: PoolClient, contract: TableContract, staged: number, run: Omit<sql.RunRecord, 'inserted' | 'updated'>): Promise<{ inserted: number; updated: number; runId: number }> {
  await client.query('BEGIN');
  try {
    await query(client, sql.tableTurnSql(contract.name));
    const [{ n: existing }] = await query<{ n: number }>(client, sql.countExistingSql(contract));
    const [{ n: written }] = await query<{ n: number }>(client, sql.upsertSql(contract));
    const inserted = staged - existing;
    const updated = written - inserted;
    const [{ run_id: runId }] = await query<{ run_id: number }>(client, sql.recordRunSql({ ...run, inserted, updated }));
    await client.query('COMMIT');
    return { inserted, updated, runId };
  } catch (err) {
    await client.query('ROLLBACK').catch(() => undefined);
    throw err;
  }
}

/**
 * Loads `filePath` into `source.<table>`: validated, all or nothing, idempotent. A bad file throws
 * CHURN_ERR_BAD_FILE (details: the first problems, each `{ line, column, reason }`) and leaves the
 * database as it was. Concurrent ingests of one table both succeed: the later one waits for the
 * earlier one's commit before writing.
 */
export async function ingestFile(pool: Pool, table: string, filePath: string, opts: IngestOptions = {}): Promise<IngestResult> {
  const contract = getContract(table);
  const format = opts.format ?? formatFromPath(filePath);
  const stat = await fs.stat(filePath).catch(() => null);
  if (!stat?.isFile()) throw new ChurnError('CHURN_ERR_VALIDATION', `cannot read ${filePath}: no such file`);
  const started = performance.now();
  const progress = opts.progress ?? noProgress;
  const hash = createHash('sha256');
  const problems = new ProblemList();
  const readStats = { rows: 0 };
  const validStats = { valid: 0 };
  let bytes = 0;
  const onChunk = (chunk: Buffer) => {
    hash.update(chunk);
    bytes += chunk.length;
    progress.update(bytes, { rows: readStats.rows });
  };
  progress.start(stat.size);
  const client = await pool.connect();
  let failed = false;
  try {
    // Steps 1-2: the file streams through validation into COPY, with backpressure end to end.
    await query(client, sql.dropStageSql());
    await query(client, sql.createStageSql(contract));
    const records = readRecords(filePath, format, contract, problems, readStats, onChunk);
    await pipeline(validateAndEncode(records, contract, problems, validStats), client.query(copyFrom(sql.copyStageSql(contract))));
    await query(client, sql.analyzeStageSql());
    await stagingProblems(client, contract, problems);
    if (problems.count) throw badFileError(filePath, problems);
    if (contract.partitionColumn) await preparePartitions(client, { ...contract, partitionColumn: contract.partitionColumn }, opts);
    const sha256 = hash.digest('hex');
    const run = { table, file: path.basename(filePath), sha256, rows: readStats.rows };
    const notes = await futureNotes(client, contract);
    const { inserted, updated, runId } = await write(client, contract, validStats.valid, run);
    await query(client, sql.dropStageSql());
    return { table, rows: readStats.rows, inserted, updated, seconds: (performance.now() - started) / 1000, runId, sha256, notes };
  } catch (err) {
    failed = true;
    throw asIngestError(err, filePath);
  } finally {
    // after a failure the session may be mid-statement or hold the staging table: close it
    client.release(failed);
    progress.stop();
  }
}

/** A data error PostgreSQL still raised (a rule the contract missed) is a bad file too; the transaction is already rolled back. */
function asIngestError(err: unknown, filePath: string): unknown {
  if (isChurnError(err)) return err;
  const code = (err as { code?: string }).code ?? '';
  if (/^2[23]/.test(code)) {
    return new ChurnError('CHURN_ERR_BAD_FILE', `${filePath}: PostgreSQL rejected the rows: ${(err as Error).message}; nothing was loaded`, { cause: err });
  }
  if (/^40/.test(code)) {
    // a serialization failure or deadlock with another writer (not with another ingest): safe to retry
    return new ChurnError('CHURN_ERR_DATABASE', `${filePath}: ${(err as Error).message} (with another writer); nothing was loaded; run the ingest again`, { cause: err });
  }
  return err;
}
