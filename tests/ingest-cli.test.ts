import { execFile } from 'node:child_process';
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { query } from '../core/db.ts';
import { SAMPLES, tableState, toCsv, writeFile } from './fixtures/ingest/samples.ts';
import { createTestDatabase, type TestDatabase } from './helpers/db.ts';

const run = promisify(execFile);
let db: TestDatabase;
let dir: string;

beforeAll(async () => {
  db = await createTestDatabase();
  dir = await fs.mkdtemp(path.join(os.tmpdir(), 'churn-ingest-cli-'));
});

afterAll(async () => {
  await db?.drop();
  if (dir) await fs.rm(dir, { recursive: true, force: true });
});

async function churn(...args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  const env = { ...process.env, DATABASE_URL: db.url, CHURN_LOG_LEVEL: 'silent' };
  try {
    const r = await run(process.execPath, ['bin/churn.js', ...args], { env, cwd: path.resolve(import.meta.dirname, '..') });
    return { code: 0, stdout: r.stdout, stderr: r.stderr };
  } catch (err) {
    const e = err as { code: number; stdout: string; stderr: string };
    return { code: e.code, stdout: e.stdout, stderr: e.stderr };
  }
}

describe('churn ingest (end to end)', () => {
  it('exits 1 with one CHURN_ERR_BAD_FILE line on a bad file and loads nothing', async () => {
    const rows = SAMPLES.accounts('cli');
    rows[1] = { ...rows[1], created_at: 'last tuesday' };
    const file = await writeFile(dir, 'bad.csv', toCsv(rows));
    const before = await tableState(db.pool, 'accounts');
    const r = await churn('ingest', 'accounts', file);
    expect(r.code).toBe(1);
    const lines = r.stderr.trim().split('\n');
    expect(lines).toHaveLength(1);
    expect(lines[0]).toMatch(/^CHURN_ERR_BAD_FILE: .*bad\.csv: 1 problem; first: line 3, column created_at: expected an ISO 8601 timestamp/);
    expect(await tableState(db.pool, 'accounts')).toEqual(before);
  });

  it('exits 0 on a good file and prints a one-line summary; a second run changes nothing', async () => {
    const file = await writeFile(dir, 'good.csv', toCsv(SAMPLES.accounts('cli')));
    const first = await churn('ingest', 'accounts', file);
    expect(first.code).toBe(0);
    expect(first.stdout.trim()).toMatch(/^accounts: 3 rows from good\.csv: 3 inserted, 0 updated, 0 unchanged in \d+\.\ds$/);
    const loaded = await tableState(db.pool, 'accounts');
    const second = await churn('ingest', 'accounts', file);
    expect(second.stdout.trim()).toMatch(/^accounts: 3 rows from good\.csv: 0 inserted, 0 updated, 3 unchanged/);
    expect(await tableState(db.pool, 'accounts')).toEqual(loaded);
    expect(first.stderr).toBe('');
    // an account created next year: loaded (exit 0), with a note on stderr
    const ahead = new Date(Date.now() + 400 * 86_400_000).toISOString();
    const later = await writeFile(dir, 'ahead.csv', toCsv(SAMPLES.accounts('cli_ahead').map((r) => ({ ...r, created_at: ahead }))));
    const noted = await churn('ingest', 'accounts', later);
    expect(noted.code).toBe(0);
    expect(noted.stdout.trim()).toMatch(/^accounts: 3 rows from ahead\.csv: 3 inserted/);
    expect(noted.stderr.trim()).toBe(`note: 3 row(s) have created_at more than a day after now (the latest ${ahead}): they are loaded, `
      + "and features count them only once that time has come; check the export's time zone and date format");
  });

  it('stores an accounts file\'s own columns as attributes (exit 0), and fails a file with an invalid attribute name or JSON (exit 1, nothing loaded)', async () => {
    const header = 'account_id,name,segment,plan,created_at';
    const good = await writeFile(dir, 'attrs.csv', `${header},acquisition_channel,country,attributes\nacc_cli_a1,A,smb,pro,2026-01-05T00:00:00Z,ads,,"{""vip"": true}"\n`);
    const ok = await churn('ingest', 'accounts', good);
    expect(ok.code).toBe(0);
    expect(ok.stdout.trim()).toMatch(/^accounts: 1 rows from attrs\.csv: 1 inserted, 0 updated, 0 unchanged/);
    const [row] = await query<{ attributes: unknown }>(db.pool, `SELECT attributes FROM source.accounts WHERE account_id = 'acc_cli_a1'`);
    expect(row.attributes).toEqual({ acquisition_channel: 'ads', vip: 'true' });

    const before = await tableState(db.pool, 'accounts');
    const badName = await writeFile(dir, 'attrs-bad.csv', `${header},Acquisition Channel\nacc_cli_a2,B,smb,pro,2026-01-05T00:00:00Z,ads\n`);
    const r = await churn('ingest', 'accounts', badName);
    expect(r.code).toBe(1);
    expect(r.stderr.trim().split('\n')).toHaveLength(1);
    expect(r.stderr.trim()).toMatch(/^CHURN_ERR_BAD_FILE: .*attrs-bad\.csv: 1 problem; first: line 1, column Acquisition Channel: neither a column of accounts \(.*\) nor a valid attribute name: .*e\.g\. acquisition_channel; nothing was loaded$/);
    const badJson = await writeFile(dir, 'attrs-json.csv', `${header},attributes\nacc_cli_a3,C,smb,pro,2026-01-05T00:00:00Z,{vip}\n`);
    const j = await churn('ingest', 'accounts', badJson);
    expect(j.code).toBe(1);
    expect(j.stderr.trim()).toMatch(/^CHURN_ERR_BAD_FILE: .*attrs-json\.csv: 1 problem; first: line 2, column attributes: not valid JSON/);
    const users = await writeFile(dir, 'users-extra.csv', `${toCsv(SAMPLES.users('cli').map((u) => ({ ...u, account_id: 'acc_cli_a1', country: 'DE' })))}`);
    const u = await churn('ingest', 'users', users);
    expect(u.code).toBe(1);
    expect(u.stderr.trim()).toMatch(/^CHURN_ERR_BAD_FILE: .*users-extra\.csv: 1 problem; first: line 1, column country: unknown column \(users has: /);
    expect(await tableState(db.pool, 'accounts')).toEqual(before);
  });

  it('lists every table in --help and refuses an unknown table', async () => {
    const help = await churn('ingest', '--help');
    expect(help.code).toBe(0);
    for (const t of ['accounts', 'users', 'subscriptions', 'event_types', 'events', 'support_tickets', 'survey_responses', 'invoices', 'payment_attempts']) expect(help.stdout).toContain(`\n  ${t} `);
    expect(help.stdout).toMatch(/\n {2}accounts .*owner; any other column: your own attribute \(lower-case snake_case name, at most 50\)/);
    const bad = await churn('ingest', 'customers', path.join(dir, 'good.csv'));
    expect(bad.code).toBe(1);
    expect(bad.stderr.trim()).toMatch(/^CHURN_ERR_UNKNOWN_TABLE: unknown source table 'customers'/);
  });
});
