/**
 * An interrupted first start (the generation killed mid-load) must not leave a silently broken
 * product: the generation is recorded as complete only at its end, and the next `churn start`
 * generates the same data set again, saying so.
 */
import { spawn } from 'node:child_process';
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ensureData } from '../cli/start-stages.ts';
import { query } from '../core/db.ts';
import { generate, unfinishedGeneration } from '../features/generate/index.ts';
import { refreshEventRollup } from '../features/rollup.ts';
import { BIN, runChurn } from './helpers/cli.ts';
import { createTestDatabase, type TestDatabase } from './helpers/db.ts';

const GENERATION = { accounts: 200, months: 12, seed: 5, end: '2026-11-01' };

describe('an interrupted generation', () => {
  let db: TestDatabase;
  let home: string;
  beforeAll(async () => {
    db = await createTestDatabase();
    home = await fs.mkdtemp(path.join(os.tmpdir(), 'churn-interrupted-'));
  });
  afterAll(async () => {
    await db?.drop();
    if (home) await fs.rm(home, { recursive: true, force: true });
  });

  const count = async (table: string) => (await query<{ n: number }>(db.pool, `SELECT count(*)::int AS n FROM ${table}`))[0].n;
  /** the event rollup as text, in a fixed order */
  const rollupText = async () => (await query<{ t: string | null }>(db.pool, "SELECT string_agg(r::text, '|' ORDER BY account_id, kind, key) AS t FROM churn.event_rollup r"))[0].t;

  it('killed mid-load, it is recorded as unfinished, and churn start generates it again before training', async () => {
    const env = { ...process.env, DATABASE_URL: db.url, CHURN_HOME: home, CHURN_LOG_LEVEL: 'warn' };
    const args = ['generate', '--accounts', String(GENERATION.accounts), '--months', String(GENERATION.months), '--seed', String(GENERATION.seed), '--end', GENERATION.end];
    const child = spawn(process.execPath, [BIN, ...args], { env, stdio: 'ignore' });
    const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
    // killed as soon as its accounts are committed (its events take seconds more)
    const t0 = Date.now();
    while ((await count('source.accounts')) === 0 && Date.now() - t0 < 60_000) await new Promise((r) => setTimeout(r, 50));
    child.kill('SIGKILL');
    await exited;
    expect(await count('source.accounts')).toBe(GENERATION.accounts);
    expect(await unfinishedGeneration(db.pool)).toEqual({ options: GENERATION, ingestedSince: false });

    const r = await runChurn(['start', '--no-serve'], env, 300_000);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toMatch(/^data {7}an earlier data generation did not finish \(200 accounts, (no|some) events\): generating it again$/m);
    expect(r.stdout).toMatch(/^model {6}trained /m);

    // the same data set as a generation that was never interrupted, recorded as complete
    const [run] = await query<{ seed: number; accounts: number; months: number; end_date: string; row_counts: Record<string, number> }>(db.pool,
      'SELECT seed, accounts, months, end_date::text, row_counts FROM churn.generation_runs ORDER BY run_id DESC LIMIT 1');
    expect(run).toMatchObject({ seed: GENERATION.seed, accounts: GENERATION.accounts, months: GENERATION.months, end_date: GENERATION.end });
    const events = await count('source.events');
    expect(events).toBeGreaterThan(0);
    expect(run.row_counts.events).toBe(events);
    expect(await unfinishedGeneration(db.pool)).toBeNull();
    // the rollup is valid and equals a recomputation from the events
    expect((await query<{ valid: boolean }>(db.pool, 'SELECT valid FROM churn.event_rollup_state'))[0].valid).toBe(true);
    const stored = await rollupText();
    await refreshEventRollup(db.pool);
    expect(await rollupText()).toBe(stored);
  }, 400_000);

  it('a finished generation is kept; an unfinished one is named by churn generate and not redone over ingested files', async () => {
    const said: string[] = [];
    await ensureData(db.pool, new Date('2026-11-01T00:00:00Z'), (l) => said.push(l));
    expect(said).toEqual([`data       ${GENERATION.accounts} accounts already in the database`]);

    // as a kill mid-load leaves it: the latest run without its row counts
    await query(db.pool, "UPDATE churn.generation_runs SET row_counts = '{}' WHERE run_id = (SELECT max(run_id) FROM churn.generation_runs)");
    await expect(generate(db.pool, GENERATION)).rejects.toMatchObject({ code: 'CHURN_ERR_DATABASE_NOT_EMPTY', message: expect.stringContaining('did not finish') });
    await query(db.pool, `INSERT INTO churn.ingestion_runs (table_name, file_name, file_sha256, rows_in_file, rows_inserted, rows_updated)
      VALUES ('accounts', 'more.csv', 'x', 1, 1, 0)`);
    const before = await count('source.events');
    await expect(ensureData(db.pool, new Date(), () => undefined)).rejects.toMatchObject({ code: 'CHURN_ERR_DATABASE_NOT_EMPTY', message: expect.stringContaining('files were ingested since') });
    expect(await count('source.events')).toBe(before);
  });
});
