import { spawn } from 'node:child_process';
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { query } from '../core/db.ts';
import { evaluate, type EvaluationReport } from '../training/evaluate.ts';
import { riskDeciles } from '../jobs/report/ranking.ts';
import { tableRow } from '../training/register-run.ts';
import { getModel, loadModel, setAlias } from '../training/registry/index.ts';
import { createScorer } from '../training/scorer.ts';
import { buildModelReport, dbReports, previousChampion, reportJson, saveModelReport } from '../jobs/report/job.ts';
import { evaluationRows } from '../jobs/report/rows.ts';
import { buildSnapshots } from '../features/materialize.ts';
import { buildTrainingSet, trainingFingerprint } from '../training/dataset.ts';
import { silentLogger } from '../core/log.ts';
import { buildApp } from '../serving/app.ts';
import { Authenticator } from '../serving/auth.ts';
import { DEFAULT_SERVING_CONFIG } from '../scoring/config.ts';
import { createOnlineReader } from '../features/online.ts';
import { parseBootstrapKeys } from '../serving/keys.ts';
import { createMetrics } from '../serving/metrics.ts';
import { ModelHolder } from '../scoring/holder.ts';
import { registryModelSource } from '../scoring/holder.ts';
import { createTestDatabase, type TestDatabase } from './helpers/db.ts';
import { scoreAllActive } from '../jobs/score-all.ts';
import { scoringModel } from '../scoring/model.ts';
import { buildWorld, SEED, type World } from './report-job-world.ts';

let db: TestDatabase;
/** A registered version's input features. */
const modelInputs = async (v: number) => ((await loadModel(db.pool, v)).artifact as { feature_names: string[] }).feature_names;

const NOW = new Date('2026-10-01T00:00:00Z');
const BOOTSTRAP = 40;

function run(args: string[], env: NodeJS.ProcessEnv): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['bin/churn.js', ...args], { env: { ...process.env, ...env }, cwd: path.resolve(import.meta.dirname, '..') });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d) => (stdout += d));
    child.stderr.on('data', (d) => (stderr += d));
    child.on('error', reject);
    child.on('close', (code) => resolve({ code, stdout, stderr }));
  });
}

describe('accuracy report from the database', () => {
  let world: World;
  let dir: string;
  beforeAll(async () => {
    db = await createTestDatabase();
    world = await buildWorld(db.pool, { models: 2, grouped: true });
    dir = await fs.mkdtemp(path.join(os.tmpdir(), 'churn-report-job-'));
  });
  afterAll(async () => {
    await db?.drop();
    if (dir) await fs.rm(dir, { recursive: true, force: true });
  });

  it("reports the same numbers as the evaluation module on the version's held-out test rows and scores", async () => {
    const [v1, v2] = world.versions;
    const report = await buildModelReport(db.pool, { model: v2, now: NOW, bootstrap: BOOTSTRAP });
    expect(report.version).toBe(v2);
    expect(report.exact).toBe(true);

    // the held-out test rows (the latest observation date) of the table the model was trained on, scored independently by both versions
    const rows = world.table.split.flatMap((s, i) => (s === 'test' ? [i] : []));
    expect(rows.length).toBeGreaterThan(0);
    const y = rows.map((i) => world.table.label[i]);
    const segments = rows.map((i) => world.table.context!.segment![i]);
    const scoreWith = async (v: number) => {
      const scorer = createScorer((await loadModel(db.pool, v)).artifact);
      return rows.map((i) => scorer.score(tableRow(world.table, i)).probability);
    };
    const p2 = await scoreWith(v2);
    const p1 = await scoreWith(v1);
    const opts = { segments, bootstrap: BOOTSTRAP, seed: SEED };
    expect(report.rows.y).toEqual(y);
    expect(report.rows.p).toEqual(p2);
    // every number from the evaluation module; the deciles from the report's ranking (riskiest 10% = decile 1)
    const decileFree = (m: EvaluationReport) => ({ ...m, deciles: [] });
    expect(decileFree(report.data.metrics)).toEqual(decileFree(evaluate(y, p2, opts)));
    expect(report.data.metrics.deciles).toEqual(riskDeciles(y, p2));
    expect(report.data.previous?.version).toBe(v1);
    expect(decileFree(report.data.previous!.metrics)).toEqual(decileFree(evaluate(y, p1, opts)));
    // and the registry's test metrics, computed at training time on the same rows, agree
    const stored = (await getModel(db.pool, v2)).metrics.test as { auc: number; lift10: number; ece: number; n: number };
    expect(report.data.metrics.n).toBe(stored.n);
    expect(report.data.metrics.auc).toBeCloseTo(stored.auc, 9);
    expect(report.data.metrics.lift10).toBeCloseTo(stored.lift10, 9);
    expect(report.data.metrics.ece).toBeCloseTo(stored.ece, 9);
    expect(report.data.model.evaluatedOn).toMatch(/^test held-out rows observed \d{4}-\d{2}-01; churn within 30 days; drift/);

    expect(report.data.scorecard).not.toBeNull();
    expect(report.data.tiers.reduce((s, t) => s + t.n, 0)).toBe(rows.length);
    // an out-of-time split has seen every account at earlier dates: the backtest is over the evaluated (test) month only
    const testMonths = [...new Set(rows.map((i) => world.table.context!.asOf![i].slice(0, 7)))];
    expect(report.data.backtest.map((b) => b.month)).toEqual(testMonths);
    // one importance per model input: the catalogue less the features training left out as constant or missing
    const inputs = await modelInputs(v2);
    const excluded = (await getModel(db.pool, v2)).params.excluded_features as { constant: string[]; mostly_missing: string[] };
    expect(inputs.length + excluded.constant.length + excluded.mostly_missing.length).toBe(world.catalog.names.length);
    expect(report.data.importance).toHaveLength(inputs.length);
    expect(report.html).toContain(`model v${v2}`);
    // built now, about data as of NOW: never dated before the model it reports
    expect(Date.parse(report.data.generatedAt)).toBeGreaterThanOrEqual(Date.parse(report.data.model.createdAt));
    expect(report.data.asOf).toBe(NOW.toISOString());
    expect(report.data.model.promotedAt).not.toBeNull();
    // no scores stored in this world: no revenue, and the summary says what to run
    expect(report.data.revenue).toBeNull();
    expect(report.data.deployment).toMatchObject({ version: v2, scores: 0 });
    expect(report.html).toContain('No stored scores yet');
    // the MRR of the evaluated churners, from the subscriptions covering each row's as-of
    expect(report.data.caught!.churners).toBe(y.filter((v) => v === 1).length);
    expect(report.data.caught!.churnedMrr).toBeGreaterThan(0);
    expect(Object.keys(report.data.labels).sort()).toEqual([...inputs].sort());
    expect(Object.values(report.data.labels).every((l) => !l.includes('_'))).toBe(true);
    expect(JSON.parse(report.json).metrics.auc).toBe(report.data.metrics.auc);
  });

  it('backtests a version trained grouped by account on its held-out accounts at every stored date', async () => {
    const g = world.grouped!;
    const report = await buildModelReport(db.pool, { model: g.version, now: NOW, bootstrap: 0 });
    expect(report.exact).toBe(true);
    const rows = g.table.split.flatMap((s, i) => (s === 'valid' ? [i] : []));
    expect(report.rows.y).toEqual(rows.map((i) => g.table.label[i]));
    const src = g.table.source as { asOfs: string[] };
    expect(report.data.backtest.map((b) => b.month)).toEqual(src.asOfs.map((t) => t.slice(0, 7)));
    for (const month of new Set(rows.map((i) => g.table.context!.asOf![i].slice(0, 7)))) {
      const k = rows.filter((i) => g.table.context!.asOf![i].startsWith(month));
      expect(report.data.backtest.find((b) => b.month === month)!.n).toBe(k.length);
    }
    expect(report.data.backtest.slice(0, -2).every((b) => b.n > 0)).toBe(true);
  });

  it("a version never promoted: its report says whose stored scores it shows, its realised table is its own, and v2 is the current champion, not a previous one", async () => {
    const [, v2] = world.versions;
    const g = world.grouped!;
    // the champion (v2) scored every active account; the candidate never scored
    const { meta, artifact } = await loadModel(db.pool, 'champion');
    expect(meta.version).toBe(v2);
    const asOf = new Date('2026-09-15T00:00:00Z');
    await scoreAllActive(db.pool, { model: scoringModel(artifact, { version: v2, catalog: world.catalog }), catalog: world.catalog, config: DEFAULT_SERVING_CONFIG, asOf, scoredAt: asOf });
    try {
      const report = await buildModelReport(db.pool, { model: g.version, now: NOW, bootstrap: 0 });
      expect(report.data.model).toMatchObject({ promotedAt: null, previousChampion: v2, championVersion: v2 });
      expect(report.html).not.toContain(`Previous champion (v${v2})`);
      expect(report.html).toContain(`<td>Current champion (v${v2})</td>`);
      expect(report.html).not.toContain('previous model');
      // revenue at risk and what to do: v2's tiers, said so
      expect(report.data.revenue!.scoredBy).toEqual([v2]);
      const whose = `From the stored scores of model v${v2} (the current champion), not model v${g.version}&#39;s`;
      expect(report.html.split(whose)).toHaveLength(3); // once under "Revenue at risk", once under "What to do"
      // since deployment: the candidate's own scores only (none), never v2's realised months
      expect(report.realised).toMatchObject({ modelVersion: g.version, months: [] });
      expect(report.data.deployment).toMatchObject({ version: g.version, scores: 0 });
      expect(report.html).toContain(`No stored scores of model v${g.version} to judge yet`);
      // the champion's own report reads its own scores, with no such note
      const own = await buildModelReport(db.pool, { model: v2, now: NOW, bootstrap: 0 });
      expect(own.data.revenue!.scoredBy).toEqual([v2]);
      expect(own.html).not.toContain('From the stored scores of model');
      expect(own.realised.months.map((m) => [m.month, m.modelVersions])).toEqual([['2026-09', [v2]]]);
    } finally {
      await query(db.pool, 'DELETE FROM churn.score_history');
      await query(db.pool, 'DELETE FROM churn.alert_state');
    }
  });

  it("names the previous champion from the alias history", async () => {
    const [v1, v2] = world.versions;
    expect(await previousChampion(db.pool, v2)).toBe(v1);
    expect(await previousChampion(db.pool, v1)).toBeNull();
  });

  it('does not call drift measured when the latest snapshot is the training snapshot itself, and measures it once a later one is stored', async () => {
    const report = await buildModelReport(db.pool, { model: world.versions[0], now: NOW, bootstrap: 0 });
    // comparing the training data with itself gives a PSI of 0 everywhere: "nothing moved" of no new data
    expect(report.data.drift).toEqual([]);
    expect(report.data.model.evaluatedOn).toMatch(/drift: not measured, no snapshot since training/);
    expect(report.html).toContain('Drift is not measured yet: the latest feature snapshot is the training data&#39;s own');
    // where a later snapshot comes from, true whether or not whether `churn score` stores one or not
    expect(report.html).toContain('a snapshot stored on a later day (by the server&#39;s daily run, `churn score` or `churn features build`) is compared with it.');
    expect(report.html).not.toContain('(`churn score` or');
    expect(report.html).not.toMatch(/inputs moved since training|features that did not move/);
    const later = new Date('2026-09-15T00:00:00Z');
    const meta = await getModel(db.pool, world.versions[0]);
    expect(later.getTime()).toBeGreaterThan(Date.parse(meta.trainingWindow!.to));
    await buildSnapshots(db.pool, world.catalog, [later]);
    try {
      const again = await buildModelReport(db.pool, { model: world.versions[0], now: NOW, bootstrap: 0 });
      expect(again.data.drift).toHaveLength((await modelInputs(world.versions[0])).length);
      expect(again.data.model.evaluatedOn).toMatch(/drift: snapshot \w+ 2026-09-15 against the training data as of/);
      expect(again.html).toMatch(/inputs moved since training/);
      expect(again.html).not.toContain('Drift is not measured yet');
    } finally {
      await query(db.pool, 'DELETE FROM churn.feature_snapshots WHERE as_of = $1', [later]);
    }
  });

  it("stores reports and serves the champion's as latest, each version's by number", async () => {
    const [v1, v2] = world.versions;
    const r1 = await buildModelReport(db.pool, { model: v1, now: NOW, bootstrap: 0 });
    const r2 = await buildModelReport(db.pool, { model: v2, now: NOW, bootstrap: 0 });
    await saveModelReport(db.pool, v1, r1.html, r1.json);
    await saveModelReport(db.pool, v2, r2.html, r2.json);
    const source = dbReports(db.pool);
    expect(await source.html('latest')).toBe(r2.html);
    expect(await source.html(v1)).toBe(r1.html);
    expect(await source.html(v2 + 100)).toBeNull();
    expect((await reportJson(db.pool, v1))?.metrics.auc).toBe(r1.data.metrics.auc);

    // 'latest' follows the champion, not the highest version
    await setAlias(db.pool, { alias: 'champion', version: v1, actor: 'test' });
    try {
      expect(await source.html('latest')).toBe(r1.html);
      expect(((await source.json("latest")) as { model: { version: number } } | null)?.model.version).toBe(v1);
    } finally {
      await setAlias(db.pool, { alias: 'champion', version: v2, actor: 'test' });
    }
    // a rebuilt report replaces the stored one
    await saveModelReport(db.pool, v1, '<html>replaced</html>', r1.json);
    expect(await source.html(v1)).toBe('<html>replaced</html>');
  });

  it('the API serves the stored reports at /v1/reports/latest and /v1/reports/:version', async () => {
    const [v1, v2] = world.versions;
    const r2 = await buildModelReport(db.pool, { model: v2, now: NOW, bootstrap: 0 });
    await saveModelReport(db.pool, v2, r2.html, r2.json);
    const holder = new ModelHolder(registryModelSource(db.pool, world.catalog), silentLogger);
    const features = createOnlineReader(db.pool, world.catalog);
    const app = await buildApp({
      pool: db.pool, config: DEFAULT_SERVING_CONFIG, holder, features,
      auth: new Authenticator(db.pool, parseBootstrapKeys('reader:report-secret-1:score:read')), log: silentLogger,
      metrics: createMetrics({ defaultMetrics: false }), reports: dbReports(db.pool), rateLimit: 0,
    });
    try {
      const headers = { authorization: 'Bearer report-secret-1' };
      const latest = await app.inject({ method: 'GET', url: '/v1/reports/latest', headers });
      expect(latest.statusCode).toBe(200);
      expect(latest.headers['content-type']).toMatch(/^text\/html/);
      expect(latest.body).toBe(r2.html);
      const twin = await app.inject({ method: 'GET', url: `/v1/reports/${v2}?format=json`, headers });
      expect(twin.statusCode).toBe(200);
      expect(twin.headers['content-type']).toMatch(/^application\/json/);
      expect(twin.json().metrics.auc).toBe(r2.data.metrics.auc);
      expect((await app.inject({ method: 'GET', url: '/v1/reports/latest?format=pdf', headers })).statusCode).toBe(400);
      const missing = await app.inject({ method: 'GET', url: `/v1/reports/${v2 + 100}`, headers });
      expect(missing.statusCode).toBe(404);
      expect((await app.inject({ method: 'GET', url: `/v1/reports/${v1}` })).statusCode).toBe(401);
    } finally {
      await app.close();
      await holder.close();
      await features.close();
    }
  });

  it('churn report --out writes one self-contained HTML file and stores it', async () => {
    const out = path.join(dir, 'accuracy.html');
    const jsonOut = path.join(dir, 'accuracy.json');
    const res = await run(['report', '--out', out, '--json', jsonOut, '--as-of', '2026-10-01', '--bootstrap', '20'], { DATABASE_URL: db.url, CHURN_LOG_LEVEL: 'silent' });
    expect(res.stderr).not.toMatch(/CHURN_ERR/);
    expect(res.code).toBe(0);
    expect(res.stdout).toContain(out);
    expect(res.stdout).toMatch(/riskiest 10% of accounts \(\d+ of \d+\) contain \d+% of the customers who churned/);
    expect(res.stdout).toMatch(/link \(opens in a browser until \d{4}-\d\d-\d\dT[\d:.]+Z\): http:\/\/127\.0\.0\.1:3000\/v1\/reports\/latest\?token=latest\.\d+\.[A-Za-z0-9_-]{43}\n/);
    const html = await fs.readFile(out, 'utf8');
    expect(html.startsWith('<!doctype html>')).toBe(true);
    expect(html).toContain('<svg');
    expect(html).not.toMatch(/<script|<link|<img|src=|@import|url\(/i);
    expect(html).not.toMatch(/https?:\/\/(?!www\.w3\.org\/2000\/svg)/);
    const json = JSON.parse(await fs.readFile(jsonOut, 'utf8'));
    const champion = (await getModel(db.pool, 'champion')).version;
    expect(json.model.version).toBe(champion);
    const [stored] = await query<{ html: string }>(db.pool, { text: 'SELECT html FROM churn.model_reports WHERE model_version = $1', values: [champion] });
    expect(stored.html).toBe(html);
  });

  it('churn report --link prints a fresh link to the stored report without rebuilding it, for as long as --expires says', async () => {
    const env = { DATABASE_URL: db.url, CHURN_LOG_LEVEL: 'silent' };
    const res = await run(['report', '--link', '--expires', '2w', '--base-url', 'https://churn.example.com'], env);
    expect(res.stderr).toBe('');
    expect(res.code).toBe(0);
    const m = /until (\S+)\): (https:\/\/churn\.example\.com\/v1\/reports\/latest\?token=(\S+))$/.exec(res.stdout.trim());
    expect(m).not.toBeNull();
    expect(Date.parse(m![1]) - Date.now()).toBeGreaterThan(13.9 * 86_400_000);
    expect(Date.parse(m![1]) - Date.now()).toBeLessThan(14.1 * 86_400_000);
    const bad = await run(['report', '--link', '--expires', '400d'], env);
    expect(bad.code).not.toBe(0);
    expect(bad.stderr.trim()).toMatch(/^CHURN_ERR_VALIDATION: expires: a link lasts from 1 to 365 days/);
  });

  it('churn report refuses bad options with one clear error and writes nothing', async () => {
    const out = path.join(dir, 'nothing.txt');
    const res = await run(['report', '--out', out], { DATABASE_URL: db.url, CHURN_LOG_LEVEL: 'silent' });
    expect(res.code).not.toBe(0);
    expect(res.stderr.trim()).toMatch(/^CHURN_ERR_VALIDATION: .*\.html/);
    await expect(fs.stat(out)).rejects.toThrow();
    const missing = await run(['report', '--model', '999', '--out', path.join(dir, 'x.html')], { DATABASE_URL: db.url, CHURN_LOG_LEVEL: 'silent' });
    expect(missing.code).not.toBe(0);
    expect(missing.stderr.trim()).toMatch(/^CHURN_ERR_MODEL_NOT_FOUND: /);
  });

  it('a later snapshot at another date changes neither the default training set nor the rows a report evaluates', async () => {
    const extra = new Date('2026-05-15T00:00:00Z');
    await buildSnapshots(db.pool, world.catalog, [extra]);
    try {
      const again = await buildTrainingSet(db.pool, { featureSetVersion: world.catalog.version, horizonDays: 30, seed: SEED });
      expect(trainingFingerprint(again.table)).toBe(trainingFingerprint(world.table));
      const ev = await evaluationRows(db.pool, await getModel(db.pool, world.versions[1]));
      expect(ev.exact).toBe(true);
      expect(ev.changes).toEqual([]);
    } finally {
      await query(db.pool, 'DELETE FROM churn.feature_snapshots WHERE as_of = $1', [extra]);
    }
  });

  it('says precisely what changed when the evaluated rows differ: a row gone, a label changed, a date gone', async () => {
    const meta = await getModel(db.pool, world.versions[1]);
    const rows = world.table.split.flatMap((s, i) => (s === 'test' ? [i] : []));
    const testAsOf = world.table.context!.asOf![rows[0]];
    const day = testAsOf.slice(0, 10);
    const n = rows.length;
    const churners = rows.reduce((a, i) => a + world.table.label[i], 0);
    const saved = await query(db.pool, 'SELECT * FROM churn.feature_snapshots WHERE as_of = $1', [testAsOf]);
    const restore = async () => {
      await query(db.pool, 'DELETE FROM churn.feature_snapshots WHERE as_of = $1', [testAsOf]);
      await query(db.pool, `INSERT INTO churn.feature_snapshots SELECT * FROM json_populate_recordset(NULL::churn.feature_snapshots, $1)`, [JSON.stringify(saved)]);
    };
    try {
      // one evaluated row's snapshot is gone
      const gone = world.table.context!.accountId![rows[0]];
      await query(db.pool, 'DELETE FROM churn.feature_snapshots WHERE as_of = $1 AND account_id = $2', [testAsOf, gone]);
      const fewer = await evaluationRows(db.pool, meta);
      expect(fewer.exact).toBe(false);
      expect(fewer.changes).toContain(`${day}: ${(n - 1).toLocaleString('en-US')} rows now vs ${n.toLocaleString('en-US')} at training (-1), ${churners - world.table.label[rows[0]]} churners vs ${churners}`);
      const report = await buildModelReport(db.pool, { model: meta.version, now: NOW, bootstrap: 0 });
      expect(report.data.model.evaluatedOn).toContain(`not exactly the rows evaluated at training: ${day}: ${(n - 1).toLocaleString('en-US')} rows now`);
      await restore();

      // a retained account of the test date now ends inside the horizon: one more churner, as many rows
      const retained = rows.find((i) => world.table.label[i] === 0)!;
      const [open] = await query<{ subscription_id: string }>(db.pool, `SELECT subscription_id FROM source.subscriptions
        WHERE account_id = $1 AND NOT is_trial AND started_at <= $2 AND ended_at IS NULL`, [world.table.context!.accountId![retained], testAsOf]);
      expect(open).toBeDefined();
      await query(db.pool, `UPDATE source.subscriptions SET ended_at = $2::timestamptz + interval '3 days', status = 'ended' WHERE subscription_id = $1`, [open.subscription_id, testAsOf]);
      try {
        const relabelled = await evaluationRows(db.pool, meta);
        expect(relabelled.changes).toContain(`${day}: ${n.toLocaleString('en-US')} rows now vs ${n.toLocaleString('en-US')} at training (+0), ${churners + 1} churners vs ${churners}`);
      } finally {
        await query(db.pool, `UPDATE source.subscriptions SET ended_at = NULL, status = 'active' WHERE subscription_id = $1`, [open.subscription_id]);
      }
      expect((await evaluationRows(db.pool, meta)).exact).toBe(true);

      // the evaluated date's snapshots are gone altogether: the report cannot be made, and says which date
      await query(db.pool, 'DELETE FROM churn.feature_snapshots WHERE as_of = $1', [testAsOf]);
      await expect(evaluationRows(db.pool, meta)).rejects.toMatchObject({ code: 'CHURN_ERR_NOT_ENOUGH_DATA', message: expect.stringContaining(`has no stored snapshot for ${day} any more`) });
    } finally {
      await restore();
    }
    expect((await evaluationRows(db.pool, meta)).exact).toBe(true);
  });
});
