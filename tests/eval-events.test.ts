/**
 * `npm run eval -- --events DIR`: a customer's four CSVs load into a fresh database with the ingest
 * library, features build, both feature sets train on the same held-out rows, and the output states
 * both test AUCs and ends with one JSON line; a broken file stops the run with a clear message, a
 * non-zero exit code, and no database left behind.
 */
import { execFile } from 'node:child_process';
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { simulateSocialApp, type SocialSimResult } from '../bench/social-sim.ts';

interface Run { code: number; stdout: string; stderr: string }

function evalRun(args: string[]): Promise<Run> {
  return new Promise((resolve) => {
    execFile('node', ['--import', 'tsx', 'bench/eval.ts', ...args], {
      env: { ...process.env, DATABASE_URL: inject('adminUrl'), CHURN_TF_BACKEND: 'cpu', CHURN_LOG_LEVEL: 'error' }, timeout: 180_000, maxBuffer: 16 << 20,
    }, (err, stdout, stderr) => {
      resolve({ code: err ? ((err as { code?: number }).code ?? 1) : 0, stdout, stderr });
    });
  });
}

async function databaseExists(name: string): Promise<boolean> {
  const c = new pg.Client({ connectionString: inject('adminUrl') });
  await c.connect();
  try {
    return ((await c.query('SELECT 1 FROM pg_database WHERE datname = $1', [name])).rowCount ?? 0) > 0;
  } finally {
    await c.end();
  }
}

const freshDb = (stderr: string) => /fresh database (churn_eval_\w+)/.exec(stderr)?.[1];

describe('npm run eval -- --events DIR', () => {
  let root: string;
  let dir: string;
  let sim: SocialSimResult;
  beforeAll(async () => {
    root = await fs.mkdtemp(path.join(os.tmpdir(), 'churn-eval-events-'));
    dir = path.join(root, 'good');
    // a fixed end: the same data (and figures) on every run
    sim = await simulateSocialApp(dir, { accounts: 300, seed: 7, months: 12, end: new Date('2026-11-01T00:00:00Z') });
  });
  afterAll(async () => {
    await fs.rm(root, { recursive: true, force: true });
  });

  it('loads the four files, trains ours and the per-event-type baseline on the same test rows, and ends with the figures as JSON', async () => {
    const r = await evalRun(['--events', dir, '--models', 'logistic', '--bootstrap', '50', '--seed', '3']);
    expect(r.stderr).not.toMatch(/CHURN_ERR/);
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/^ {2}ours +\(logistic, \d+ of \d+ features\): test ROC AUC 0\.\d{4} \[0\.\d{3}, 0\.\d{3}\], PR AUC 0\.\d{4}, lift@10% \d+\.\d\d/m);
    expect(r.stdout).toMatch(/^ {2}baseline \((logistic|gbdt), 24 of 24 features\): test ROC AUC 0\.\d{4} \[/m);
    expect(r.stdout).toMatch(/ours >= baseline: (YES|NO)$/m);
    // ours discovers the per-type features and the accounts file's own columns
    expect(r.stdout).toMatch(/^ {2}ours {6}built-in catalogue \+ discovered features config: 8 event types x 6 \+ attributes age \(number\), channel \(5 values\), country \(7 values\)/m);
    const lines = r.stdout.trim().split('\n');
    const figures = JSON.parse(lines[lines.length - 1]);
    // every row of every file was loaded by the ingest library
    expect(figures.loaded).toEqual({ accounts: 300, subscriptions: sim.subscriptions, event_types: 8, events: sim.events });
    expect(figures.split.test).toEqual(['2026-08-01', '2026-09-01']);
    expect(figures.test_rows).toBeGreaterThan(50);
    for (const side of [figures.ours, figures.baseline]) {
      expect(side.auc_ci[0]).toBeLessThanOrEqual(side.auc);
      expect(side.auc_ci[1]).toBeGreaterThanOrEqual(side.auc);
      expect(side.pr_auc).toBeGreaterThan(0);
      expect(side.lift10).toBeGreaterThan(0);
    }
    // the simulated churn is driven by engagement and the type mix: both feature sets find it
    expect(figures.baseline.auc).toBeGreaterThan(0.6);
    expect(figures.ours.auc).toBeGreaterThan(0.6);
    expect(figures.auc_diff).toBeCloseTo(figures.ours.auc - figures.baseline.auc, 10);
    expect(figures.ours_ge_baseline).toBe(figures.ours.auc >= figures.baseline.auc);
    const db = freshDb(r.stderr);
    expect(db).toBeDefined();
    expect(await databaseExists(db!)).toBe(false);
  }, 180_000);

  it('stops at a broken file with the file, line and column, exits non-zero and drops the half-loaded database', async () => {
    const broken = path.join(root, 'broken');
    await fs.cp(dir, broken, { recursive: true });
    // accounts and subscriptions load; events fail on line 4 (after the header and two good rows)
    const events = (await fs.readFile(path.join(broken, 'events.csv'), 'utf8')).split('\n');
    const cells = events[3].split(',');
    cells[5] = 'many';
    events[3] = cells.join(',');
    await fs.writeFile(path.join(broken, 'events.csv'), events.join('\n'));
    const r = await evalRun(['--events', broken, '--models', 'logistic']);
    expect(r.code).not.toBe(0);
    expect(r.stderr).toMatch(/loaded subscriptions: [\d,]+ rows/);
    expect(r.stderr).toMatch(/^CHURN_ERR_BAD_FILE: \S*events\.csv: 1 problem; first: line 4, column quantity: .*nothing was loaded$/m);
    expect(r.stdout).not.toMatch(/^\{/m);
    const db = freshDb(r.stderr);
    expect(db).toBeDefined();
    expect(await databaseExists(db!)).toBe(false);
  }, 120_000);

  it('names the missing files of an incomplete directory', async () => {
    const partial = path.join(root, 'partial');
    await fs.mkdir(partial);
    await fs.copyFile(path.join(dir, 'accounts.csv'), path.join(partial, 'accounts.csv'));
    const r = await evalRun(['--events', partial]);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/^CHURN_ERR_VALIDATION: \S*partial: missing subscriptions\.csv, event_types\.csv, events\.csv/m);
  }, 60_000);
});
