import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { query } from '../core/db.ts';
import { generate } from '../features/generate/index.ts';
import { createTestDatabase, type TestDatabase } from './helpers/db.ts';
import { tableChecksums } from './generate-support.ts';

const SMALL = { accounts: 60, months: 4, end: '2026-06-01' };

describe('churn generate: determinism and safety', () => {
  let a: TestDatabase;
  let b: TestDatabase;
  let c: TestDatabase;
  let sumsA: Record<string, string>;
  beforeAll(async () => {
    [a, b, c] = await Promise.all([createTestDatabase(), createTestDatabase(), createTestDatabase()]);
    await generate(a.pool, { ...SMALL, seed: 7 });
    sumsA = await tableChecksums(a.pool);
  });
  afterAll(async () => {
    await Promise.all([a?.drop(), b?.drop(), c?.drop()]);
  });

  it('writes identical checksums for every table when run twice with the same seed', async () => {
    const r = await generate(b.pool, { ...SMALL, seed: 7 });
    expect(await tableChecksums(b.pool)).toEqual(sumsA);
    expect(r.accounts).toBe(60);
    expect(r.rowCounts.events).toBeGreaterThan(10_000);
    expect(sumsA['source.events']).toBe(`${r.rowCounts.events}:${sumsA['source.events'].split(':')[1]}`);
  });

  it('leaves the events vacuumed: the visibility map is set, so the covering index answers index-only at once', async () => {
    // pages counted are those holding rows: on PostgreSQL 16 and later, the two COPY streams' bulk
    // extensions of a partition leave all-zero pages that VACUUM never marks all-visible, and that no
    // index entry points to
    const [v] = await query<{ pages: number; visible: number }>(a.pool, `SELECT sum((SELECT count(DISTINCT (e.ctid::text::point)[0]) FROM source.events e WHERE e.tableoid = c.oid))::int AS pages,
        sum(c.relallvisible)::int AS visible
      FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid WHERE i.inhparent = 'source.events'::regclass`);
    expect(v.pages).toBeGreaterThan(10);
    expect(v.visible).toBeGreaterThanOrEqual(0.9 * v.pages); // (pages written while the vacuum ran may be left out)
    const plan = (await query<{ 'QUERY PLAN': string }>(a.pool, `EXPLAIN (ANALYZE, COSTS OFF, TIMING OFF, SUMMARY OFF)
      SELECT count(*) FROM source.events WHERE account_id = (SELECT min(account_id) FROM source.accounts) AND occurred_at >= '2026-01-01'`)).map((r) => r['QUERY PLAN']).join('\n');
    if (plan.includes('Index Only Scan')) expect(plan).toMatch(/Heap Fetches: 0/);
  });

  it('writes different data for a different seed', async () => {
    await generate(c.pool, { ...SMALL, seed: 8 });
    const sumsC = await tableChecksums(c.pool);
    for (const table of ['source.accounts', 'source.users', 'source.events', 'source.invoices', 'churn.synthetic_truth']) {
      expect(sumsC[table], table).not.toBe(sumsA[table]);
    }
    expect(sumsC['source.event_types']).toBe(sumsA['source.event_types']);
  });

  it('refuses a database that already holds accounts and leaves it unchanged', async () => {
    await expect(generate(a.pool, { ...SMALL, seed: 9 })).rejects.toMatchObject({ code: 'CHURN_ERR_DATABASE_NOT_EMPTY' });
    expect(await tableChecksums(a.pool)).toEqual(sumsA);
  });

  it('replaces the data set with --replace and gives the same data as a fresh run', async () => {
    await generate(c.pool, { ...SMALL, seed: 7, replace: true });
    expect(await tableChecksums(c.pool)).toEqual(sumsA);
  });

  it('records each run in churn.generation_runs', async () => {
    const runs = await query<{ seed: number; accounts: number; months: number; start_date: Date; row_counts: Record<string, number> }>(
      c.pool, 'SELECT seed, accounts, months, start_date, row_counts FROM churn.generation_runs ORDER BY run_id');
    expect(runs.map((r) => r.seed)).toEqual([8, 7]);
    expect(runs[1]).toMatchObject({ accounts: 60, months: 4 });
    expect(runs[1].start_date.toISOString().slice(0, 10)).toBe('2026-02-01');
    const [n] = await query<{ n: number }>(c.pool, 'SELECT count(*)::int AS n FROM source.events');
    expect(runs[1].row_counts.events).toBe(n.n);
  });

  it('rejects invalid options before touching the database', async () => {
    await expect(generate(b.pool, { ...SMALL, accounts: 0, replace: true })).rejects.toMatchObject({ code: 'CHURN_ERR_VALIDATION' });
    await expect(generate(b.pool, { ...SMALL, end: 'yesterday', replace: true })).rejects.toMatchObject({ code: 'CHURN_ERR_VALIDATION' });
    expect(await tableChecksums(b.pool)).toEqual(sumsA);
  });

  it('exits non-zero with a coded one-line reason on bad CLI input', async () => {
    const run = promisify(execFile);
    const err = await run(process.execPath, ['bin/churn.js', 'generate', '--accounts', 'many'], { env: { ...process.env, DATABASE_URL: b.url } }).catch((e: { code: number; stderr: string }) => e);
    expect(err).toMatchObject({ code: 1 });
    expect((err as { stderr: string }).stderr).toMatch(/^CHURN_ERR_VALIDATION: accounts/);
  });

  it('refuses an --end in the future with a one-line reason, and leaves the database as it was', async () => {
    const run = promisify(execFile);
    const err = await run(process.execPath, ['bin/churn.js', 'generate', '--accounts', '5', '--months', '1', '--end', '2099-01-01', '--replace'], { env: { ...process.env, DATABASE_URL: b.url } })
      .catch((e: { code: number; stderr: string }) => e);
    expect(err).toMatchObject({ code: 1 });
    expect((err as { stderr: string }).stderr.trim()).toMatch(/^CHURN_ERR_VALIDATION: end: "2099-01-01" lies in the future \(now is [^)]+\); the data must end by today$/);
    expect(await tableChecksums(b.pool)).toEqual(sumsA);
  });
});
