import { spawn } from 'node:child_process';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { query } from '../core/db.ts';
import { buildLabels } from '../features/labels.ts';
import { liftAt, rocAuc } from '../training/evaluate.ts';
import { getModel, loadModel } from '../training/registry/index.ts';
import { DEFAULT_SERVING_CONFIG } from '../scoring/config.ts';
import { buildModelReport } from '../jobs/report/job.ts';
import { scoringModel } from '../scoring/model.ts';
import { Registry } from 'prom-client';
import { latestMonitoringRun, monitoringGauges, monitoringMetrics, runMonitor } from '../jobs/monitor/monitor.ts';
import { registerMonitoringGauges } from '../jobs/monitor/metrics.ts';
import { formatMonitoring } from '../cli/commands/monitor.ts';
import { scoreAllActive } from '../jobs/score-all.ts';
import { createTestDatabase, type TestDatabase } from './helpers/db.ts';
import { buildWorld, HORIZON_DAYS, insertShiftedSnapshot, type World } from './report-job-world.ts';

function run(args: string[], env: NodeJS.ProcessEnv): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['bin/churn.js', ...args], { env: { ...process.env, ...env }, cwd: path.resolve(import.meta.dirname, '..') });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (c) => (stdout += c));
    child.stderr.on('data', (c) => (stderr += c));
    child.on('error', reject);
    child.on('close', (code) => resolve({ code, stdout, stderr }));
  });
}

const d = (s: string) => new Date(`${s}T00:00:00Z`);
const SCORED = ['2026-06-01', '2026-07-01', '2026-07-20', '2026-08-01', '2026-09-15'].map(d);
const TRAIN_AS_OFS = ['2026-03-01', '2026-04-01', '2026-05-01'];

/** The oracle: latest stored score per account and month, labelled independently, AUC and lift per month. */
async function expectedRealised(db: TestDatabase, now: Date, dataEnd: Date): Promise<Map<string, { n: number; auc: number | null; lift10: number | null }>> {
  const scores = await query<{ account_id: string; as_of: Date; churn_probability: number; score_id: number }>(db.pool, {
    text: 'SELECT account_id, as_of, churn_probability, score_id FROM churn.score_history WHERE as_of <= $1', values: [now],
  });
  const latest = new Map<string, (typeof scores)[number]>();
  for (const s of scores) {
    const key = `${s.account_id}|${s.as_of.toISOString().slice(0, 7)}`;
    const cur = latest.get(key);
    if (!cur || s.as_of > cur.as_of || (s.as_of.getTime() === cur.as_of.getTime() && s.score_id > cur.score_id)) latest.set(key, s);
  }
  const asOfs = [...new Set([...latest.values()].map((s) => s.as_of.getTime()))].map((t) => new Date(t));
  const labels = new Map((await buildLabels(db.pool, { asOfs, horizonDays: HORIZON_DAYS, dataEnd })).map((l) => [`${l.account_id}|${l.as_of.toISOString()}`, l.churned ? 1 : 0]));
  const byMonth = new Map<string, { y: number[]; p: number[] }>();
  for (const s of latest.values()) {
    const y = labels.get(`${s.account_id}|${s.as_of.toISOString()}`);
    if (y === undefined) continue;
    const m = s.as_of.toISOString().slice(0, 7);
    const g = byMonth.get(m) ?? { y: [], p: [] };
    g.y.push(y);
    g.p.push(s.churn_probability);
    byMonth.set(m, g);
  }
  const out = new Map<string, { n: number; auc: number | null; lift10: number | null }>();
  for (const [m, g] of byMonth) {
    const pos = g.y.reduce((a, b) => a + b, 0);
    out.set(m, { n: g.y.length, auc: pos > 0 && pos < g.y.length ? rocAuc(g.y, g.p) : null, lift10: pos > 0 ? liftAt(g.y, g.p, 0.1) : null });
  }
  return out;
}

describe('monitoring stored scores and drift', () => {
  let db: TestDatabase;
  let world: World;
  beforeAll(async () => {
    db = await createTestDatabase();
    // a champion trained on data up to 2026-05-01 (its training window's end), so the scores below are out of sample
    world = await buildWorld(db.pool, { seed: 13, trainAsOfs: TRAIN_AS_OFS });
    const { meta, artifact } = await loadModel(db.pool, 'champion');
    const model = scoringModel(artifact, { version: meta.version, catalog: world.catalog });
    for (const asOf of SCORED) {
      await scoreAllActive(db.pool, { model, catalog: world.catalog, config: DEFAULT_SERVING_CONFIG, asOf, scoredAt: new Date(asOf.getTime() + 3600_000) });
    }
  });
  afterAll(async () => {
    await db?.drop();
  });

  it('computes realised AUC and lift for months whose outcome is known and leaves later months pending', async () => {
    const now = d('2026-10-01');
    const result = await runMonitor(db.pool, { now, horizonDays: HORIZON_DAYS });
    expect(result.realised.months.map((m) => m.month)).toEqual(['2026-06', '2026-07', '2026-08', '2026-09']);
    const expected = await expectedRealised(db, now, new Date(result.realised.dataEnd));
    for (const m of result.realised.months.filter((x) => x.month !== '2026-09')) {
      expect(m.status).toBe('realised');
      expect(m.pending).toBe(0);
      const e = expected.get(m.month)!;
      expect(m.labelled).toBe(e.n);
      // the scores the oracle could not label are counted as not evaluated, so the columns add up
      expect(m.excluded).toBe(m.scored - e.n);
      expect(m.auc).toBe(e.auc);
      expect(m.lift10).toBe(e.lift10);
    }
    expect(result.realised.months.some((m) => m.auc !== null)).toBe(true);
    for (const m of result.realised.months) expect(m.labelled + m.pending + m.excluded, m.month).toBe(m.scored);
    expect(result.realised.months.some((m) => m.excluded > 0)).toBe(true); // the world has accounts too young to label
    // July has two scoring dates: only each account's latest score of the month counts
    const july = result.realised.months.find((m) => m.month === '2026-07')!;
    const [{ n }] = await query<{ n: number }>(db.pool, { text: "SELECT count(DISTINCT account_id)::int AS n FROM churn.score_history WHERE to_char(as_of, 'YYYY-MM') = '2026-07'" });
    expect(july.scored).toBe(n);
    // scores of 2026-09-15: the 30-day horizon plus grace has not passed by 2026-10-01
    const sept = result.realised.months.find((m) => m.month === '2026-09')!;
    expect(sept).toMatchObject({ status: 'pending', labelled: 0, auc: null, lift10: null });
    expect(sept.pending).toBeGreaterThan(0);
    expect(monitoringGauges(result).filter((g) => g.name === 'churn_realised_auc').map((g) => g.labels.month)).not.toContain('2026-09');
  });

  it("judges a month only once its outcome is known at the monitoring time", async () => {
    const early = await runMonitor(db.pool, { now: d('2026-08-20'), horizonDays: HORIZON_DAYS });
    expect(early.realised.months.map((m) => [m.month, m.status])).toEqual([['2026-06', 'realised'], ['2026-07', 'pending'], ['2026-08', 'pending']]);
    const late = await runMonitor(db.pool, { now: d('2026-10-01'), horizonDays: HORIZON_DAYS });
    expect(late.realised.months.find((m) => m.month === '2026-08')?.status).toBe('realised');
  });

  it('shows the realised months in the report', async () => {
    const report = await buildModelReport(db.pool, { now: d('2026-10-01'), bootstrap: 0 });
    expect(report.realised.months.map((m) => m.month)).toEqual(['2026-06', '2026-07', '2026-08', '2026-09']);
    expect(report.html).toContain('Since deployment');
    expect(report.html).toContain('<th>Not evaluated</th>');
    expect(report.html).toContain('Not evaluated: scores of accounts younger than 14 days or not paying');
    // the stored run, read back, carries the count too
    expect((await latestMonitoringRun(db.pool))!.realised.months.every((m) => m.labelled + m.pending + m.excluded === m.scored)).toBe(true);
    expect(JSON.parse(report.json).realised.months).toHaveLength(4);
  });

  it('says drift is not measured while the latest snapshot is the training data\'s own, exports no drift gauges then, and alerts on a deliberately shifted snapshot', async () => {
    const before = await runMonitor(db.pool, { now: d('2026-10-01') });
    // every input of the champion (the catalogue less what training left out as carrying nothing)
    const inputs = ((await loadModel(db.pool, 'champion')).artifact as { feature_names: string[] }).feature_names;
    expect(inputs.length).toBeGreaterThan(world.catalog.names.length - 5);
    // the latest snapshot is the training data's own: not "0 alerts, PSI 0.000 ok" for every input
    expect(before.drift.latestAsOf).toBe(before.drift.referenceAsOf);
    expect(before.drift).toMatchObject({ measured: false, features: [] });
    expect(before.drift.note).toMatch(/^Drift is not measured yet: the latest feature snapshot \(Friday 2026-05-01\) is the training data's own/);
    expect(formatMonitoring(before)).toContain('Drift is not measured yet');
    expect(formatMonitoring(before)).not.toMatch(/alert\(s\)/);
    // and /metrics does not export zero drift alerts as if measured
    const unmeasured = await monitoringMetrics(db.pool);
    expect(unmeasured.filter((g) => g.name.startsWith('churn_drift_') || g.name === 'churn_feature_psi')).toEqual([]);
    expect(unmeasured.some((g) => g.name === 'churn_monitor_run_timestamp_seconds')).toBe(true);

    const meta = await getModel(db.pool, 'champion');
    const inserted = await insertShiftedSnapshot(db.pool, meta.featureSetVersion!, new Date(meta.trainingWindow!.to), d('2026-09-20'));
    expect(inserted).toBeGreaterThan(0);
    const after = await runMonitor(db.pool, { now: d('2026-10-01') });
    expect(after.drift.latestAsOf).toBe('2026-09-20T00:00:00.000Z');
    const alerted = after.drift.features.filter((f) => f.status === 'alert');
    expect(alerted.length).toBeGreaterThan(0.8 * after.drift.features.length);
    expect(after.drift.features.find((f) => f.feature === 'active_days_28d')?.status).toBe('alert');
    expect(after.alerts).toBe(alerted.length);

    // the report shows the same drift and warns about it
    const report = await buildModelReport(db.pool, { now: d('2026-10-01'), bootstrap: 0 });
    expect(report.data.drift).toEqual(after.drift.features);
    expect(report.data.warnings.some((w) => /shifted strongly since training/.test(w))).toBe(true);

    // /metrics gauges come from the latest stored run
    const gauges = await monitoringMetrics(db.pool);
    expect(gauges.find((g) => g.name === 'churn_drift_alerts')?.value).toBe(alerted.length);
    const psi = gauges.filter((g) => g.name === 'churn_feature_psi');
    expect(psi.map((g) => g.labels.feature).sort()).toEqual([...inputs].sort());
    const realisedAuc = gauges.filter((g) => g.name === 'churn_realised_auc');
    expect(realisedAuc.map((g) => g.value)).toEqual(after.realised.months.filter((m) => m.auc !== null).map((m) => m.auc));

    // and reach the Prometheus text through a registry
    const registry = new Registry();
    registerMonitoringGauges(registry, db.pool, { ttlMs: 0 });
    const text = await registry.metrics();
    expect(text).toContain(`churn_drift_alerts ${alerted.length}`);
    const psiLine = text.split('\n').find((l) => l.startsWith('churn_feature_psi{feature="active_days_28d"}'));
    expect(Number(psiLine?.split(' ')[1])).toBe(after.drift.features.find((f) => f.feature === 'active_days_28d')!.psi);
    expect(text).toMatch(/churn_realised_auc\{month="2026-06"\} [0-9.]+/);
  });

  it("leaves scores within their model's training window out of realised performance, in the stored run, /metrics and the report", async () => {
    // a backfill with the champion at 2026-04-01 and 2026-05-01: dates it was trained (and validated, then refitted) on
    const { meta, artifact } = await loadModel(db.pool, 'champion');
    expect(meta.trainingWindow!.to).toBe('2026-05-01T00:00:00.000Z');
    const model = scoringModel(artifact, { version: meta.version, catalog: world.catalog });
    for (const asOf of [d('2026-04-01'), d('2026-05-01')]) {
      await scoreAllActive(db.pool, { model, catalog: world.catalog, config: DEFAULT_SERVING_CONFIG, asOf, scoredAt: d('2026-10-01') });
    }
    const [{ april, may }] = await query<{ april: number; may: number }>(db.pool, {
      text: "SELECT count(DISTINCT account_id) FILTER (WHERE as_of = '2026-04-01')::int AS april, count(DISTINCT account_id) FILTER (WHERE as_of = '2026-05-01')::int AS may FROM churn.score_history",
    });
    expect(april).toBeGreaterThan(0);
    const result = await runMonitor(db.pool, { now: d('2026-10-01'), horizonDays: HORIZON_DAYS });
    expect(result.realised.months.map((m) => m.month)).toEqual(['2026-06', '2026-07', '2026-08', '2026-09']);
    expect(result.realised.inSample).toEqual([
      { month: '2026-04', accounts: april, modelVersions: [meta.version] },
      { month: '2026-05', accounts: may, modelVersions: [meta.version] },
    ]);
    expect(formatMonitoring(result)).toContain(`Left out as in-sample: scores whose as-of lies within their model's training window, whose outcomes the model learnt: 2026-04 (${april} accounts, v${meta.version}); 2026-05`);
    const stored = (await latestMonitoringRun(db.pool))!;
    expect(stored.realised.inSample).toEqual(result.realised.inSample);
    expect((await monitoringMetrics(db.pool)).filter((g) => g.name === 'churn_realised_auc').map((g) => g.labels.month)).toEqual(['2026-06', '2026-07', '2026-08']);
    // the report's "since deployment": the same months, counts that agree with its table, the in-sample scores named apart
    const report = await buildModelReport(db.pool, { now: d('2026-10-01'), bootstrap: 0 });
    expect(report.realised.months.map((m) => m.month)).toEqual(['2026-06', '2026-07', '2026-08', '2026-09']);
    const dep = report.data.deployment!;
    const sum = (f: (m: (typeof report.realised.months)[number]) => number) => report.realised.months.reduce((s, m) => s + f(m), 0);
    expect([dep.scores, dep.known, dep.pending, dep.excluded]).toEqual([sum((m) => m.scored), sum((m) => m.labelled), sum((m) => m.pending), sum((m) => m.excluded)]);
    expect(dep).toMatchObject({ inSample: april + may, trainedUntil: '2026-05-01T00:00:00.000Z', firstAsOf: '2026-06-01T00:00:00.000Z' });
    expect(report.html).toContain(`Left out: ${(april + may).toLocaleString('en-US')} more scores (account-months) with an as-of on or before 2026-05-01, the end of v${meta.version}&#39;s training data`);
    await query(db.pool, "DELETE FROM churn.score_history WHERE as_of IN ('2026-04-01', '2026-05-01')");
  });

  it('churn monitor prints the run and stores it; a bad horizon is one clear error', async () => {
    const env = { DATABASE_URL: db.url, CHURN_LOG_LEVEL: 'silent' };
    const res = await run(['monitor', '--as-of', '2026-10-01', '--horizon', '30d', '--json'], env);
    expect(res.stderr).not.toMatch(/CHURN_ERR/);
    expect(res.code).toBe(0);
    const printed = JSON.parse(res.stdout);
    const [{ run_id: latest }] = await query<{ run_id: number }>(db.pool, 'SELECT max(run_id)::int AS run_id FROM churn.monitoring_runs');
    expect(printed.runId).toBe(latest);
    expect(printed.realised.months.map((m: { month: string }) => m.month)).toEqual(['2026-06', '2026-07', '2026-08', '2026-09']);
    const text = await run(['monitor', '--as-of', '2026-10-01'], env);
    expect(text.code).toBe(0);
    expect(text.stdout).toMatch(/2026-09 .* pending/);
    const bad = await run(['monitor', '--horizon', 'soon'], env);
    expect(bad.code).not.toBe(0);
    expect(bad.stderr.trim()).toMatch(/^CHURN_ERR_VALIDATION: /);
  });

  it('rejects invalid options and stores nothing', async () => {
    const [{ n: runs }] = await query<{ n: number }>(db.pool, 'SELECT count(*)::int AS n FROM churn.monitoring_runs');
    await expect(runMonitor(db.pool, { now: d('2026-10-01'), horizonDays: 0 })).rejects.toMatchObject({ code: 'CHURN_ERR_VALIDATION' });
    await expect(runMonitor(db.pool, { now: new Date('nope') })).rejects.toMatchObject({ code: 'CHURN_ERR_VALIDATION' });
    const [{ n: after }] = await query<{ n: number }>(db.pool, 'SELECT count(*)::int AS n FROM churn.monitoring_runs');
    expect(after).toBe(runs);
  });
});
