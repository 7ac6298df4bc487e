/**
 * Expected failures print one line `CODE: message` and exit 1: real PostgreSQL errors (deadlock,
 * timeouts, a killed connection), file-system errors, an unreachable database, a taken port. Only a
 * bug prints CHURN_ERR_INTERNAL, with its stack only at CHURN_LOG_LEVEL=debug.
 */
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import pg from 'pg';
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import { reportError, writeAtomic } from '../cli/context.ts';
import { loadConfig } from '../core/config.ts';
import { createPool } from '../core/db.ts';
import { asChurnError } from '../core/errors.ts';
import { silentLogger } from '../core/log.ts';
import { startServer } from '../serving/server.ts';
import { createTestDatabase, type TestDatabase } from './helpers/db.ts';
import { freePort, runChurn, takePort } from './helpers/cli.ts';

let db: TestDatabase;
let dir: string;
beforeAll(async () => {
  db = await createTestDatabase();
  dir = await fs.mkdtemp(path.join(os.tmpdir(), 'churn-errors-'));
});
afterAll(async () => {
  await db?.drop();
  if (dir) await fs.rm(dir, { recursive: true, force: true });
});

/** The error a real failing call throws. */
async function failure(fn: () => Promise<unknown>): Promise<unknown> {
  return fn().then(() => {
    throw new Error('expected a failure');
  }, (err: unknown) => err);
}

async function client(): Promise<pg.Client> {
  const c = new pg.Client({ connectionString: db.url });
  await c.connect();
  return c;
}

describe('database and file-system errors map to the catalogue', () => {
  it('a statement timeout and a lock timeout are CHURN_ERR_TIMEOUT', async () => {
    const a = await client();
    const b = await client();
    try {
      const slow = await failure(() => a.query("SET statement_timeout = '50ms'; SELECT pg_sleep(2)"));
      expect(asChurnError(slow)?.code).toBe('CHURN_ERR_TIMEOUT');
      await a.query('RESET statement_timeout; BEGIN; LOCK TABLE source.accounts IN ACCESS EXCLUSIVE MODE');
      const locked = await failure(() => b.query("SET lock_timeout = '50ms'; SELECT count(*) FROM source.accounts"));
      expect(asChurnError(locked)).toMatchObject({ code: 'CHURN_ERR_TIMEOUT', message: expect.stringContaining('lock timeout') });
    } finally {
      await a.end();
      await b.end();
    }
  });

  it('a deadlock is CHURN_ERR_DB_CONFLICT', async () => {
    const a = await client();
    const b = await client();
    try {
      await a.query('CREATE TABLE deadlock_probe (id int PRIMARY KEY, v int); INSERT INTO deadlock_probe VALUES (1, 0), (2, 0)');
      await a.query('BEGIN; UPDATE deadlock_probe SET v = 1 WHERE id = 1');
      await b.query('BEGIN; UPDATE deadlock_probe SET v = 1 WHERE id = 2');
      const results = await Promise.allSettled([
        a.query('UPDATE deadlock_probe SET v = 2 WHERE id = 2'),
        new Promise((r) => setTimeout(r, 100)).then(() => b.query('UPDATE deadlock_probe SET v = 2 WHERE id = 1')),
      ]);
      const victim = results.find((r) => r.status === 'rejected') as PromiseRejectedResult;
      expect((victim.reason as { code: string }).code).toBe('40P01');
      expect(asChurnError(victim.reason)?.code).toBe('CHURN_ERR_DB_CONFLICT');
    } finally {
      await a.end();
      await b.end();
    }
  });

  it('a connection the server terminated is CHURN_ERR_DATABASE', async () => {
    const a = await client();
    a.on('error', () => undefined);
    const admin = await client();
    try {
      const [{ pid }] = (await a.query<{ pid: number }>('SELECT pg_backend_pid() AS pid')).rows;
      const killed = failure(() => a.query('SELECT pg_sleep(5)'));
      await new Promise((r) => setTimeout(r, 200));
      await admin.query('SELECT pg_terminate_backend($1)', [pid]);
      expect(asChurnError(await killed)).toMatchObject({ code: 'CHURN_ERR_DATABASE', message: expect.stringMatching(/^lost the connection to PostgreSQL: /) });
    } finally {
      await a.end().catch(() => undefined);
      await admin.end();
    }
  });

  it('a missing folder is CHURN_ERR_IO naming the path; a bug is not mapped', async () => {
    const target = path.join(dir, 'missing', 'out.csv');
    const err = await failure(() => fs.writeFile(target, 'x'));
    expect(asChurnError(err)).toMatchObject({ code: 'CHURN_ERR_IO', message: `${target}: no such file or directory (open)` });
    expect(asChurnError(new TypeError("Cannot read properties of undefined (reading 'x')"))).toBeUndefined();
  });

  it('writeAtomic over a directory is CHURN_ERR_IO and leaves no temporary file beside it', async () => {
    const folder = await fs.mkdtemp(path.join(dir, 'atomic-'));
    const err = await failure(() => writeAtomic(folder, 'x'));
    expect(err).toMatchObject({ code: 'CHURN_ERR_IO', message: expect.stringMatching(new RegExp(`^cannot write ${folder}: `)) });
    expect((await fs.readdir(dir)).filter((f) => f.includes('.tmp-'))).toEqual([]);
  });
});

describe('reportError', () => {
  const lines: string[] = [];
  const level = process.env.CHURN_LOG_LEVEL;
  beforeAll(() => {
    vi.spyOn(console, 'error').mockImplementation((...args: unknown[]) => {
      lines.push(...args.map(String).join(' ').split('\n'));
    });
  });
  afterEach(() => {
    lines.length = 0;
    process.exitCode = undefined;
    process.env.CHURN_LOG_LEVEL = level;
  });
  afterAll(() => vi.restoreAllMocks());

  it('prints one line for an expected failure and sets exit code 1', async () => {
    const err = await failure(() => fs.readFile(path.join(dir, 'nope.csv')));
    reportError(err);
    expect(lines).toEqual([`CHURN_ERR_IO: ${path.join(dir, 'nope.csv')}: no such file or directory (open)`]);
    expect(process.exitCode).toBe(1);
  });

  it('prints a bug as CHURN_ERR_INTERNAL with a hint, and its stack only at CHURN_LOG_LEVEL=debug', () => {
    const bug = new TypeError('x.y is not a function');
    process.env.CHURN_LOG_LEVEL = 'info';
    reportError(bug);
    expect(lines).toEqual(['CHURN_ERR_INTERNAL: x.y is not a function', '(a bug: run with CHURN_LOG_LEVEL=debug for the stack)']);
    lines.length = 0;
    process.env.CHURN_LOG_LEVEL = 'debug';
    reportError(bug);
    expect(lines[0]).toBe('CHURN_ERR_INTERNAL: TypeError: x.y is not a function');
    expect(lines.slice(1).some((l) => /^\s+at /.test(l))).toBe(true);
  });
});

describe('the CLI on expected failures', () => {
  it('an unreachable database: one line, exit 1', async () => {
    const r = await runChurn(['models', 'list'], { ...process.env, DATABASE_URL: `postgres://root@127.0.0.1:${await freePort()}/none`, CHURN_LOG_LEVEL: 'warn' });
    expect(r.stderr.trim().split('\n')).toHaveLength(1);
    expect(r.stderr).toMatch(/^CHURN_ERR_DATABASE: cannot reach PostgreSQL: connect ECONNREFUSED/);
    expect(r.code).toBe(1);
  });

  it('--out into a missing folder: one line, exit 1, before any work', async () => {
    const out = path.join(dir, 'no-such-folder', 'train.csv');
    const r = await runChurn(['dataset', 'export', '--out', out], { ...process.env, DATABASE_URL: db.url, CHURN_LOG_LEVEL: 'warn' });
    expect(r.stderr.trim()).toBe(`CHURN_ERR_IO: cannot write ${out}: the folder ${path.dirname(out)} does not exist`);
    expect(r.code).toBe(1);
  });

  it('churn serve --workers 2 on a taken port: one line, exit 1, no worker started', async () => {
    const taken = await takePort();
    try {
      const r = await runChurn(['serve', '--workers', '2', '--port', String(taken.port), '--no-schedule'], { ...process.env, DATABASE_URL: db.url, CHURN_LOG_LEVEL: 'info' });
      expect(r.stderr.trim()).toBe(`CHURN_ERR_PORT_IN_USE: port ${taken.port} on 127.0.0.1 is in use; set PORT or pass --port`);
      expect(r.code).toBe(1);
    } finally {
      await taken.release();
    }
  });
});

describe('startServer on a taken port', () => {
  it('rejects with CHURN_ERR_PORT_IN_USE and leaves no connection of its own open', async () => {
    const taken = await takePort();
    const pool = createPool(db.url, { applicationName: 'port-probe' });
    const config = loadConfig({ DATABASE_URL: db.url, PORT: String(taken.port), CHURN_LOG_LEVEL: 'silent' });
    try {
      await expect(startServer({ config, pool, log: silentLogger, schedule: false })).rejects.toMatchObject({ code: 'CHURN_ERR_PORT_IN_USE' });
      await pool.end();
      // the model listener and the feature connections opened before the listen are closed again
      const others = async () => (await db.pool.query<{ n: number }>(`SELECT count(*)::int AS n FROM pg_stat_activity
        WHERE datname = current_database() AND backend_type = 'client backend' AND application_name <> 'churnlens'`)).rows[0].n;
      const t0 = Date.now();
      while ((await others()) > 0 && Date.now() - t0 < 3000) await new Promise((r) => setTimeout(r, 100));
      expect(await others()).toBe(0);
    } finally {
      await taken.release();
    }
  });
});

describe('an empty database', () => {
  it('says what to load before training, and how to get a champion before scoring', async () => {
    const env = { ...process.env, DATABASE_URL: db.url, CHURN_LOG_LEVEL: 'error' };
    const train = await runChurn(['train', '--models', 'logistic'], env);
    expect([train.code, train.stderr.trim()]).toEqual([1, 'CHURN_ERR_NOT_ENOUGH_DATA: nothing to train on: the source tables hold no events and no subscriptions; '
      + 'load your data with `churn ingest TABLE FILE` (or a demo with `churn generate`)']);
    const score = await runChurn(['score'], env);
    expect([score.code, score.stderr.trim()]).toEqual([1, "CHURN_ERR_MODEL_NOT_FOUND: no model has the alias 'champion': train one with `churn train` "
      + '(or promote a version with `churn models promote V --alias champion`)']);
  });
});

describe('option errors', () => {
  it('name the text a number option was given instead of what it became (NaN)', async () => {
    const seed = await runChurn(['train', '--seed', 'abc'], { ...process.env, DATABASE_URL: db.url, CHURN_LOG_LEVEL: 'error' });
    expect([seed.code, seed.stderr.trim()]).toEqual([1, 'CHURN_ERR_VALIDATION: seed: expected a number, got "abc"']);
    const whole = await runChurn(['train', '--seed', '1.5'], { ...process.env, DATABASE_URL: db.url, CHURN_LOG_LEVEL: 'error' });
    expect([whole.code, whole.stderr.trim()]).toEqual([1, 'CHURN_ERR_VALIDATION: seed: expected a whole number, got "1.5"']);
    // a bound in words ("Too small: expected number to be >=1" before)
    const months = await runChurn(['generate', '--months', '0'], { ...process.env, DATABASE_URL: db.url, CHURN_LOG_LEVEL: 'error' });
    expect([months.code, months.stderr.trim()]).toEqual([1, 'CHURN_ERR_VALIDATION: months: expected at least 1, got "0"']);
    // an option of several words by its flag, not commander's key (asOf)
    const asOf = await runChurn(['score', '--as-of', 'soon'], { ...process.env, DATABASE_URL: db.url, CHURN_LOG_LEVEL: 'error' });
    expect([asOf.code, asOf.stderr.trim()]).toEqual([1, 'CHURN_ERR_VALIDATION: --as-of: "soon" is not a date (YYYY-MM-DD) or an ISO 8601 timestamp with a zone']);
  });

  it('suggest a duration the option takes: --horizon abc is not told 0d, which is below its 1 day', async () => {
    const env = { ...process.env, DATABASE_URL: db.url, CHURN_LOG_LEVEL: 'error' };
    const horizon = await runChurn(['train', '--horizon', 'abc'], env);
    expect([horizon.code, horizon.stderr.trim()]).toEqual([1, 'CHURN_ERR_VALIDATION: horizon: invalid duration "abc" (expected whole days or weeks, e.g. 30d, 4w or 14)']);
    const suggested = await runChurn(['train', '--horizon', '14'], env);
    expect(suggested.stderr).not.toMatch(/CHURN_ERR_VALIDATION/);
  });

  it('an unknown command exits 1 even with --help, at any level; known commands still show their help', async () => {
    const env = { ...process.env, DATABASE_URL: db.url, CHURN_LOG_LEVEL: 'error' };
    for (const args of [['frobnicate', '--help'], ['--help', 'frobnicate'], ['models', 'frobnicate', '-h']]) {
      const r = await runChurn(args, env);
      expect([r.code, r.stderr.split('\n')[0]], args.join(' ')).toEqual([1, "error: unknown command 'frobnicate'"]);
    }
    for (const args of [['--help'], ['models', '--help'], ['models', 'promote', '-h']]) {
      const r = await runChurn(args, env);
      expect([r.code, r.stdout], args.join(' ')).toEqual([0, expect.stringMatching(/^Usage: churn /)]);
    }
  });
});
