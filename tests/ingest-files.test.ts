import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { to as copyTo } from 'pg-copy-streams';
import { query } from '../core/db.ts';
import { ChurnError } from '../core/errors.ts';
import type { Progress } from '../core/progress.ts';
import { ingestFile, type Problem } from '../features/ingest/ingest.ts';
import { SAMPLES, seedParents, tableState, toCsv, toJsonl, writeFile } from './fixtures/ingest/samples.ts';
import { createTestDatabase, type TestDatabase } from './helpers/db.ts';

let db: TestDatabase;
let dir: string;

beforeAll(async () => {
  db = await createTestDatabase();
  dir = await fs.mkdtemp(path.join(os.tmpdir(), 'churn-ingest-files-'));
  await seedParents(db.pool);
});

afterAll(async () => {
  await db?.drop();
  if (dir) await fs.rm(dir, { recursive: true, force: true });
});

let n = 0;
const file = (ext: string, content: string) => writeFile(dir, `g${++n}.${ext}`, content);

async function rejection(table: string, filePath: string, opts = {}): Promise<ChurnError> {
  const before = await tableState(db.pool, table);
  const err = await ingestFile(db.pool, table, filePath, opts).then(() => null, (e: unknown) => e);
  expect(err).toBeInstanceOf(ChurnError);
  expect(await tableState(db.pool, table)).toEqual(before);
  return err as ChurnError;
}

const at = (e: ChurnError) => (e.details as Problem[]).map((p) => [p.line, p.column]);

describe('line numbers are physical file lines', () => {
  it('counts a BOM, CRLF endings, blank lines and quoted multi-line fields in CSV', async () => {
    const csv = '\ufeffevent_type,feature_area,is_key_feature,description\r\n'
      + 'e_ml1,core,true,"first line\r\nsecond line"\r\n'
      + '\r\n'
      + 'e_ml2,core,false,plain\r\n'
      + 'e_ml3,core,perhaps,plain\r\n';
    const e = await rejection('event_types', await file('csv', csv));
    expect(at(e)).toEqual([[6, 'is_key_feature']]);
    const broken = csv.replace('e_ml3,core,perhaps,plain', 'e_ml3,"co"re,true,plain');
    expect(at(await rejection('event_types', await file('csv', broken)))).toEqual([[6, null]]);
  });

  it('counts blank lines in JSONL and names the malformed and non-object lines', async () => {
    const lines = ['{"event_type":"j1","feature_area":"core"}', '', '[1,2]', '{"event_type":"j2","feature_area":"core","colour":"red"}', '{"event_type": j3}', '   ', '{"event_type":"j4","feature_area":"core","is_key_feature":"2"}'];
    const e = await rejection('event_types', await file('jsonl', lines.join('\n')));
    expect(at(e)).toEqual([[3, null], [4, 'colour'], [5, null], [7, 'is_key_feature']]);
    expect((e.details as Problem[]).map((p) => p.reason)).toEqual([
      'expected a JSON object, got an array',
      expect.stringMatching(/^unknown column \(event_types has: event_type, feature_area, is_key_feature, description\)$/),
      expect.stringMatching(/^malformed JSON: /),
      "expected true or false (also t/f, yes/no, y/n, on/off, 1/0), got '2'",
    ]);
  });

  it('keeps line numbers right past the first read buffer of a large file', async () => {
    const rows = Array.from({ length: 20_000 }, (_, i) => ({ event_id: i + 1, account_id: 'acc_1', user_id: 'u_long_user_identifier_to_fill_bytes', event_type: 'login', occurred_at: `2026-03-${String((i % 28) + 1).padStart(2, '0')}T10:00:00Z`, quantity: 1 }));
    rows[19_990] = { ...rows[19_990], quantity: -1 };
    const e = await rejection('events', await file('csv', toCsv(rows)));
    expect(at(e)).toEqual([[19_992, 'quantity']]);
    expect(e.details).toEqual([{ line: 19_992, column: 'quantity', reason: "must be >= 0, got '-1'" }]);
  });
});

describe('headers', () => {
  it('names unknown, repeated and missing columns at line 1 and reads no rows', async () => {
    // accounts keeps columns of its own as attributes, but only under a valid (lower-case snake_case) name
    const csv = 'account_id,name,segment,segment,plan,Colour\nacc_h1,H,smb,smb,pro,red\n';
    const e = await rejection('accounts', await file('csv', csv));
    expect(e.details).toEqual([
      { line: 1, column: 'segment', reason: 'column appears more than once in the header' },
      { line: 1, column: 'Colour', reason: expect.stringMatching(/^neither a column of accounts \(account_id, .*\) nor a valid attribute name: .*, e\.g\. colour$/) },
      { line: 1, column: 'created_at', reason: 'required column is missing from the header' },
    ]);
    expect(e.message).toMatch(/: 3 problems; first: line 1, column segment: column appears more than once/);
    const late = await rejection('accounts', await file('csv', `\n\n${csv}`));
    expect(at(late)).toEqual([[3, 'segment'], [3, 'Colour'], [3, 'created_at']]);
    const users = await rejection('users', await file('csv', 'user_id,account_id,created_at,colour\nu_h1,acc_1,2026-01-01T00:00:00Z,red\n'));
    expect(users.details).toEqual([{ line: 1, column: 'colour', reason: 'unknown column (users has: user_id, account_id, role, created_at, deactivated_at)' }]);
  });

  it('accepts a file without optional columns and fills their defaults', async () => {
    const r = await ingestFile(db.pool, 'events', await file('csv', 'event_id,account_id,event_type,occurred_at\n77,acc_1,login,2026-02-03T04:05:06.789Z\n'));
    expect(r).toMatchObject({ rows: 1, inserted: 1, notes: [] });
    const [row] = await query(db.pool, 'SELECT user_id, quantity, occurred_at = $1::timestamptz AS exact FROM source.events WHERE event_id = 77', ['2026-02-03T04:05:06.789Z']);
    expect(row).toEqual({ user_id: null, quantity: 1, exact: true });
  });

  it('rejects a header with no rows after it at line 2', async () => {
    const e = await rejection('accounts', await file('csv', 'account_id,name,segment,plan,created_at\n'));
    expect(e.details).toEqual([{ line: 2, column: null, reason: 'the file has no rows after the header' }]);
  });
});

describe('problem reports', () => {
  it('counts every problem, lists the first 20 in line order, and merges row and database checks', async () => {
    const rows = Array.from({ length: 40 }, (_, i) => ({ ticket_id: `tk_${i}`, account_id: i % 2 ? 'acc_nobody' : 'acc_1', opened_at: '2026-01-05T00:00:00Z', priority: i % 4 === 0 ? 'meh' : 'low', status: 'open' }));
    const e = await rejection('support_tickets', await file('csv', toCsv(rows)));
    // each distinct problem once, with its first lines and how many rows have it
    expect(e.message).toMatch(/: 30 problems; first: lines 2, 6, 10 and 7 more, column priority: expected one of low, normal, high, urgent, got 'meh' \(10 rows\); lines 3, 5, 7 and 17 more, column account_id: unknown account 'acc_nobody' \(not in source\.accounts\) \(20 rows\); nothing was loaded$/);
    const lines = (e.details as Problem[]).map((p) => p.line);
    expect(lines).toHaveLength(20);
    expect(lines).toEqual([...lines].sort((a, b) => a - b));
    expect(lines.slice(0, 4)).toEqual([2, 3, 5, 6]);
  });

  it('tells a problem repeated on many rows once, with its count and first lines', async () => {
    const rows = Array.from({ length: 25 }, (_, i) => ({ ...SAMPLES.subscriptions(`rep${i}`)[0], is_trial: i === 10 ? 'maybe' : 'sure' }));
    const e = await rejection('subscriptions', await file('csv', toCsv(rows)));
    expect(e.message).toMatch(/: 25 problems; first: lines 2, 3, 4 and 21 more, column is_trial: expected true or false \(also t\/f, yes\/no, y\/n, on\/off, 1\/0\), got 'sure' \(24 rows\); line 12, column is_trial: expected true or false \(also t\/f, yes\/no, y\/n, on\/off, 1\/0\), got 'maybe'; nothing was loaded$/);
    expect(e.details).toHaveLength(20);
    // found in SQL too: the same unknown account on every row
    const orphans = Array.from({ length: 30 }, (_, i) => ({ ...SAMPLES.support_tickets(`orph${i}`)[0], account_id: i < 29 ? 'acc_gone' : 'acc_lost' }));
    const o = await rejection('support_tickets', await file('csv', toCsv(orphans)));
    expect(o.message).toMatch(/: 30 problems; first: lines 2, 3, 4 and 26 more, column account_id: unknown account 'acc_gone' \(not in source\.accounts\) \(29 rows\); and 1 more; nothing was loaded$/);
  });

  it('checks rules across columns: period end after start, survey score by type', async () => {
    const subs = SAMPLES.subscriptions('x');
    subs[1] = { ...subs[1], ended_at: subs[1].started_at };
    expect(at(await rejection('subscriptions', await file('jsonl', toJsonl(subs))))).toEqual([[2, 'ended_at']]);
    const surveys = SAMPLES.survey_responses('x');
    surveys[2] = { ...surveys[2], survey_type: 'csat', score: 9 };
    const e = await rejection('survey_responses', await file('csv', toCsv(surveys)));
    expect(e.details).toEqual([{ line: 4, column: 'score', reason: 'a csat score must be between 1 and 5, got 9' }]);
    // the status must agree with what labels and features read: a 'trialing' period not flagged is_trial
    // counted as paid (a lapsed trial became a churned customer), a 'canceled' one without an end ran forever
    const periods = SAMPLES.subscriptions('y');
    periods[1] = { ...periods[1], status: 'trialing', is_trial: false };
    periods[2] = { ...periods[2], status: 'canceled', ended_at: null };
    const s = await rejection('subscriptions', await file('csv', toCsv(periods)));
    expect(s.details).toEqual([
      { line: 3, column: 'is_trial', reason: "status is 'trialing' but is_trial is false or left out: mark a trial period with is_trial true, or it counts as paid" },
      { line: 4, column: 'ended_at', reason: "status is 'canceled' but ended_at is empty: give the end of the period (when paying stopped), or it counts as running forever" },
    ]);
  });
});

describe('ids', () => {
  it('refuses an id with leading or trailing whitespace in any *_id column, naming line and column, and loads nothing', async () => {
    const accounts = SAMPLES.accounts('ws');
    accounts[1] = { ...accounts[1], account_id: `${accounts[0].account_id as string} ` };
    const e = await rejection('accounts', await file('csv', toCsv(accounts)));
    expect(e.message).toMatch(new RegExp(`: 1 problem; first: line 3, column account_id: an id may not begin or end with whitespace, got '${accounts[0].account_id as string} '; nothing was loaded$`));
    const users = SAMPLES.users('ws');
    users[2] = { ...users[2], user_id: '\tu_ws2', account_id: 'acc_1\u00a0' };
    expect(at(await rejection('users', await file('jsonl', toJsonl(users))))).toEqual([[3, 'user_id'], [3, 'account_id']]);
    // inner spaces are part of the id
    const inner = SAMPLES.accounts('in');
    inner[0] = { ...inner[0], account_id: 'acc in 0' };
    expect((await ingestFile(db.pool, 'accounts', await file('csv', toCsv(inner)))).inserted).toBe(3);
  });
});

describe('parents of another account', () => {
  it('refuses a payment attempt whose invoice, or an invoice whose subscription, belongs to another account, naming row, parent and account', async () => {
    const attempts = SAMPLES.payment_attempts('own');
    attempts[1] = { ...attempts[1], account_id: 'acc_2' }; // inv_p1 is acc_1's
    const a = await rejection('payment_attempts', await file('csv', toCsv(attempts)));
    expect(a.message).toMatch(/: 1 problem; first: line 3, column invoice_id: invoice 'inv_p1' belongs to account 'acc_1', not to this row's account 'acc_2'; nothing was loaded$/);
    await ingestFile(db.pool, 'subscriptions', await file('csv', toCsv(SAMPLES.subscriptions('own')))); // acc_1's
    const invoices = SAMPLES.invoices('own');
    invoices[2] = { ...invoices[2], account_id: 'acc_2', subscription_id: 'sub_own0' };
    const i = await rejection('invoices', await file('jsonl', toJsonl(invoices)));
    expect(i.message).toMatch(/: 1 problem; first: line 3, column subscription_id: subscription 'sub_own0' belongs to account 'acc_1', not to this row's account 'acc_2'; nothing was loaded$/);
    // the account's own subscription, or one not loaded, is fine
    invoices[2] = { ...invoices[2], account_id: 'acc_1' };
    expect((await ingestFile(db.pool, 'invoices', await file('csv', toCsv(invoices)))).inserted).toBe(3);
  });

  it('holds every writer to it: the database refuses a payment attempt under another account than its invoice\'s', async () => {
    const err = await query(db.pool, `INSERT INTO source.payment_attempts (attempt_id, invoice_id, account_id, attempted_at, succeeded)
      VALUES ('pa_sql', 'inv_p1', 'acc_2', '2026-01-02Z', false)`).then(() => null, (e: unknown) => e);
    expect(err).toMatchObject({ code: '23503', constraint: 'payment_attempts_invoice_account_fkey' });
  });
});

describe('files and formats', () => {
  it('puts events into monthly partitions created for the file', async () => {
    const rows = [1, 2, 3].map((i) => ({ event_id: 500 + i, account_id: 'acc_2', event_type: 'export', occurred_at: `2027-0${i}-15T12:00:00+02:00` }));
    const r = await ingestFile(db.pool, 'events', await file('jsonl', toJsonl(rows)));
    expect(r).toMatchObject({ inserted: 3 });
    // events that have not happened yet load, with a note (a time-zone or date error, usually)
    expect(r.notes).toEqual(['3 row(s) have occurred_at more than a day after now (the latest 2027-03-15T10:00:00.000Z): '
      + "they are loaded, and features count them only once that time has come; check the export's time zone and date format"]);
    // several such columns of one table: a note for each column that has any, counted on its own
    const tickets = SAMPLES.support_tickets('ahead').map((t, i) => ({ ...t, opened_at: `2031-01-0${i + 1}T00:00:00Z`, closed_at: i === 2 ? '2031-02-01T00:00:00Z' : null, escalated_at: null, escalated: false }));
    const notes = (await ingestFile(db.pool, 'support_tickets', await file('jsonl', toJsonl(tickets)))).notes;
    expect(notes.map((n) => n.replace(/: they are loaded.*/, ''))).toEqual([
      '1 row(s) have closed_at more than a day after now (the latest 2031-02-01T00:00:00.000Z)',
      '3 row(s) have opened_at more than a day after now (the latest 2031-01-03T00:00:00.000Z)',
    ]);
    const placed = await query<{ part: string }>(db.pool, 'SELECT tableoid::regclass::text AS part FROM source.events WHERE event_id > 500 AND event_id < 510 ORDER BY event_id');
    expect(placed.map((p) => p.part)).toEqual(['source.events_2027_01', 'source.events_2027_02', 'source.events_2027_03']);
  });

  it('takes the format from --format when the extension says nothing, and refuses to guess', async () => {
    const txt = await file('txt', toJsonl(SAMPLES.event_types('fmt')));
    await expect(ingestFile(db.pool, 'event_types', txt)).rejects.toMatchObject({ code: 'CHURN_ERR_VALIDATION' });
    expect(await ingestFile(db.pool, 'event_types', txt, { format: 'jsonl' })).toMatchObject({ inserted: 3 });
  });

  it('refuses an unknown table and a missing file', async () => {
    const csv = await file('csv', toCsv(SAMPLES.accounts('q')));
    await expect(ingestFile(db.pool, 'customers', csv)).rejects.toMatchObject({ code: 'CHURN_ERR_UNKNOWN_TABLE' });
    await expect(ingestFile(db.pool, 'accounts', path.join(dir, 'nope.csv'))).rejects.toMatchObject({ code: 'CHURN_ERR_VALIDATION' });
  });

  it('reports progress by bytes read, up to the file size', async () => {
    const content = toCsv(SAMPLES.accounts('p'));
    const seen: number[] = [];
    let total = 0;
    const progress: Progress = { start: (t) => void (total = t), update: (v) => void seen.push(v), increment() {}, stop() {} };
    await ingestFile(db.pool, 'accounts', await file('csv', content), { progress });
    expect(total).toBe(Buffer.byteLength(content));
    expect(seen.at(-1)).toBe(total);
  });
});

describe('what PostgreSQL writes', () => {
  it('re-loads what COPY ... (FORMAT csv, HEADER) exported (t/f booleans, +00 zones, numeric text) and changes nothing', async () => {
    for (const table of ['subscriptions', 'support_tickets', 'payment_attempts', 'event_types']) {
      await ingestFile(db.pool, table, await file('csv', toCsv(SAMPLES[table]('pgcopy'))));
      const client = await db.pool.connect();
      let exported = '';
      try {
        const stream = client.query(copyTo(`COPY (SELECT * FROM source.${table} ORDER BY 1) TO STDOUT WITH (FORMAT csv, HEADER)`));
        for await (const chunk of stream) exported += String(chunk);
      } finally {
        client.release();
      }
      expect(exported, table).toMatch(/,[tf](,|\n)/);
      const before = await tableState(db.pool, table);
      const r = await ingestFile(db.pool, table, await file('csv', exported));
      expect(r, table).toMatchObject({ rows: before.n, inserted: 0, updated: 0 });
      expect(await tableState(db.pool, table), table).toEqual(before);
    }
  });
});

describe('event partitions', () => {
  it('rejects an events file whose month is blocked by rows in the default partition, with a clear error, and loads nothing', async () => {
    // another writer put a 2031 event straight into the default partition, so that month's partition cannot be created
    await query(db.pool, `INSERT INTO source.events_default (event_id, account_id, event_type, occurred_at) VALUES (990001, 'acc_1', 'login', '2031-03-05T10:00:00Z')`);
    try {
      const rows = [{ event_id: 990002, account_id: 'acc_1', user_id: null, event_type: 'login', occurred_at: '2031-03-06T10:00:00Z', quantity: 1 }];
      const e = await rejection('events', await file('jsonl', toJsonl(rows)));
      expect(e.code).toBe('CHURN_ERR_DATABASE');
      expect(e.message).toMatch(/cannot prepare the monthly event partitions for this file: .*default partition/);
    } finally {
      await query(db.pool, 'DELETE FROM source.events_default WHERE event_id = 990001');
    }
  });
});
