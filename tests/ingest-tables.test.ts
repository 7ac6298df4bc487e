import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { query } from '../core/db.ts';
import { ChurnError } from '../core/errors.ts';
import { ingestFile, SOURCE_TABLES, type Problem } from '../features/ingest/ingest.ts';
import { CASES, lineOf, SAMPLES, seedParents, tableState, toCsv, toJsonl, writeFile, type Format, type SampleRow } from './fixtures/ingest/samples.ts';
import { createTestDatabase, type TestDatabase } from './helpers/db.ts';

let db: TestDatabase;
let dir: string;

beforeAll(async () => {
  db = await createTestDatabase();
  dir = await fs.mkdtemp(path.join(os.tmpdir(), 'churn-ingest-'));
  await seedParents(db.pool);
});

afterAll(async () => {
  await db?.drop();
  if (dir) await fs.rm(dir, { recursive: true, force: true });
});

const FORMATS: Format[] = ['csv', 'jsonl'];
let fileNo = 0;
const render = (format: Format, rows: SampleRow[]) => (format === 'csv' ? toCsv(rows) : toJsonl(rows));
const write = (format: Format, content: string) => writeFile(dir, `f${++fileNo}.${format}`, content);

async function runs(): Promise<number> {
  const [r] = await query<{ n: number }>(db.pool, 'SELECT count(*)::int AS n FROM churn.ingestion_runs');
  return r.n;
}

/** Ingests a bad file: exactly one problem, at `expected`; the table and the run log are untouched. */
async function expectRejected(table: string, file: string, expected: { line: number; column: string | null; reason: RegExp }): Promise<void> {
  const before = await tableState(db.pool, table);
  const runsBefore = await runs();
  const err = await ingestFile(db.pool, table, file).then(() => null, (e: unknown) => e);
  expect(err).toBeInstanceOf(ChurnError);
  const e = err as ChurnError;
  expect(e.code).toBe('CHURN_ERR_BAD_FILE');
  expect(e.message.startsWith(`${file}: 1 problem; first: line ${expected.line}`)).toBe(true);
  expect(e.message).not.toContain('\n');
  const [first] = e.details as Problem[];
  expect({ line: first.line, column: first.column }).toEqual({ line: expected.line, column: expected.column });
  expect(first.reason).toMatch(expected.reason);
  expect(await tableState(db.pool, table)).toEqual(before);
  expect(await runs()).toBe(runsBefore);
}

describe.each(SOURCE_TABLES.map((t) => t.name))('ingest %s', (table) => {
  const contract = SOURCE_TABLES.find((t) => t.name === table)!;
  const cases = CASES[table];
  const sample = SAMPLES[table];

  it('loads a good CSV file, and loading it again writes nothing', async () => {
    const before = await tableState(db.pool, table);
    const file = await write('csv', toCsv(sample('a')));
    const first = await ingestFile(db.pool, table, file);
    expect(first).toMatchObject({ table, rows: 3, inserted: 3, updated: 0 });
    const loaded = await tableState(db.pool, table);
    expect(loaded.n).toBe(before.n + 3);
    const again = await ingestFile(db.pool, table, file);
    expect(again).toMatchObject({ rows: 3, inserted: 0, updated: 0 });
    expect(await tableState(db.pool, table)).toEqual(loaded);
  });

  it('treats the same rows as JSONL as identical to the CSV load', async () => {
    const before = await tableState(db.pool, table);
    const r = await ingestFile(db.pool, table, await write('jsonl', toJsonl(sample('a'))));
    expect(r).toMatchObject({ rows: 3, inserted: 0, updated: 0 });
    expect(await tableState(db.pool, table)).toEqual(before);
  });

  it('updates exactly the one row that changed', async () => {
    const keyOf = (r: SampleRow) => contract.key.map((k) => String(r[k])).join('/');
    const keyText = contract.key.map((k) => (k === 'occurred_at' ? `to_char(t.${k} AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS"Z"')` : `t.${k}::text`)).join(` || '/' || `);
    const versions = async () => new Map((await query<{ k: string; v: string }>(db.pool, `SELECT ${keyText} AS k, t.xmin::text AS v FROM source.${table} AS t`)).map((r) => [r.k, r.v]));
    const rows = sample('a');
    rows[0] = { ...rows[0], [cases.change.column]: cases.change.value };
    const before = await versions();
    const r = await ingestFile(db.pool, table, await write('jsonl', toJsonl(rows)));
    expect(r).toMatchObject({ rows: 3, inserted: 0, updated: 1 });
    const after = await versions();
    expect(after.size).toBe(before.size);
    const rewritten = [...after].filter(([k, v]) => before.get(k) !== v).map(([k]) => k);
    expect(rewritten).toEqual([keyOf(rows[0])]);
  });

  it('records each successful load with the file checksum and counts', async () => {
    const r = await ingestFile(db.pool, table, await write('jsonl', toJsonl(sample('b'))));
    expect(r).toMatchObject({ inserted: 3, updated: 0 });
    const [run] = await query(db.pool, 'SELECT table_name, file_sha256, rows_in_file, rows_inserted, rows_updated FROM churn.ingestion_runs WHERE run_id = $1', [r.runId]);
    expect(run).toEqual({ table_name: table, file_sha256: r.sha256, rows_in_file: 3, rows_inserted: 3, rows_updated: 0 });
    expect(r.sha256).toMatch(/^[0-9a-f]{64}$/);
  });

  describe.each(FORMATS)('a bad %s file is rejected whole', (format) => {
    it(`with a wrong type in ${cases.wrongType.column}`, async () => {
      const rows = sample('c');
      rows[1] = { ...rows[1], [cases.wrongType.column]: cases.wrongType.value };
      await expectRejected(table, await write(format, render(format, rows)), { line: lineOf(format, 1), column: cases.wrongType.column, reason: cases.wrongType.reason });
    });

    it(`with the required column ${cases.missing} left out`, async () => {
      const rows = sample('c');
      if (format === 'csv') {
        const columns = contract.columns.map((c) => c.name).filter((c) => c !== cases.missing);
        await expectRejected(table, await write(format, toCsv(rows, columns)), { line: 1, column: cases.missing, reason: /^required column is missing/ });
      } else {
        const { [cases.missing]: _dropped, ...rest } = rows[1];
        rows[1] = rest;
        await expectRejected(table, await write(format, toJsonl(rows)), { line: 2, column: cases.missing, reason: /^required column is missing$/ });
      }
    });

    for (const bad of cases.unknownParent) {
      it(`with ${bad.column} = '${bad.value}' (unknown or invalid)`, async () => {
        const rows = sample('c');
        rows[2] = { ...rows[2], [bad.column]: bad.value };
        await expectRejected(table, await write(format, render(format, rows)), { line: lineOf(format, 2), column: bad.column, reason: bad.reason });
      });
    }

    it('with a natural key repeated inside the file', async () => {
      const rows = sample('c');
      for (const k of contract.key) rows[2] = { ...rows[2], [k]: rows[0][k] };
      await expectRejected(table, await write(format, render(format, rows)), { line: lineOf(format, 2), column: contract.key[0], reason: new RegExp(`^duplicate of line ${lineOf(format, 0)}$`) });
    });

    it(format === 'csv' ? 'with a malformed CSV line' : 'with a malformed JSON line', async () => {
      const lines = render(format, sample('c')).split('\n');
      const at = lineOf(format, 1);
      lines[at - 1] = format === 'csv' ? `x,"bro"ken,${lines[at - 1]}` : `{"${contract.key[0]}": "x",`;
      await expectRejected(table, await write(format, lines.join('\n')), { line: at, column: null, reason: format === 'csv' ? /^malformed CSV/ : /^malformed JSON/ });
    });

    it('when the file is empty', async () => {
      await expectRejected(table, await write(format, ''), { line: 1, column: null, reason: /empty/ });
    });
  });
});
