import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { query, type Pool } from '../core/db.ts';
import { ingestFile, type IngestResult } from '../features/ingest/ingest.ts';
import { seedParents, tableState, toCsv, writeFile, type SampleRow } from './fixtures/ingest/samples.ts';
import { createTestDatabase, type TestDatabase } from './helpers/db.ts';

/*
 * Ingests running at the same time as each other and as readers: concurrent loads of one table
 * never deadlock and end as if loaded one after the other, the event rollup stays exact, and the
 * monthly partitions a file needs are created before its long transaction, so readers of
 * source.events never wait for an ingest.
 */
let db: TestDatabase;
let dir: string;
const clients: pg.Client[] = [];
const ACCOUNTS = Array.from({ length: 20 }, (_, i) => `acc_c${i}`);

beforeAll(async () => {
  db = await createTestDatabase();
  dir = await fs.mkdtemp(path.join(os.tmpdir(), 'churn-ingest-concurrency-'));
  await seedParents(db.pool);
  await query(db.pool, `INSERT INTO source.accounts (account_id, name, segment, plan, created_at) SELECT a, a, 'smb', 'team', '2024-01-01Z' FROM unnest($1::text[]) a`, [ACCOUNTS]);
});

afterAll(async () => {
  for (const c of clients) await c.end().catch(() => undefined);
  await db?.drop();
  if (dir) await fs.rm(dir, { recursive: true, force: true });
});

let n = 0;
const file = (rows: SampleRow[]) => writeFile(dir, `c${++n}.csv`, toCsv(rows));
const connect = async () => {
  const c = new pg.Client({ connectionString: db.url, application_name: 'ingest-concurrency-test' });
  await c.connect();
  clients.push(c);
  return c;
};
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** An event of id `i` (its time a function of the id, in months `months` of `year`), of one of the accounts. */
const event = (i: number, quantity: number, year = 2025, months = 6): SampleRow => ({
  event_id: i, account_id: ACCOUNTS[i % ACCOUNTS.length], user_id: `u_${i % 7}`, event_type: i % 3 ? 'login' : 'export',
  occurred_at: `${year}-${String(1 + (i % months)).padStart(2, '0')}-${String(1 + (i % 28)).padStart(2, '0')}T${String(i % 24).padStart(2, '0')}:15:00Z`, quantity,
});
const range = (from: number, to: number) => Array.from({ length: to - from + 1 }, (_, k) => from + k);

/** The rollup equals a full recomputation from the events. */
async function expectRollupExact(pool: Pool): Promise<void> {
  const drift = await query(pool, 'SELECT d FROM churn.event_rollup_drift((SELECT array_agg(account_id) FROM source.accounts)) d');
  expect(drift).toEqual([]);
  const rows = () => query(pool, 'SELECT account_id, kind, key, bits::text, days::text, cum::text FROM churn.event_rollup ORDER BY account_id, kind, key NULLS FIRST');
  const maintained = await rows();
  await query(pool, 'SELECT churn.refresh_event_rollup(NULL)');
  expect(maintained).toEqual(await rows());
  expect(maintained.length).toBeGreaterThan(ACCOUNTS.length);
}

/** Sessions of this database waiting for a lock while running a statement that matches `like`. */
const waiting = async (like = '%') => (await query<{ n: number }>(db.pool,
  "SELECT count(*)::int AS n FROM pg_stat_activity WHERE datname = current_database() AND wait_event_type = 'Lock' AND query LIKE $1", [like]))[0].n;

/**
 * Runs two ingests at once; both must succeed. So that they truly overlap, the test holds the table
 * in SHARE mode until both wait to write it. Then loads the two files again one after the other, in
 * the order the concurrent ones committed: that changes nothing, so the concurrent end state is the
 * sequential one.
 */
async function concurrentlyThenSequentially(table: string, a: string, b: string): Promise<[IngestResult, IngestResult]> {
  const gate = await connect();
  await gate.query('BEGIN');
  await gate.query(`LOCK TABLE source.${table} IN SHARE MODE`);
  const both = Promise.all([ingestFile(db.pool, table, a), ingestFile(db.pool, table, b)]);
  both.catch(() => undefined);
  for (let i = 0; i < 800 && (await waiting()) < 2; i++) await sleep(10);
  await gate.query('COMMIT');
  const [ra, rb] = await both;
  const state = await tableState(db.pool, table);
  const [first, second] = ra.runId < rb.runId ? [a, b] : [b, a];
  await ingestFile(db.pool, table, first);
  await ingestFile(db.pool, table, second);
  expect((await tableState(db.pool, table)).sum).toBe(state.sum);
  return [ra, rb];
}

describe('concurrent ingests of one table', () => {
  it('both succeed with overlapping keys written in opposite orders (accounts), ending as one after the other', async () => {
    await ingestFile(db.pool, 'accounts', await file(range(0, 1499).map((i) => ({ account_id: `acc_o${i}`, name: `O${i}`, segment: 'smb', plan: 'base', created_at: '2025-01-01T00:00:00Z' }))));
    const rows = (plan: string, extra: string) => [...range(0, 1499).map((i) => ({ account_id: `acc_o${i}`, name: `O${i}`, segment: 'mid_market', plan, created_at: '2025-01-01T00:00:00Z' })),
      ...range(0, 199).map((i) => ({ account_id: `acc_${extra}${i}`, name: extra, segment: 'smb', plan, created_at: '2025-02-01T00:00:00Z' }))];
    const a = await file(rows('plan_a', 'a'));
    const b = await file(rows('plan_b', 'b').reverse());
    const [ra, rb] = await concurrentlyThenSequentially('accounts', a, b);
    // the later one updated the 1,500 shared rows the earlier one wrote
    const [later, earlier] = ra.runId > rb.runId ? [ra, rb] : [rb, ra];
    expect(earlier).toMatchObject({ inserted: 200, updated: 1500 });
    expect(later).toMatchObject({ inserted: 200, updated: 1500 });
    const plans = await query<{ plan: string; n: number }>(db.pool, "SELECT plan, count(*)::int AS n FROM source.accounts WHERE account_id LIKE 'acc_o%' GROUP BY plan");
    expect(plans).toEqual([{ plan: later === ra ? 'plan_a' : 'plan_b', n: 1500 }]);
  });

  it('both succeed with overlapping event keys in opposite orders in months without partitions yet, and the rollup equals a full recomputation', async () => {
    const a = await file(range(1, 3000).map((i) => event(i, 1)));
    const b = await file(range(1501, 4500).map((i) => event(i, 2)).reverse());
    const [ra, rb] = await concurrentlyThenSequentially('events', a, b);
    expect(ra.inserted + rb.inserted).toBe(4500);
    const parts = await query<{ part: string }>(db.pool, "SELECT DISTINCT tableoid::regclass::text AS part FROM source.events WHERE event_id <= 4500 ORDER BY 1");
    expect(parts.map((p) => p.part)).toEqual(range(1, 6).map((m) => `source.events_2025_0${m}`));
    await expectRollupExact(db.pool);
  });

  it('both succeed with disjoint event files of the same accounts in existing months, and the rollup equals a full recomputation', async () => {
    const a = await file(range(10_001, 12_000).map((i) => event(i, 3)));
    const b = await file(range(20_001, 22_000).map((i) => event(i, 4)));
    const [ra, rb] = await concurrentlyThenSequentially('events', a, b);
    expect([ra.inserted, rb.inserted]).toEqual([2000, 2000]);
    await expectRollupExact(db.pool);
  });
});

describe('monthly event partitions', () => {
  /** Reads one account's events with a 2-second lock timeout; returns the milliseconds it took. */
  const timedRead = async (reader: pg.Client) => {
    const t = performance.now();
    await reader.query('SELECT count(*) FROM source.events WHERE account_id = $1', [ACCOUNTS[1]]);
    return performance.now() - t;
  };

  it('while an ingest of a new month holds its transaction open, readers of source.events answer at once', async () => {
    // the test holds the run log, so the ingest stops inside its transaction, after writing the events
    const holder = await connect();
    await holder.query('BEGIN');
    await holder.query('LOCK TABLE churn.ingestion_runs IN EXCLUSIVE MODE');
    const rows = range(30_001, 30_050).map((i) => ({ ...event(i, 1), occurred_at: `2023-03-${String(1 + (i % 28)).padStart(2, '0')}T08:00:00Z` }));
    const running = ingestFile(db.pool, 'events', await file(rows));
    let failure: unknown = null;
    running.catch((e: unknown) => void (failure = e));
    for (let i = 0; i < 400 && !(await waiting('%ingestion_runs%')); i++) await sleep(25);
    expect(failure).toBeNull();
    expect(await waiting('%ingestion_runs%')).toBe(1);
    // its partition exists (created and committed before), its rows are not visible yet
    expect((await query(db.pool, "SELECT to_regclass('source.events_2023_03') IS NOT NULL AS made"))[0].made).toBe(true);
    const reader = await connect();
    await reader.query("SET lock_timeout = '2s'");
    expect(await timedRead(reader)).toBeLessThan(2000);
    const [{ n }] = (await reader.query("SELECT count(*)::int AS n FROM source.events WHERE occurred_at >= '2023-03-01' AND occurred_at < '2023-04-01'")).rows;
    expect(n).toBe(0);
    await holder.query('COMMIT');
    expect(await running).toMatchObject({ inserted: 50 });
    expect((await reader.query("SELECT count(*)::int AS n FROM source.events_2023_03")).rows[0].n).toBe(50);
  });

  it("gives way to a long reader: creating a month's partition waits without holding readers up, then loads", async () => {
    const long = await connect();
    await long.query('BEGIN');
    await long.query('SELECT count(*) FROM source.events');
    const rows = range(31_001, 31_020).map((i) => ({ ...event(i, 1), occurred_at: `2023-05-${String(1 + (i % 28)).padStart(2, '0')}T08:00:00Z` }));
    const running = ingestFile(db.pool, 'events', await file(rows));
    const reader = await connect();
    await reader.query("SET lock_timeout = '2s'");
    const times: number[] = [];
    for (let i = 0; i < 12; i++) {
      times.push(await timedRead(reader));
      await sleep(100);
    }
    // each attempt to create the partition waits at most 200 ms for the lock, and a reader at most that long behind it
    expect(Math.max(...times)).toBeLessThan(1000);
    expect((await query(db.pool, "SELECT to_regclass('source.events_2023_05') IS NULL AS missing"))[0].missing).toBe(true);
    await long.query('COMMIT');
    expect(await running).toMatchObject({ inserted: 20 });
  });

  it('gives up with a clear error and loads nothing when source.events stays busy', async () => {
    const long = await connect();
    await long.query('BEGIN');
    await long.query('SELECT count(*) FROM source.events');
    const rows = range(32_001, 32_010).map((i) => ({ ...event(i, 1), occurred_at: '2023-07-04T08:00:00Z' }));
    const before = await tableState(db.pool, 'events');
    const err = await ingestFile(db.pool, 'events', await file(rows), { partitionLock: { waitMs: 800 } }).then(() => null, (e: unknown) => e);
    await long.query('COMMIT');
    expect(err).toMatchObject({ code: 'CHURN_ERR_DATABASE', message: expect.stringMatching(/^cannot prepare the monthly event partitions for this file: cannot create the monthly event partitions from 2023-07-04T08:00:00\.000Z .*: other sessions held source\.events for \d+ s .*; nothing was loaded$/) });
    expect(await tableState(db.pool, 'events')).toEqual(before);
  });

  it("creates this month's partition and the next three's at each events ingest", async () => {
    const ahead = await query<{ part: string }>(db.pool, `SELECT to_char(date_trunc('month', now() AT TIME ZONE 'UTC') + k * interval '1 month', '"events_"YYYY_MM') AS part FROM generate_series(0, 3) k`);
    // the migrate made them; gone (they are empty), the next ingest of any month makes them again
    for (const { part } of ahead) await query(db.pool, `DROP TABLE source.${part}`);
    await ingestFile(db.pool, 'events', await file([event(33_001, 1, 2023, 1)]));
    const made = await query<{ made: boolean }>(db.pool, 'SELECT to_regclass(\'source.\' || p) IS NOT NULL AS made FROM unnest($1::text[]) p', [ahead.map((a) => a.part)]);
    expect(made.map((m) => m.made)).toEqual([true, true, true, true]);
  });
});
