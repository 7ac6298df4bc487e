/**
 * The ingestion queries, one small template each. Only contract identifiers (validated when the
 * contracts load) are interpolated, through `ident`; every value is bound.
 */
import { ident, type Sql } from '../../core/db.ts';
import type { Ownership, Reference, TableContract } from './contract.ts';

export const STAGE = 'ingest_stage';
const SOURCE = 'source';

const target = (c: TableContract) => `${ident(SOURCE)}.${ident(c.name)}`;
/** the columns a load writes: the contract's, then the attributes column (jsonb) of a table that has one */
const cols = (c: TableContract, prefix = '') => c.stored.map((name) => `${prefix}${ident(name)}`).join(', ');

/**
 * A temporary staging table of this session shaped like the target (same column types), plus the
 * file line number. It outlives the transactions of one ingest (the file is staged before the
 * ingest transaction starts) and is dropped at its end.
 */
export function createStageSql(c: TableContract): Sql {
  return {
    text: `CREATE TEMP TABLE ${ident(STAGE)} AS
      SELECT NULL::integer AS line_no, ${cols(c, 't.')} FROM ${target(c)} AS t WITH NO DATA`,
  };
}

export function dropStageSql(): Sql {
  return { text: `DROP TABLE IF EXISTS pg_temp.${ident(STAGE)}` };
}

/**
 * Waits for table `table`'s turn: ingests of one table write one at a time (a transaction-level
 * advisory lock, held to the commit), so their upserts never deadlock on each other's rows.
 */
export function tableTurnSql(table: string): Sql {
  return { text: `SELECT pg_advisory_xact_lock(hashtext('churn.ingest'), hashtext($1))`, values: [`source.${table}`] };
}

export function copyStageSql(c: TableContract): string {
  return `COPY ${ident(STAGE)} (line_no, ${cols(c)}) FROM STDIN`;
}

export function analyzeStageSql(): Sql {
  return { text: `ANALYZE ${ident(STAGE)}` };
}

export interface LineProblemRow {
  line_no: number;
  detail: string;
  total: number;
}

export interface ProblemGroupRow {
  detail: string;
  /** its first three lines */
  lines: number[];
  n: number;
}

/** A set-based check: the staged rows it finds, as `(line_no, detail)`. */
export interface StageCheck {
  rows: string;
}

/** Rows whose natural key already appeared on an earlier line of the file; `detail` is that earlier line. */
export function duplicateKeys(c: TableContract): StageCheck {
  const key = c.key.map(ident).join(', ');
  return {
    rows: `SELECT line_no, first_line::text AS detail
      FROM (SELECT line_no, min(line_no) OVER (PARTITION BY ${key}) AS first_line FROM ${ident(STAGE)}) AS ranked
      WHERE line_no <> first_line`,
  };
}

/** Rows naming a parent (account, event type, invoice) that is not in its source table; `detail` is the value. */
export function unknownReference(ref: Reference): StageCheck {
  const col = ident(ref.column);
  return {
    rows: `SELECT s.line_no, s.${col}::text AS detail
      FROM ${ident(STAGE)} AS s
      WHERE s.${col} IS NOT NULL
        AND NOT EXISTS (SELECT 1 FROM ${ident(SOURCE)}.${ident(ref.table)} AS p WHERE p.${ident(ref.parentColumn)} = s.${col})`,
  };
}

/**
 * Rows naming a parent that belongs to another account than the row's own (which exists); `detail`
 * is the JSON array [value, the parent's account, the row's account].
 */
export function otherAccountsParent(owner: Ownership): StageCheck {
  const col = ident(owner.column);
  return {
    rows: `SELECT s.line_no, json_build_array(s.${col}, p.account_id, s.account_id)::text AS detail
      FROM ${ident(STAGE)} AS s
      JOIN ${ident(SOURCE)}.${ident(owner.table)} AS p ON p.${ident(owner.parentColumn)} = s.${col}
      WHERE p.account_id <> s.account_id
        AND EXISTS (SELECT 1 FROM ${ident(SOURCE)}.accounts AS a WHERE a.account_id = s.account_id)`,
  };
}

/** The first `limit` rows a check finds, in line order, and how many it finds in all. */
export function firstProblemsSql(check: StageCheck, limit: number): Sql {
  return {
    text: `WITH found AS (${check.rows})
      SELECT line_no, detail, count(*) OVER ()::integer AS total FROM found ORDER BY line_no LIMIT $1`,
    values: [limit],
  };
}

/** For each of `details`: how many rows a check finds with it, and the first three of their lines. */
export function problemGroupsSql(check: StageCheck, details: string[]): Sql {
  return {
    text: `WITH found AS (${check.rows}),
      ranked AS (
        SELECT detail, line_no, row_number() OVER (PARTITION BY detail ORDER BY line_no) AS k, count(*) OVER (PARTITION BY detail) AS n
        FROM found WHERE detail = ANY($1::text[])
      )
      SELECT detail, array_agg(line_no ORDER BY line_no) AS lines, max(n)::integer AS n FROM ranked WHERE k <= 3 GROUP BY detail`,
    values: [details],
  };
}

export function stageSpanSql(column: string): Sql {
  const col = ident(column);
  return { text: `SELECT count(*)::integer AS rows, min(${col}) AS lo, max(${col}) AS hi FROM ${ident(STAGE)}` };
}

/**
 * Per column with any, the staged values more than `slack` after the database's now() (how many, and
 * the latest): times of things that happened cannot lie ahead, so they point at a time-zone or date
 * error.
 */
export function stageFutureSql(columns: readonly string[], slack = '1 day'): Sql {
  // one scan of the staged rows for every column (a file may hold millions)
  const pairs = columns.map((c, i) => `($${i + 1}::text, s.${ident(c)})`).join(', ');
  return {
    text: `SELECT v.column_name, count(*)::integer AS n, max(v.at) AS latest
      FROM ${ident(STAGE)} AS s CROSS JOIN LATERAL (VALUES ${pairs}) AS v(column_name, at)
      WHERE v.at > now() + interval '${slack}' GROUP BY v.column_name ORDER BY v.column_name`,
    values: [...columns],
  };
}

export function stageCountSql(): Sql {
  return { text: `SELECT count(*)::integer AS rows FROM ${ident(STAGE)}` };
}

/** How many staged rows already exist in the target (the rest will be inserted). */
export function countExistingSql(c: TableContract): Sql {
  const on = c.key.map((k) => `t.${ident(k)} = s.${ident(k)}`).join(' AND ');
  return { text: `SELECT count(*)::integer AS n FROM ${ident(STAGE)} AS s JOIN ${target(c)} AS t ON ${on}` };
}

/**
 * Inserts new rows and updates existing ones whose values differ; identical rows are left untouched
 * (no new row version), so loading the same file twice changes nothing. An updated row takes every
 * stored column from the file, attributes too (replaced whole, not merged). Returns rows written.
 */
export function upsertSql(c: TableContract): Sql {
  const rest = c.stored.filter((n) => !c.key.includes(n));
  const set = rest.map((n) => `${ident(n)} = EXCLUDED.${ident(n)}`).join(', ');
  const changed = `(${rest.map((n) => `t.${ident(n)}`).join(', ')}) IS DISTINCT FROM (${rest.map((n) => `EXCLUDED.${ident(n)}`).join(', ')})`;
  return {
    text: `WITH written AS (
        INSERT INTO ${target(c)} AS t (${cols(c)})
        SELECT ${cols(c)} FROM ${ident(STAGE)}
        ON CONFLICT (${c.key.map(ident).join(', ')}) DO UPDATE SET ${set} WHERE ${changed}
        RETURNING 1
      )
      SELECT count(*)::integer AS n FROM written`,
  };
}

export interface RunRecord {
  table: string;
  file: string;
  sha256: string;
  rows: number;
  inserted: number;
  updated: number;
}

export function recordRunSql(run: RunRecord): Sql {
  return {
    text: `INSERT INTO churn.ingestion_runs (table_name, file_name, file_sha256, rows_in_file, rows_inserted, rows_updated)
      VALUES ($1, $2, $3, $4, $5, $6) RETURNING run_id`,
    values: [run.table, run.file, run.sha256, run.rows, run.inserted, run.updated],
  };
}
