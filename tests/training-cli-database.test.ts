/**
 * `churn train` on the database: the same date, horizon and split options as `dataset export`, figures
 * on held-out test rows, what was left out said, and the exact evaluated rows recorded with the version.
 */
import { execFile } from 'node:child_process';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { generate } from '../features/generate/index.ts';
import { DatasetRecordSchema } from '../training/dataset.ts';
import { EvaluationRecordSchema } from '../training/register-run.ts';
import { getModel } from '../training/registry/index.ts';
import { createTestDatabase, type TestDatabase } from './helpers/db.ts';

interface Run { code: number; stdout: string; stderr: string }

function churn(db: TestDatabase, args: string[]): Promise<Run> {
  return new Promise((resolve) => {
    execFile('node', ['bin/churn.js', ...args], { env: { ...process.env, DATABASE_URL: db.url, CHURN_TF_BACKEND: 'cpu', CHURN_LOG_LEVEL: 'error' }, timeout: 240_000 }, (err, stdout, stderr) => {
      resolve({ code: err ? ((err as { code?: number }).code ?? 1) : 0, stdout, stderr });
    });
  });
}

describe('churn train from the database', () => {
  let db: TestDatabase;
  beforeAll(async () => {
    db = await createTestDatabase();
    await generate(db.pool, { accounts: 200, months: 8, seed: 5, end: '2026-10-01' });
  }, 180_000);
  afterAll(async () => {
    await db?.drop();
  });

  it('trains on monthly dates split by time, reports held-out test figures and records the evaluated rows', async () => {
    const r = await churn(db, ['train', '--models', 'logistic', '--epochs', '400']);
    expect(r.stderr).not.toMatch(/CHURN_ERR/);
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/^ {2}data {6}(\d+) labelled rows, \1 used$/m);
    expect(r.stdout).toContain('  data      split by time (accounts on every side): train 2026-03-01 .. 2026-06-01, validation 2026-07-01, test 2026-08-01');
    expect(r.stdout).toMatch(/skipped 1 observation dates \(2026-09-01\): lead \+ horizon \+ grace = 44 days after them passes the data end/);
    expect(r.stdout).toMatch(/^ {2}test {7}n=\d+/m);
    expect(r.stdout).toMatch(/held out the test figures are on \d+ rows no training step saw/);
    const version = Number(/^version (\d+)$/m.exec(r.stdout)?.[1]);
    const meta = await getModel(db.pool, version);
    const dataset = DatasetRecordSchema.parse(meta.params.dataset);
    expect(dataset).toMatchObject({ split: 'time', horizonDays: 30, graceDays: 14, testAsOfs: ['2026-08-01T00:00:00.000Z'], validAsOfs: ['2026-07-01T00:00:00.000Z'] });
    expect(dataset.dataEnd).toMatch(/^2026-09-30T/);
    const evaluated = EvaluationRecordSchema.parse(meta.params.evaluation);
    expect(evaluated.side).toBe('test');
    expect(evaluated.rows).toBe((meta.metrics.test as { n: number }).n);
    expect(evaluated.asOfs.map((d) => d.asOf)).toEqual(['2026-08-01T00:00:00.000Z']);
  });

  it('takes the dataset options: explicit dates, test and validation dates, data end, grouping by account', async () => {
    const r = await churn(db, ['train', '--models', 'logistic', '--epochs', '50', '--dates', '2026-04-01,2026-05-01,2026-06-01,2026-07-01,2026-09-01', '--test-dates', '0', '--group-by-account', '--data-end', '2026-09-15']);
    expect(r.stderr).not.toMatch(/CHURN_ERR/);
    expect(r.code).toBe(0);
    // 2026-09-15 - 44 days = 2026-08-02: September 1 cannot be labelled
    expect(r.stdout).toContain('split by time and account: train 2026-04-01 .. 2026-06-01, validation 2026-07-01, test none');
    expect(r.stdout).toMatch(/skipped 1 observation dates \(2026-09-01\)/);
    expect(r.stdout).toMatch(/rows dropped to keep each account on one side/);
    expect(r.stdout).toMatch(/held out none: no test rows/);
    const version = Number(/^version (\d+)$/m.exec(r.stdout)?.[1]);
    expect(DatasetRecordSchema.parse((await getModel(db.pool, version)).params.dataset)).toMatchObject({ split: 'account', dataEnd: '2026-09-15T00:00:00.000Z' });
  });

  it('says why when no observation date has a known outcome, and refuses a data end in the future', async () => {
    const late = await churn(db, ['train', '--dates', '2026-09-10']);
    expect(late.code).not.toBe(0);
    expect(late.stderr.trim()).toMatch(/^CHURN_ERR_NOT_ENOUGH_DATA: no observation date with a known outcome: all 1 observation dates \(2026-09-10\) are too late: the data ends 2026-09-30T\S+ and a label needs lead \+ horizon \+ grace = 44 days after its date/);
    const future = await churn(db, ['train', '--data-end', '2999-01-01']);
    expect(future.code).not.toBe(0);
    expect(future.stderr.trim()).toMatch(/^CHURN_ERR_VALIDATION: --data-end: /);
  });
});
