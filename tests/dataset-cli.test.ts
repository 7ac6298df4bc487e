import { execFile } from 'node:child_process';
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { parse } from 'csv-parse/sync';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { query } from '../core/db.ts';
import { buildTrainingTable, trainingFingerprint } from '../training/dataset.ts';
import { createTestDatabase, type TestDatabase } from './helpers/db.ts';

const run = promisify(execFile);
const d = (s: string) => new Date(`${s}T00:00:00Z`);
const AS_OFS = ['2026-01-01', '2026-02-01', '2026-03-01', '2026-04-01'].map(d);

async function churn(db: TestDatabase, args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  try {
    const r = await run(process.execPath, ['bin/churn.js', ...args], { env: { ...process.env, DATABASE_URL: db.url, CHURN_LOG_LEVEL: 'silent' } });
    return { code: 0, stdout: r.stdout, stderr: r.stderr };
  } catch (err) {
    const e = err as { code?: number; stdout?: string; stderr?: string };
    return { code: e.code ?? 1, stdout: e.stdout ?? '', stderr: e.stderr ?? '' };
  }
}

describe('churn dataset export', () => {
  let db: TestDatabase;
  let dir: string;
  beforeAll(async () => {
    db = await createTestDatabase();
    dir = await fs.mkdtemp(path.join(os.tmpdir(), 'churn-export-'));
    await query(db.pool, `INSERT INTO churn.feature_sets (feature_set_version, feature_names, definitions) VALUES ('cli_v1', $1, '[]')`, [['x_a', 'x_b']]);
    const ids = Array.from({ length: 24 }, (_, i) => `c_${String(i).padStart(2, '0')}`);
    await query(db.pool, `INSERT INTO source.accounts (account_id, name, segment, plan, created_at) SELECT id, id, 'smb', 'pro', '2025-01-01Z' FROM unnest($1::text[]) id`, [ids]);
    await query(db.pool, `INSERT INTO source.subscriptions (subscription_id, account_id, plan, mrr, seats, billing_period, started_at, ended_at, status)
      SELECT id, id, 'pro', 10, 1, 'monthly', '2025-01-01Z', CASE WHEN n % 4 = 0 THEN timestamptz '2026-01-05' + n * interval '4 days' END, 'active'
      FROM unnest($1::text[]) WITH ORDINALITY AS u(id, n)`, [ids]);
    await query(db.pool, `INSERT INTO churn.feature_snapshots (feature_set_version, as_of, account_id, feature_values)
      SELECT 'cli_v1', t, id, ARRAY[n::double precision, CASE WHEN n % 3 = 0 THEN NULL ELSE n * 0.5 END]
      FROM unnest($1::text[]) WITH ORDINALITY AS u(id, n), unnest($2::timestamptz[]) AS t`, [ids, AS_OFS]);
  });
  afterAll(async () => {
    await db?.drop();
    await fs.rm(dir, { recursive: true, force: true });
  });

  it('writes the prepared table and prints rows, churn rate, split sizes and the fingerprint', async () => {
    const out = path.join(dir, 'set.csv');
    const r = await churn(db, ['dataset', 'export', '--out', out, '--feature-set', 'cli_v1', '--dates', 'stored', '--data-end', '2026-06-30', '--horizon', '4w']);
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    const table = await buildTrainingTable(db.pool, { featureSetVersion: 'cli_v1', horizonDays: 28, dataEnd: d('2026-06-30'), asOfs: 'stored' });
    const records = parse(await fs.readFile(out, 'utf8')) as string[][];
    expect(records[0]).toEqual(['id', 'churned', 'x_a', 'x_b', 'split']);
    expect(records.slice(1).map((x) => x[0])).toEqual(table.ids);
    expect(r.stdout).toContain(`wrote ${table.ids.length} rows x 2 features`);
    expect(r.stdout).toMatch(/churn rate \d+\.\d%/);
    expect(r.stdout).toMatch(/split: train \d+ rows .*valid \d+ rows.*test \d+ rows/);
    expect(r.stdout).toContain('split by time (accounts on every side): train 2026-01-01 .. 2026-02-01, validation 2026-03-01, test 2026-04-01');
    expect(r.stdout).toContain(`fingerprint ${trainingFingerprint(table)}`);
  });

  it('the same options with --group-by-account keep each account on one side and say how many rows that drops', async () => {
    const out = path.join(dir, 'grouped.csv');
    const r = await churn(db, ['dataset', 'export', '--out', out, '--feature-set', 'cli_v1', '--dates', 'stored', '--data-end', '2026-06-30', '--group-by-account', '--valid-dates', '1', '--test-dates', '0', '--valid-share', '0.4', '--seed', '5']);
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    const table = await buildTrainingTable(db.pool, { featureSetVersion: 'cli_v1', horizonDays: 30, dataEnd: d('2026-06-30'), asOfs: 'stored', groupByAccount: true, validDates: 1, testDates: 0, validShare: 0.4, seed: 5 });
    const records = parse(await fs.readFile(out, 'utf8')) as string[][];
    expect(records.slice(1).map((x) => x[0])).toEqual(table.ids);
    expect(r.stdout).toMatch(/\d+ rows dropped to keep each account on one side/);
    expect(r.stdout).toContain(`fingerprint ${trainingFingerprint(table)}`);
  });

  it('skips the observation dates whose outcome the data end cannot tell, and counts them', async () => {
    const out = path.join(dir, 'skipped.csv');
    const r = await churn(db, ['dataset', 'export', '--out', out, '--feature-set', 'cli_v1', '--dates', 'stored', '--data-end', '2026-04-20', '--test-dates', '0', '--horizon', '4w']);
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    // 2026-04-20 - (28 + 14) days = 2026-03-09: March 1 is the last labelled date
    expect(r.stdout).toContain('skipped 1 observation dates (2026-04-01): lead + horizon + grace = 42 days after them passes the data end');
    const none = await churn(db, ['dataset', 'export', '--out', out, '--feature-set', 'cli_v1', '--dates', '2026-04-01', '--data-end', '2026-04-20']);
    expect(none.code).not.toBe(0);
    expect(none.stderr.trim()).toMatch(/^CHURN_ERR_NOT_ENOUGH_DATA: no observation date with a known outcome: all 1 observation dates \(2026-04-01\) are too late: the data ends 2026-04-20T00:00:00.000Z/);
  });

  it('rejects a bad horizon with one validation line and writes nothing', async () => {
    const out = path.join(dir, 'bad.csv');
    const r = await churn(db, ['dataset', 'export', '--out', out, '--feature-set', 'cli_v1', '--horizon', '30 days']);
    expect(r.code).not.toBe(0);
    expect(r.stderr.trim()).toMatch(/^CHURN_ERR_VALIDATION: horizon: invalid duration/);
    await expect(fs.stat(out)).rejects.toMatchObject({ code: 'ENOENT' });
  });

  it('says which dates lack snapshots when the feature set was never built for them', async () => {
    const r = await churn(db, ['dataset', 'export', '--out', path.join(dir, 'x.csv'), '--feature-set', 'cli_v1', '--dates', '2026-01-01,2026-01-15', '--data-end', '2026-06-30']);
    expect(r.code).not.toBe(0);
    expect(r.stderr).toMatch(/^CHURN_ERR_NOT_ENOUGH_DATA: feature set cli_v1 has no snapshot for 1 of 2 observation dates/);
  });
});
