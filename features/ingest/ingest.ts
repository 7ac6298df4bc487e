/**
 * `ingestFile`: loads one CSV or JSONL file into a source table, all or nothing.
 *
 * 1. stream the file (checksum and progress by bytes), validate every row against the table's contract;
 * 2. COPY the valid rows, with their line numbers, into a temporary staging table, in one transaction;
 * 3. set-based checks on the staging table: duplicate natural keys, unknown parents;
 * 4. any problem: roll back and throw one CHURN_ERR_BAD_FILE listing the first problems;
 * 5. otherwise upsert on the natural key (identical rows untouched) and record the run.
 */
import { createHash } from 'node:crypto';
import fs from 'node:fs/promises';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import { pipeline } from 'node:stream/promises';
import { from as copyFrom } from 'pg-copy-streams';
import { query, withTransaction, type Pool, type PoolClient } from '../../core/db.ts';
import { ChurnError, isChurnError } from '../../core/errors.ts';
import { noProgress, type Progress } from '../../core/progress.ts';
import type { TableContract } from './contract.ts';
import { validateAndEncode } from './copy.ts';
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
  /** advanced by bytes read */
  progress?: Progress;
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
}

export function formatFromPath(filePath: string): FileFormat {
  const ext = path.extname(filePath).toLowerCase();
  if (ext === '.csv') return 'csv';
  if (ext === '.jsonl' || ext === '.ndjson') return 'jsonl';
  throw new ChurnError('CHURN_ERR_VALIDATION', `cannot tell the format of ${filePath} from its extension; name it .csv, .jsonl or .ndjson, or pass --format csv|jsonl`);
}

/** Step 3: duplicate keys and unknown parents, found in SQL on the staging table, with their lines. */
async function stagingProblems(client: PoolClient, contract: TableContract, problems: ProblemList): Promise<void> {
  const dups = await query<sql.LineProblemRow>(client, sql.duplicateKeysSql(contract, MAX_PROBLEMS));
  const toProblems = (rows: sql.LineProblemRow[], column: string, reason: (detail: string) => string): Problem[] => rows.map((r) => ({ line: r.line_no, column, reason: reason(r.detail) }));
  if (dups.length) problems.merge(toProblems(dups, contract.key[0], (first) => `duplicate of line ${first}`), dups[0].total);
  for (const ref of contract.references) {
    const rows = await query<sql.LineProblemRow>(client, sql.unknownReferenceSql(ref, MAX_PROBLEMS));
    if (rows.length) problems.merge(toProblems(rows, ref.column, (v) => `unknown ${ref.noun} '${v}' (not in source.${ref.table})`), rows[0].total);
  }
}

/** Step 5: partitions (events), upsert, counts, run record. */
async function load(client: PoolClient, contract: TableContract, staged: number): Promise<{ inserted: number; updated: number }> {
  if (contract.partitionColumn) {
    const [span] = await query<{ lo: Date | null; hi: Date | null }>(client, sql.stageSpanSql(contract.partitionColumn));
    if (span.lo && span.hi) {
      await query(client, sql.ensureEventPartitionsSql(span.lo, span.hi)).catch((err: Error) => {
        // Rows another writer left in the default partition block creating a month's partition.
        throw new ChurnError('CHURN_ERR_DATABASE', `cannot prepare the monthly event partitions for this file: ${err.message}`, { cause: err });
      });
    }
  }
  const [{ n: existing }] = await query<{ n: number }>(client, sql.countExistingSql(contract));
  const [{ n: written }] = await query<{ n: number }>(client, sql.upsertSql(contract));
  const inserted = staged - existing;
  return { inserted, updated: written - inserted };
}

/**
 * Loads `filePath` into `source.<table>`: validated, all or nothing, idempotent. A bad file throws
 * CHURN_ERR_BAD_FILE (details: the first problems, each `{ line, column, reason }`) and leaves the
 * database as it was.
 */
export async function ingestFile(pool: Pool, table: string, filePath: string, opts: IngestOptions = {}): Promise<IngestResult> {
  const contract = getContract(table);
  const format = opts.format ?? formatFromPath(filePath);
  const stat = await fs.stat(filePath).catch(() => null);
  if (!stat?.isFile()) throw new ChurnError('CHURN_ERR_VALIDATION', `cannot read ${filePath}: no such file`);
  const started = performance.now();
  const progress = opts.progress ?? noProgress;
  const hash = createHash('sha256');
  let bytes = 0;
  const onChunk = (chunk: Buffer) => {
    hash.update(chunk);
    bytes += chunk.length;
    progress.update(bytes);
  };
  const problems = new ProblemList();
  const readStats = { rows: 0 };
  const validStats = { valid: 0 };
  progress.start(stat.size);
  try {
    return await withTransaction(pool, async (client) => {
      // Steps 1-2: the file streams through validation into COPY, with backpressure end to end.
      await query(client, sql.createStageSql(contract));
      const records = readRecords(filePath, format, contract, problems, readStats, onChunk);
      await pipeline(validateAndEncode(records, contract, problems, validStats), client.query(copyFrom(sql.copyStageSql(contract))));
      await query(client, sql.analyzeStageSql());
      await stagingProblems(client, contract, problems);
      if (problems.count) throw badFileError(filePath, problems);
      const { inserted, updated } = await load(client, contract, validStats.valid);
      const sha256 = hash.digest('hex');
      const [run] = await query<{ run_id: number }>(client, sql.recordRunSql({ table, file: path.basename(filePath), sha256, rows: readStats.rows, inserted, updated }));
      return { table, rows: readStats.rows, inserted, updated, seconds: (performance.now() - started) / 1000, runId: run.run_id, sha256 };
    });
  } catch (err) {
    throw asIngestError(err, filePath);
  } finally {
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
  return err;
}
