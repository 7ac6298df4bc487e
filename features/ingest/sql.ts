/**
 * The ingestion queries, one small template each. Only contract identifiers (validated when the
 * contracts load) are interpolated, through `ident`; every value is bound.
 */
import { ident, type Sql } from '../../core/db.ts';
import type { Reference, TableContract } from './contract.ts';

export const STAGE = 'ingest_stage';
const SOURCE = 'source';

const target = (c: TableContract) => `${ident(SOURCE)}.${ident(c.name)}`;
const cols = (c: TableContract, prefix = '') => c.columns.map((col) => `${prefix}${ident(col.name)}`).join(', ');

/** A temporary staging table shaped like the target (same column types), plus the file line number. */
export function createStageSql(c: TableContract): Sql {
  return {
    text: `CREATE TEMP TABLE ${ident(STAGE)} ON COMMIT DROP AS
      SELECT NULL::integer AS line_no, ${cols(c, 't.')} FROM ${target(c)} AS t WITH NO DATA`,
  };
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

/** Rows whose natural key already appeared on an earlier line of the file; `detail` is that earlier line. */
export function duplicateKeysSql(c: TableContract, limit: number): Sql {
  const key = c.key.map(ident).join(', ');
  return {
    text: `WITH ranked AS (
        SELECT line_no, min(line_no) OVER (PARTITION BY ${key}) AS first_line FROM ${ident(STAGE)}
      )
      SELECT line_no, first_line::text AS detail, count(*) OVER ()::integer AS total
      FROM ranked WHERE line_no <> first_line ORDER BY line_no LIMIT $1`,
    values: [limit],
  };
}

/** Rows naming a parent (account, event type, invoice) that is not in its source table; `detail` is the value. */
export function unknownReferenceSql(ref: Reference, limit: number): Sql {
  const col = ident(ref.column);
  return {
    text: `SELECT s.line_no, s.${col}::text AS detail, count(*) OVER ()::integer AS total
      FROM ${ident(STAGE)} AS s
      WHERE s.${col} IS NOT NULL
        AND NOT EXISTS (SELECT 1 FROM ${ident(SOURCE)}.${ident(ref.table)} AS p WHERE p.${ident(ref.parentColumn)} = s.${col})
      ORDER BY s.line_no LIMIT $1`,
    values: [limit],
  };
}

export function stageSpanSql(column: string): Sql {
  const col = ident(column);
  return { text: `SELECT count(*)::integer AS rows, min(${col}) AS lo, max(${col}) AS hi FROM ${ident(STAGE)}` };
}

export function stageCountSql(): Sql {
  return { text: `SELECT count(*)::integer AS rows FROM ${ident(STAGE)}` };
}

/** Monthly event partitions covering [lo, hi + 1 month), so every staged event has its partition. */
export function ensureEventPartitionsSql(lo: Date, hi: Date): Sql {
  return { text: `SELECT source.ensure_event_partitions($1::timestamptz, $2::timestamptz + interval '1 month') AS created`, values: [lo, hi] };
}

/** How many staged rows already exist in the target (the rest will be inserted). */
export function countExistingSql(c: TableContract): Sql {
  const on = c.key.map((k) => `t.${ident(k)} = s.${ident(k)}`).join(' AND ');
  return { text: `SELECT count(*)::integer AS n FROM ${ident(STAGE)} AS s JOIN ${target(c)} AS t ON ${on}` };
}

/**
 * Inserts new rows and updates existing ones whose values differ; identical rows are left untouched
 * (no new row version), so loading the same file twice changes nothing. Returns rows written.
 */
export function upsertSql(c: TableContract): Sql {
  const rest = c.columns.map((col) => col.name).filter((n) => !c.key.includes(n));
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

export function recordRunSql(run: { table: string; file: string; sha256: string; rows: number; inserted: number; updated: number }): Sql {
  return {
    text: `INSERT INTO churn.ingestion_runs (table_name, file_name, file_sha256, rows_in_file, rows_inserted, rows_updated)
      VALUES ($1, $2, $3, $4, $5, $6) RETURNING run_id`,
    values: [run.table, run.file, run.sha256, run.rows, run.inserted, run.updated],
  };
}
