import fs from 'node:fs';
import { rename, rm } from 'node:fs/promises';
import path from 'node:path';
import { once } from 'node:events';
import type { Pool } from '../core/db.ts';
import { ChurnError } from '../core/errors.ts';
import { parseTrainingSetOptions, requireSides, streamTrainingSet, TableFingerprint, type TrainingSetOptions, type TrainingSetStats } from './dataset.ts';
import type { PreparedTable, Split } from './table.ts';

const RESERVED = new Set(['id', 'churned', 'split']);

/** One CSV field: quoted when it holds a comma, quote, line break or edge whitespace (RFC 4180). */
export function csvField(v: string | number | null | undefined): string {
  if (v === null || v === undefined) return '';
  const s = typeof v === 'number' ? (Number.isFinite(v) ? String(v) : '') : v;
  return /[",\r\n]|^\s|\s$/.test(s) ? `"${s.replace(/"/g, '""')}"` : s;
}

/** One data line of a prepared table: `id,churned,<features...>,split`. */
function csvLine(id: string, label: number, values: ArrayLike<string | number | null | undefined>, split: Split): string {
  const cells = [csvField(id), String(label)];
  for (let k = 0; k < values.length; k++) cells.push(csvField(values[k]));
  cells.push(csvField(split));
  return cells.join(',');
}

function checkNames(names: string[]): void {
  for (const n of names) if (RESERVED.has(n)) throw new ChurnError('CHURN_ERR_VALIDATION', `a feature may not be called "${n}" in a prepared table (reserved column)`);
}

/**
 * A prepared-table CSV being written: lines go to a temporary file with back-pressure, renamed over
 * `file` by finish(), so a reader never sees half a file; abort() removes it.
 */
interface CsvOut {
  write(lines: string[]): Promise<void>;
  finish(): Promise<void>;
  abort(err: unknown): Promise<never>;
}

function openPreparedCsv(file: string, names: string[]): CsvOut {
  const target = path.resolve(file);
  const tmp = `${target}.tmp-${process.pid}`;
  const out = fs.createWriteStream(tmp, { encoding: 'utf8' });
  const failed = new Promise<never>((_, reject) => out.once('error', reject));
  failed.catch(() => undefined);
  const write = async (chunk: string) => {
    if (out.errored) throw out.errored;
    if (!out.write(chunk)) await Promise.race([once(out, 'drain'), failed]);
  };
  const header = write(`${['id', 'churned', ...names, 'split'].map(csvField).join(',')}\n`);
  header.catch(() => undefined);
  return {
    write: async (lines) => {
      await header;
      if (lines.length) await write(`${lines.join('\n')}\n`);
    },
    finish: async () => {
      await header;
      out.end();
      await Promise.race([once(out, 'finish'), failed]);
      await rename(tmp, target);
    },
    abort: async (err) => {
      out.destroy();
      await rm(tmp, { force: true });
      if (err instanceof ChurnError && err.code !== 'CHURN_ERR_INTERNAL') throw err;
      throw new ChurnError('CHURN_ERR_VALIDATION', `cannot write ${file}: ${(err as Error).message}`, { cause: err });
    },
  };
}

/**
 * Writes a prepared table as `id,churned,<features...>,split` (blank for null), streaming in chunks
 * with back-pressure, into a temporary file renamed over `file` at the end: a reader never sees half a file.
 * Returns the number of data rows written.
 */
export async function writePreparedCsv(table: PreparedTable, file: string, opts: { chunkRows?: number } = {}): Promise<number> {
  checkNames(table.columns.map((c) => c.name));
  for (const c of table.columns) {
    if (c.values.length !== table.ids.length) throw new ChurnError('CHURN_ERR_INTERNAL', `column ${c.name} has ${c.values.length} values for ${table.ids.length} rows`);
  }
  const out = openPreparedCsv(file, table.columns.map((c) => c.name));
  try {
    const chunkRows = opts.chunkRows ?? 2000;
    const row: (string | number | null)[] = new Array(table.columns.length);
    let buf: string[] = [];
    for (let i = 0; i < table.ids.length; i++) {
      for (let k = 0; k < table.columns.length; k++) row[k] = table.columns[k].values[i];
      buf.push(csvLine(table.ids[i], table.label[i], row, table.split[i]));
      if (buf.length >= chunkRows) {
        await out.write(buf);
        buf = [];
      }
    }
    await out.write(buf);
    await out.finish();
  } catch (err) {
    return out.abort(err);
  }
  return table.ids.length;
}

export interface ExportResult {
  rows: number;
  features: number;
  churnRate: number;
  splits: Partial<Record<Split, { rows: number; churned: number }>>;
  /** trainingFingerprint of the same table built in memory */
  fingerprint: string;
  stats: TrainingSetStats;
}

/**
 * `churn dataset export`: the database training set written to `file` as a prepared table while it is
 * read from PostgreSQL through a cursor (a batch of rows at a time: memory stays flat whatever the
 * size of the set). The file, the fingerprint and the counts are those of buildTrainingSet's table.
 */
export async function exportTrainingSet(pool: Pool, options: TrainingSetOptions, file: string): Promise<ExportResult> {
  const o = parseTrainingSetOptions(options);
  let out: CsvOut | null = null;
  let fingerprint: TableFingerprint | null = null;
  let features = 0;
  const splits: Partial<Record<Split, { rows: number; churned: number }>> = {};
  let rows = 0;
  let churned = 0;
  try {
    const stats = await streamTrainingSet(pool, options, {
      start: (h) => {
        const names = h.columns.map((c) => c.name);
        checkNames(names);
        features = names.length;
        fingerprint = new TableFingerprint(h.columns.map((c) => ({ name: c.name, kind: 'numeric' })));
        out = openPreparedCsv(file, names);
      },
      rows: async (batch) => {
        const lines: string[] = [];
        for (const r of batch) {
          lines.push(csvLine(r.id, r.label, r.values, r.split));
          fingerprint!.add(r.id, r.label, r.split, r.values);
          const s = (splits[r.split] ??= { rows: 0, churned: 0 });
          s.rows += 1;
          s.churned += r.label;
          churned += r.label;
          rows += 1;
        }
        await out!.write(lines);
      },
    });
    requireSides(o, Object.fromEntries(Object.entries(splits).map(([k, v]) => [k, v.rows])), rows);
    await (out as CsvOut | null)?.finish();
    return { rows, features, churnRate: rows ? churned / rows : 0, splits, fingerprint: (fingerprint as TableFingerprint | null)?.digest() ?? '', stats };
  } catch (err) {
    if (out) return (out as CsvOut).abort(err);
    throw err;
  }
}
