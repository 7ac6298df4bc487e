import fs from 'node:fs/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { query } from '../core/db.ts';
import { parseCell, type ColumnSpec } from '../features/ingest/cells.ts';
import { SOURCE_TABLES } from '../features/ingest/ingest.ts';
import { createTestDatabase, type TestDatabase } from './helpers/db.ts';

let db: TestDatabase;
beforeAll(async () => {
  db = await createTestDatabase();
});
afterAll(async () => {
  await db?.drop();
});

const SQL_TYPE: Record<ColumnSpec['type'], string> = { text: 'text', smallint: 'smallint', integer: 'integer', bigint: 'bigint', numeric: 'numeric', boolean: 'boolean', timestamptz: 'timestamp with time zone' };
const spec = (over: Partial<ColumnSpec>): ColumnSpec => ({ name: 'c', type: 'text', description: 'd', ...over });

describe('ingestion contracts match the source tables', () => {
  it.each(SOURCE_TABLES.map((t) => [t.name, t] as const))('%s: same columns, types, nullability, defaults, key and allowed values', async (name, contract) => {
    const cols = await query<{ column_name: string; data_type: string; is_nullable: string; column_default: string | null; numeric_precision: number | null; numeric_scale: number | null }>(db.pool,
      `SELECT column_name, data_type, is_nullable, column_default, numeric_precision, numeric_scale
       FROM information_schema.columns WHERE table_schema = 'source' AND table_name = $1 ORDER BY ordinal_position`, [name]);
    // the stored columns: the contract's, then the attributes column (jsonb object, default '{}') of a table that has one
    expect(contract.stored).toEqual(cols.map((c) => c.column_name));
    expect(contract.stored).toEqual([...contract.columns.map((c) => c.name), ...(contract.attributes ? [contract.attributes.column] : [])]);
    if (contract.attributes) {
      const attrs = cols.find((c) => c.column_name === contract.attributes!.column)!;
      expect({ type: attrs.data_type, nullable: attrs.is_nullable, default: attrs.column_default }).toEqual({ type: 'jsonb', nullable: 'NO', default: "'{}'::jsonb" });
    }
    for (const [i, c] of contract.columns.entries()) {
      const db = cols[i];
      expect({ column: c.name, type: SQL_TYPE[c.type], nullable: Boolean(c.nullable), hasDefault: c.default !== undefined }).toEqual({ column: c.name, type: db.data_type, nullable: db.is_nullable === 'YES', hasDefault: db.column_default !== null });
      if (c.type === 'numeric') expect([c.precision, c.scale]).toEqual([db.numeric_precision, db.numeric_scale]);
    }
    const [pk] = await query<{ cols: string[] }>(db.pool, `SELECT array_agg(a.attname::text ORDER BY array_position(i.indkey, a.attnum)) AS cols FROM pg_index i
      JOIN pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = ANY (i.indkey) WHERE i.indrelid = $1::regclass AND i.indisprimary`, [`source.${name}`]);
    expect(contract.key).toEqual(pk.cols);
    const checks = (await query<{ def: string }>(db.pool, `SELECT pg_get_constraintdef(oid) AS def FROM pg_constraint WHERE conrelid = $1::regclass AND contype = 'c'`, [`source.${name}`])).map((r) => r.def).join(' ');
    for (const c of contract.columns) for (const v of c.values ?? []) expect(checks).toContain(`'${v}'::text`);
  });

  it('the ingestion README documents every table and column', async () => {
    const readme = await fs.readFile(new URL('../features/ingest/README.md', import.meta.url), 'utf8');
    for (const t of SOURCE_TABLES) {
      const section = readme.split(`#### \`${t.name}\``)[1]?.split('####')[0] ?? '';
      expect(section, t.name).not.toBe('');
      for (const c of t.columns) expect(section, `${t.name}.${c.name}`).toContain(`| \`${c.name}\` |`);
      if (t.attributes) {
        expect(section, `${t.name}.${t.attributes.column}`).toContain(`| \`${t.attributes.column}\` |`);
        expect(section).toContain(`**${t.name}: your own attributes.**`);
        expect(section).toContain(`At most ${t.attributes.max} attributes`);
      }
    }
    expect(SOURCE_TABLES.filter((t) => t.attributes).map((t) => t.name)).toEqual(['accounts']);
  });

  it('every foreign key of the source tables is a declared reference', async () => {
    const fks = await query<{ tbl: string; col: string; parent: string }>(db.pool, `SELECT c.conrelid::regclass::text AS tbl, a.attname AS col, c.confrelid::regclass::text AS parent
      FROM pg_constraint c JOIN pg_attribute a ON a.attrelid = c.conrelid AND a.attnum = c.conkey[1]
      WHERE c.contype = 'f' AND c.connamespace = 'source'::regnamespace`);
    expect(fks.length).toBeGreaterThan(0);
    for (const fk of fks) {
      const contract = SOURCE_TABLES.find((t) => `source.${t.name}` === fk.tbl)!;
      expect(contract.references.map((r) => `${r.column}->source.${r.table}`)).toContain(`${fk.col}->${fk.parent}`);
    }
  });
});

describe('cell coercion', () => {
  it('reads ISO timestamps with any zone exactly as PostgreSQL does', async () => {
    const inputs = ['2026-01-31', '2024-02-29', '2026-01-31T09:30:00Z', '2026-01-31 09:30:00+02:00', '2026-01-31T09:30+0530', '2026-01-31T23:30:00-08', '2024-02-29T00:00:00.123456Z', '2026-06-30T12:00:00.5+01:00', '2026-12-31T23:59:59.999999-11:00'];
    for (const raw of inputs) {
      const r = parseCell(spec({ type: 'timestamptz' }), raw);
      expect(r.ok, raw).toBe(true);
      // a date alone is its 00:00 UTC, whatever the session's time zone
      const [row] = await query<{ same: boolean }>(db.pool, `SELECT $1::timestamptz = $2::timestamptz AS same`, [/T| /.test(raw) ? raw : `${raw}T00:00:00Z`, r.ok ? r.value : null]);
      expect(row.same, raw).toBe(true);
    }
  });

  it('rejects timestamps without a zone, impossible dates and non-ISO text', () => {
    for (const raw of ['2026-02-30', '2023-02-29', '2026-13-01', '2026-1-31', '2026-01-31T09:30:00', '2026-02-30T00:00:00Z', '2023-02-29T00:00:00Z', '2026-01-31T24:00:00Z', '31/01/2026 09:30Z', 'yesterday', 1769851800]) {
      expect(parseCell(spec({ type: 'timestamptz' }), raw).ok, String(raw)).toBe(false);
    }
  });

  it('rounds numerics to the column scale as PostgreSQL does, then checks the bounds', async () => {
    const money = spec({ type: 'numeric', precision: 12, scale: 2, min: 0 });
    for (const raw of ['12.345', '0.005', '1.005', '2.675', '1e3', '1.2345e2', '99.999', 7.125, 1.005, '+3.10', '00042', '.5', '-0.001', '9999999999.994']) {
      const r = parseCell(money, raw);
      expect(r.ok, String(raw)).toBe(true);
      const [row] = await query<{ v: string }>(db.pool, 'SELECT $1::numeric(12, 2)::text AS v', [String(raw)]);
      expect(r.ok && r.value, String(raw)).toBe(row.v);
    }
    expect(parseCell(money, '-0.01')).toEqual({ ok: false, reason: "must be >= 0, got '-0.01'" });
    expect(parseCell(money, '9999999999.995').ok).toBe(false);
    expect(parseCell(money, '0x10').ok).toBe(false);
    expect(parseCell(spec({ type: 'numeric', precision: 5, scale: 2, min: 0, max: 100 }), '100.01')).toEqual({ ok: false, reason: "must be between 0 and 100, got '100.01'" });
  });

  it('accepts true/false, t/f (as PostgreSQL writes them), yes/no, y/n, on/off and 1/0 for booleans, and integers only within the column type', async () => {
    const bool = spec({ type: 'boolean' });
    const texts = ['true', 'FALSE', 't', 'F', ' f ', '1', '0', 'Yes', 'no', 'Y', 'n', 'ON', 'off'];
    expect([...texts, true, 0].map((v) => parseCell(bool, v))).toEqual([true, false, true, false, false, true, false, true, false, true, false, true, false, true, false].map((value) => ({ ok: true, value })));
    // each text as PostgreSQL reads it
    for (const t of texts) {
      const [row] = await query<{ v: boolean }>(db.pool, 'SELECT $1::boolean AS v', [t.trim()]);
      expect(parseCell(bool, t), t).toEqual({ ok: true, value: row.v });
    }
    expect(parseCell(bool, 'maybe')).toEqual({ ok: false, reason: "expected true or false (also t/f, yes/no, y/n, on/off, 1/0), got 'maybe'" });
    expect(parseCell(bool, 'tr').ok).toBe(false);
    expect(parseCell(spec({ type: 'smallint' }), '40000')).toEqual({ ok: false, reason: "out of range for smallint, got '40000'" });
    expect(parseCell(spec({ type: 'integer' }), '2.0')).toEqual({ ok: true, value: 2 });
    expect(parseCell(spec({ type: 'bigint' }), '9223372036854775807')).toEqual({ ok: true, value: '9223372036854775807' });
    expect(parseCell(spec({ type: 'bigint' }), '9223372036854775808').ok).toBe(false);
    expect(parseCell(spec({ type: 'bigint' }), 2 ** 60).ok).toBe(false);
  });

  it('turns blanks into NULL or the default, and refuses them where a value is required', () => {
    expect(parseCell(spec({ nullable: true }), '  ')).toEqual({ ok: true, value: null });
    expect(parseCell(spec({ type: 'integer', default: 1 }), '')).toEqual({ ok: true, value: 1 });
    expect(parseCell(spec({ type: 'integer', default: 1 }), undefined)).toEqual({ ok: true, value: 1 });
    expect(parseCell(spec({}), '')).toEqual({ ok: false, reason: 'required, got a blank value' });
    expect(parseCell(spec({}), null)).toEqual({ ok: false, reason: 'required, got null' });
    expect(parseCell(spec({}), undefined)).toEqual({ ok: false, reason: 'required column is missing' });
    expect(parseCell(spec({}), 42)).toEqual({ ok: true, value: '42' });
    expect(parseCell(spec({}), 4.2)).toEqual({ ok: false, reason: 'expected a string, got 4.2' });
    expect(parseCell(spec({}), { id: 1 })).toEqual({ ok: false, reason: 'expected a string, got {"id":1}' });
    expect(parseCell(spec({}), 'a\u0000b')).toEqual({ ok: false, reason: 'contains a NUL character' });
  });
});
