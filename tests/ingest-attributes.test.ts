/**
 * The accounts' own attributes (migration 017): columns of an accounts file that the contract does not
 * name, and an optional JSON column `attributes`, stored as text by name in source.accounts.attributes.
 */
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { query } from '../core/db.ts';
import { ChurnError } from '../core/errors.ts';
import { ingestFile, type Problem } from '../features/ingest/ingest.ts';
import { SAMPLES, seedParents, tableState, toCsv, toJsonl, writeFile, type SampleRow } from './fixtures/ingest/samples.ts';
import { createTestDatabase, type TestDatabase } from './helpers/db.ts';

let db: TestDatabase;
let dir: string;

beforeAll(async () => {
  db = await createTestDatabase();
  dir = await fs.mkdtemp(path.join(os.tmpdir(), 'churn-ingest-attrs-'));
  await seedParents(db.pool);
});

afterAll(async () => {
  await db?.drop();
  if (dir) await fs.rm(dir, { recursive: true, force: true });
});

let n = 0;
const file = (ext: string, content: string) => writeFile(dir, `a${++n}.${ext}`, content);

const BASE = 'account_id,name,segment,plan,created_at';
const base = (id: string) => `${id},Acme,smb,pro,2026-01-05T00:00:00Z`;
/** A CSV cell holding `text`, quoted as RFC 4180 does. */
const q = (text: string) => `"${text.replace(/"/g, '""')}"`;

async function attributesOf(...ids: string[]): Promise<Record<string, Record<string, string>>> {
  const rows = await query<{ account_id: string; attributes: Record<string, string> }>(db.pool, 'SELECT account_id, attributes FROM source.accounts WHERE account_id = ANY($1) ORDER BY account_id', [ids]);
  return Object.fromEntries(rows.map((r) => [r.account_id, r.attributes]));
}

async function runs(): Promise<number> {
  const [r] = await query<{ n: number }>(db.pool, 'SELECT count(*)::int AS n FROM churn.ingestion_runs');
  return r.n;
}

/** Ingests a bad file: it fails whole, with CHURN_ERR_BAD_FILE; the table and the run log are untouched. */
async function rejection(table: string, filePath: string): Promise<ChurnError> {
  const before = await tableState(db.pool, table);
  const runsBefore = await runs();
  const err = await ingestFile(db.pool, table, filePath).then(() => null, (e: unknown) => e);
  expect(err).toBeInstanceOf(ChurnError);
  expect((err as ChurnError).code).toBe('CHURN_ERR_BAD_FILE');
  expect((err as ChurnError).message).not.toContain('\n');
  expect(await tableState(db.pool, table)).toEqual(before);
  expect(await runs()).toBe(runsBefore);
  return err as ChurnError;
}

const problems = (e: ChurnError) => (e.details as Problem[]).map((p) => ({ line: p.line, column: p.column, reason: p.reason }));

describe('CSV columns the accounts contract does not name', () => {
  it('land in attributes as text by column name; contract columns stay columns', async () => {
    const csv = [
      `${BASE},acquisition_channel,country,employees,date_of_birth,region`,
      `${base('acc_x1')},paid_search,DE,120,1980-04-02,emea`,
      `${base('acc_x2')},partner,FR,4000,1975-12-31,`,
    ].join('\n');
    const r = await ingestFile(db.pool, 'accounts', await file('csv', `${csv}\n`));
    expect(r).toMatchObject({ rows: 2, inserted: 2, updated: 0 });
    expect(await attributesOf('acc_x1', 'acc_x2')).toEqual({
      acc_x1: { acquisition_channel: 'paid_search', country: 'DE', employees: '120', date_of_birth: '1980-04-02' },
      acc_x2: { acquisition_channel: 'partner', country: 'FR', employees: '4000', date_of_birth: '1975-12-31' },
    });
    const [row] = await query(db.pool, `SELECT region, jsonb_typeof(attributes->'employees') AS t FROM source.accounts WHERE account_id = 'acc_x1'`);
    expect(row).toEqual({ region: 'emea', t: 'string' });
  });

  it('leaves empty (and blank) cells out: missing, not ""', async () => {
    const csv = `${BASE},country,employees,tier\n${base('acc_e1')},,  ,gold\n${base('acc_e2')},,,\n`;
    await ingestFile(db.pool, 'accounts', await file('csv', csv));
    expect(await attributesOf('acc_e1', 'acc_e2')).toEqual({ acc_e1: { tier: 'gold' }, acc_e2: {} });
    const [row] = await query(db.pool, `SELECT attributes ? 'country' AS has_country, attributes->>'country' AS country FROM source.accounts WHERE account_id = 'acc_e1'`);
    expect(row).toEqual({ has_country: false, country: null });
  });

  it('trims header names, keeps values as written, and round-trips quotes, tabs, backslashes, line breaks and Unicode', async () => {
    const odd = 'a "quoted",\tvalue\\with\\backslashes\nand a second line; Zürich 東京 🚀';
    const csv = `${BASE}, country , note\n${base('acc_t1')},  DE ,${q(odd)}\n`;
    await ingestFile(db.pool, 'accounts', await file('csv', csv));
    expect(await attributesOf('acc_t1')).toEqual({ acc_t1: { country: '  DE ', note: odd } });
  });

  it('takes an attribute called constructor, and JSON-looking text as text', async () => {
    const csv = `${BASE},constructor,raw\n${base('acc_c1')},yes,${q('{"a": 1}')}\n`;
    await ingestFile(db.pool, 'accounts', await file('csv', csv));
    expect(await attributesOf('acc_c1')).toEqual({ acc_c1: { constructor: 'yes', raw: '{"a": 1}' } });
  });

  it('fails the whole file at line 1 on a header that is not a valid name, naming the column, and writes nothing', async () => {
    const csv = `${BASE},Acquisition Channel,country,2fa,ok_name\n${base('acc_bad1')},ads,DE,yes,1\n${base('acc_bad2')},ads,DE,yes,1\n`;
    const e = await rejection('accounts', await file('csv', csv));
    expect(problems(e)).toEqual([
      { line: 1, column: 'Acquisition Channel', reason: expect.stringMatching(/^neither a column of accounts \(account_id, name, .*\) nor a valid attribute name: attribute names are lower-case snake_case \(a-z, 0-9 and _, starting with a letter\), e\.g\. acquisition_channel$/) },
      { line: 1, column: '2fa', reason: expect.stringMatching(/nor a valid attribute name: attribute names are lower-case snake_case \(a-z, 0-9 and _, starting with a letter\)$/) },
    ]);
    expect(e.message).toMatch(/: 2 problems; first: line 1, column Acquisition Channel: neither a column of accounts/);
    expect(await attributesOf('acc_bad1', 'acc_bad2')).toEqual({});
    for (const header of ['Country', 'country-code', 'país', '_hidden', 'x'.repeat(64)]) {
      const one = await rejection('accounts', await file('csv', `${BASE},${header}\n${base('acc_bad3')},v\n`));
      expect(problems(one).map((p) => [p.line, p.column]), header).toEqual([[1, header]]);
    }
  });

  it('caps the attribute columns of a header at 50, with a clear error', async () => {
    const names = (k: number) => Array.from({ length: k }, (_, i) => `attr_${i}`);
    const fifty = `${BASE},${names(50).join(',')}\n${base('acc_cap50')},${names(50).map((_, i) => i).join(',')}\n`;
    await ingestFile(db.pool, 'accounts', await file('csv', fifty));
    const [row] = await query<{ n: number }>(db.pool, `SELECT count(*)::int AS n FROM source.accounts, jsonb_object_keys(attributes) WHERE account_id = 'acc_cap50'`);
    expect(row.n).toBe(50);
    const e = await rejection('accounts', await file('csv', `${BASE},${names(51).join(',')}\n${base('acc_cap51')},${names(51).map((_, i) => i).join(',')}\n`));
    expect(problems(e)).toEqual([{ line: 1, column: null, reason: '51 attribute columns (columns accounts does not name); at most 50' }]);
  });

  it('keeps all or nothing: one bad row elsewhere in the file writes no attributes at all', async () => {
    const csv = `${BASE},country\n${base('acc_an1')},DE\nacc_an2,Beta,huge,pro,2026-01-05T00:00:00Z,FR\n`;
    const e = await rejection('accounts', await file('csv', csv));
    expect(problems(e)).toEqual([{ line: 3, column: 'segment', reason: "expected one of smb, mid_market, enterprise, got 'huge'" }]);
    expect(await attributesOf('acc_an1', 'acc_an2')).toEqual({});
  });
});

describe('the JSON column attributes', () => {
  it('merges a JSON object of text, numbers and booleans (stored as text) with the other columns', async () => {
    const csv = [
      `${BASE},country,attributes`,
      `${base('acc_j1')},DE,${q('{"vip": true, "seats_cap": 25, "ratio": 0.5, "big": 1e21, "channel": "partner", "gone": null, "blank": "", "country": "DE"}')}`,
      `${base('acc_j2')},FR,`,
      `${base('acc_j3')},,${q('{}')}`,
      `${base('acc_j4')},,null`,
    ].join('\n');
    await ingestFile(db.pool, 'accounts', await file('csv', `${csv}\n`));
    expect(await attributesOf('acc_j1', 'acc_j2', 'acc_j3', 'acc_j4')).toEqual({
      acc_j1: { country: 'DE', vip: 'true', seats_cap: '25', ratio: '0.5', big: '1e+21', channel: 'partner' },
      acc_j2: { country: 'FR' },
      acc_j3: {},
      acc_j4: {},
    });
  });

  it('works alone, without other attribute columns', async () => {
    await ingestFile(db.pool, 'accounts', await file('csv', `attributes,${BASE}\n${q('{"tier": "gold"}')},${base('acc_j5')}\n`));
    expect(await attributesOf('acc_j5')).toEqual({ acc_j5: { tier: 'gold' } });
  });

  it('makes invalid JSON, a non-object, nested values, bad keys and conflicts problems of their rows, with clear messages', async () => {
    const cells = [
      '{"country": "DE"',
      '[1, 2]',
      '"gold"',
      '{"address": {"city": "Berlin"}}',
      '{"tags": ["a", "b"]}',
      '{"Bad Key": 1}',
      '{"plan": "enterprise"}',
      '{"country": "FR"}',
      '{"country": "DE", "tier": "gold"}',
    ];
    const csv = `${BASE},country,attributes\n${cells.map((c, i) => `${base(`acc_jb${i}`)},DE,${q(c)}`).join('\n')}\n`;
    const e = await rejection('accounts', await file('csv', csv));
    expect(problems(e)).toEqual([
      { line: 2, column: 'attributes', reason: expect.stringMatching(/^not valid JSON \(expected an object such as \{"country": "DE", "employees": 120\}\): /) },
      { line: 3, column: 'attributes', reason: "expected a JSON object of attributes, got an array: '[1, 2]'" },
      { line: 4, column: 'attributes', reason: `expected a JSON object of attributes, got a string: '"gold"'` },
      { line: 5, column: 'attributes', reason: `key 'address': an attribute value must be text, a number or a boolean, got an object (nested values are not allowed): {"city":"Berlin"}` },
      { line: 6, column: 'attributes', reason: `key 'tags': an attribute value must be text, a number or a boolean, got an array (nested values are not allowed): ["a","b"]` },
      { line: 7, column: 'attributes', reason: "key 'Bad Key': not a valid attribute name: attribute names are lower-case snake_case (a-z, 0-9 and _, starting with a letter), e.g. bad_key" },
      { line: 8, column: 'attributes', reason: "key 'plan': 'plan' is a column of accounts, not an attribute name" },
      { line: 9, column: 'attributes', reason: "key 'country': 'FR' differs from the country column's 'DE'" },
    ]);
    expect(e.message).toMatch(/: 8 problems; first: line 2, column attributes: not valid JSON/);
    expect(await attributesOf(...cells.map((_, i) => `acc_jb${i}`))).toEqual({});
  });

  it('caps the merged attributes at 50 per account', async () => {
    const json = JSON.stringify(Object.fromEntries(Array.from({ length: 45 }, (_, i) => [`j_${i}`, i])));
    const extra = Array.from({ length: 6 }, (_, i) => `c_${i}`);
    const csv = `${BASE},${extra.join(',')},attributes\n${base('acc_jc1')},${extra.map(() => 'v').join(',')},${q(json)}\n${base('acc_jc2')},${extra.map(() => '').join(',')},${q(json)}\n`;
    const e = await rejection('accounts', await file('csv', csv));
    expect(problems(e)).toEqual([{ line: 2, column: 'attributes', reason: '51 attributes; at most 50 per account' }]);
  });
});

describe('JSONL accounts', () => {
  it('takes keys the contract does not name, and an attributes object, the same way', async () => {
    const rows: SampleRow[] = [
      { ...SAMPLES.accounts('jl')[0], country: 'DE', employees: 120, vip: false, gone: null, blank: '' },
      { ...SAMPLES.accounts('jl')[1], country: 'FR' },
    ];
    const lines = toJsonl(rows).trimEnd().split('\n');
    lines.push(JSON.stringify({ ...SAMPLES.accounts('jl')[2], attributes: { tier: 'gold', seats_cap: 25 }, country: 'US' }));
    lines.push(JSON.stringify({ ...SAMPLES.accounts('jl4')[0], attributes: '{"tier": "silver"}' }));
    await ingestFile(db.pool, 'accounts', await file('jsonl', `${lines.join('\n')}\n`));
    expect(await attributesOf('acc_jl0', 'acc_jl1', 'acc_jl2', 'acc_jl40')).toEqual({
      acc_jl0: { country: 'DE', employees: '120', vip: 'false' },
      acc_jl1: { country: 'FR' },
      acc_jl2: { country: 'US', tier: 'gold', seats_cap: '25' },
      acc_jl40: { tier: 'silver' },
    });
  });

  it('checks names and values line by line', async () => {
    const [a, b, c, d] = SAMPLES.accounts('jlb').concat(SAMPLES.accounts('jlc'));
    const lines = [
      { ...a, Country: 'DE' },
      { ...b, address: { city: 'Berlin' } },
      { ...c, note: 'a\u0000b' },
      { ...d, attributes: [1] },
    ].map((r) => JSON.stringify(r));
    const e = await rejection('accounts', await file('jsonl', `${lines.join('\n')}\n`));
    expect(problems(e)).toEqual([
      { line: 1, column: 'Country', reason: expect.stringMatching(/^neither a column of accounts \(.*\) nor a valid attribute name: .*, e\.g\. country$/) },
      { line: 2, column: 'address', reason: `an attribute value must be text, a number or a boolean, got an object (nested values are not allowed): {"city":"Berlin"}` },
      { line: 3, column: 'note', reason: 'contains a NUL character' },
      { line: 4, column: 'attributes', reason: 'expected a JSON object of attributes, got an array: [1]' },
    ]);
  });

  it('refuses text that is not valid Unicode, which jsonb cannot hold', async () => {
    const line = JSON.stringify({ ...SAMPLES.accounts('jlu')[0], note: 'x' }).replace('"note":"x"', '"note":"\\ud800x"');
    const e = await rejection('accounts', await file('jsonl', `${line}\n`));
    expect(problems(e)).toEqual([{ line: 1, column: 'note', reason: 'contains an unpaired UTF-16 surrogate (not valid Unicode)' }]);
  });
});

describe('re-loading accounts', () => {
  it('replaces the stored attributes with the file\'s; the same file again changes nothing', async () => {
    const first = `${BASE},country,employees\n${base('acc_r1')},DE,120\n${base('acc_r2')},FR,40\n`;
    await ingestFile(db.pool, 'accounts', await file('csv', first));
    const loaded = await tableState(db.pool, 'accounts');
    // the same attributes, in another column order and through the JSON column: identical, nothing rewritten
    const same = `${BASE},employees,attributes\n${base('acc_r1')},120,${q('{"country": "DE"}')}\n${base('acc_r2')},40,${q('{"country": "FR"}')}\n`;
    expect(await ingestFile(db.pool, 'accounts', await file('csv', same))).toMatchObject({ rows: 2, inserted: 0, updated: 0 });
    expect(await tableState(db.pool, 'accounts')).toEqual(loaded);
    const second = `${BASE},tier,employees\n${base('acc_r1')},gold,\n${base('acc_r2')},,40\n`;
    expect(await ingestFile(db.pool, 'accounts', await file('csv', second))).toMatchObject({ rows: 2, inserted: 0, updated: 2 });
    expect(await attributesOf('acc_r1', 'acc_r2')).toEqual({ acc_r1: { tier: 'gold' }, acc_r2: { employees: '40' } });
    const none = `${BASE}\n${base('acc_r1')}\n`;
    expect(await ingestFile(db.pool, 'accounts', await file('csv', none))).toMatchObject({ rows: 1, inserted: 0, updated: 1 });
    expect(await attributesOf('acc_r1', 'acc_r2')).toEqual({ acc_r1: {}, acc_r2: { employees: '40' } });
  });

  it('loads the example of the ingestion README as it says', async () => {
    const readme = await fs.readFile(new URL('../features/ingest/README.md', import.meta.url), 'utf8');
    const section = readme.split('**accounts: your own attributes.**')[1];
    const example = /```\n([\s\S]*?)```/.exec(section)?.[1];
    expect(example).toMatch(/^account_id,name,segment,plan,created_at,acquisition_channel,/);
    // the README's own accounts, renamed so that they do not meet others
    await ingestFile(db.pool, 'accounts', await file('csv', example!.replace(/\bacc_(\d)/g, 'acc_readme$1')));
    expect(await attributesOf('acc_readme1', 'acc_readme2')).toEqual({
      acc_readme1: { acquisition_channel: 'paid_search', country: 'DE', employees: '120', date_of_birth: '1980-04-02' },
      acc_readme2: { country: 'FR', employees: '4000' },
    });
  });
});

describe('a misspelt column', () => {
  it('is refused as that column misspelt when the file lacks the column, not loaded as an attribute while the column loads empty', async () => {
    const e = await rejection('accounts', await file('csv', `${BASE},industy\n${base('acc_typo1')},retail\n`));
    expect(problems(e)).toEqual([{ line: 1, column: 'industy', reason: 'looks like the column industry misspelt, and it has no industry: rename it (to keep industy as an attribute of your own, add industry, blank if need be)' }]);
    // the way out the message gives: with the column present, the near name is an attribute of its own
    await ingestFile(db.pool, 'accounts', await file('csv', `${BASE},industry,industy\n${base('acc_typo1')},retail,kept\n`));
    expect(await attributesOf('acc_typo1')).toEqual({ acc_typo1: { industy: 'kept' } });
    const [industry] = await query<{ industry: string }>(db.pool, "SELECT industry FROM source.accounts WHERE account_id = 'acc_typo1'");
    expect(industry.industry).toBe('retail');
    // JSONL: per record, against the columns that record lacks
    const { industry: _dropped, ...noIndustry } = { ...SAMPLES.accounts('jtypo')[0], industry: null };
    const j = await rejection('accounts', await file('jsonl', `${JSON.stringify({ ...noIndustry, regoin: 'EU', region: undefined, industy: 'retail' })}\n`));
    expect(problems(j).map((p) => [p.line, p.column, p.reason.replace(/, and it has.*/, '')])).toEqual([[1, 'regoin', 'looks like the column region misspelt'], [1, 'industy', 'looks like the column industry misspelt']]);
  });

  it('of a table without attributes names the column it may be, in CSV and JSONL', async () => {
    const tickets = SAMPLES.support_tickets('typo').map(({ priority, ...r }) => ({ ...r, priorty: priority }));
    const t = await rejection('support_tickets', await file('csv', toCsv(tickets)));
    expect(problems(t)).toEqual([
      { line: 1, column: 'priorty', reason: expect.stringMatching(/^unknown column; did you mean priority\? \(support_tickets has: ticket_id, /) },
      { line: 1, column: 'priority', reason: 'required column is missing from the header' },
    ]);
    const j = await rejection('support_tickets', await file('jsonl', toJsonl(tickets)));
    expect(problems(j).filter((p) => p.column === 'priorty').map((p) => p.reason.replace(/ \(.*/, ''))).toEqual(tickets.map(() => 'unknown column; did you mean priority?'));
  });
});

describe('other tables', () => {
  it('still refuse columns they do not name, an attributes column included, in CSV and JSONL', async () => {
    const users = SAMPLES.users('ot').map((r) => ({ ...r, country: 'DE' }));
    const e = await rejection('users', await file('csv', toCsv(users)));
    expect(problems(e)).toEqual([{ line: 1, column: 'country', reason: 'unknown column (users has: user_id, account_id, role, created_at, deactivated_at)' }]);
    const tickets = SAMPLES.support_tickets('ot').map((r) => ({ ...r, attributes: '{}' }));
    const t = await rejection('support_tickets', await file('csv', toCsv(tickets)));
    expect(problems(t).map((p) => [p.line, p.column, p.reason.replace(/ \(.*/, '')])).toEqual([[1, 'attributes', 'unknown column']]);
    const events = SAMPLES.events('o').map((r, i) => (i === 1 ? { ...r, country: 'DE' } : r));
    const ev = await rejection('events', await file('jsonl', toJsonl(events)));
    expect(problems(ev)).toEqual([{ line: 2, column: 'country', reason: 'unknown column (events has: event_id, account_id, user_id, event_type, occurred_at, quantity)' }]);
  });
});
