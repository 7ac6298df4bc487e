import fs from 'node:fs';
import { rename, rm } from 'node:fs/promises';
import path from 'node:path';
import { once } from 'node:events';
import { ChurnError } from '../core/errors.ts';
import type { PreparedTable } from './table.ts';

const RESERVED = new Set(['id', 'churned', 'split']);

/** One CSV field: quoted when it holds a comma, quote, line break or edge whitespace (RFC 4180). */
export function csvField(v: string | number | null | undefined): string {
  if (v === null || v === undefined) return '';
  const s = typeof v === 'number' ? (Number.isFinite(v) ? String(v) : '') : v;
  return /[",\r\n]|^\s|\s$/.test(s) ? `"${s.replace(/"/g, '""')}"` : s;
}

/**
 * Writes a prepared table as `id,churned,<features...>,split` (blank for null), streaming in chunks
 * with back-pressure, into a temporary file renamed over `file` at the end: a reader never sees half a file.
 * Returns the number of data rows written.
 */
export async function writePreparedCsv(table: PreparedTable, file: string, opts: { chunkRows?: number } = {}): Promise<number> {
  for (const c of table.columns) {
    if (RESERVED.has(c.name)) throw new ChurnError('CHURN_ERR_VALIDATION', `a feature may not be called "${c.name}" in a prepared table (reserved column)`);
    if (c.values.length !== table.ids.length) throw new ChurnError('CHURN_ERR_INTERNAL', `column ${c.name} has ${c.values.length} values for ${table.ids.length} rows`);
  }
  const target = path.resolve(file);
  const tmp = `${target}.tmp-${process.pid}`;
  const out = fs.createWriteStream(tmp, { encoding: 'utf8' });
  const failed = new Promise<never>((_, reject) => out.once('error', reject));
  failed.catch(() => undefined);
  const write = async (chunk: string) => {
    if (!out.write(chunk)) await Promise.race([once(out, 'drain'), failed]);
  };
  try {
    await write(`${['id', 'churned', ...table.columns.map((c) => c.name), 'split'].map(csvField).join(',')}\n`);
    const chunkRows = opts.chunkRows ?? 2000;
    let buf: string[] = [];
    for (let i = 0; i < table.ids.length; i++) {
      const cells = [csvField(table.ids[i]), String(table.label[i])];
      for (const c of table.columns) cells.push(csvField(c.values[i]));
      cells.push(csvField(table.split[i]));
      buf.push(cells.join(','));
      if (buf.length >= chunkRows) {
        await write(`${buf.join('\n')}\n`);
        buf = [];
      }
    }
    if (buf.length) await write(`${buf.join('\n')}\n`);
    out.end();
    await Promise.race([once(out, 'finish'), failed]);
    await rename(tmp, target);
  } catch (err) {
    out.destroy();
    await rm(tmp, { force: true });
    throw new ChurnError('CHURN_ERR_VALIDATION', `cannot write ${file}: ${(err as Error).message}`, { cause: err });
  }
  return table.ids.length;
}
