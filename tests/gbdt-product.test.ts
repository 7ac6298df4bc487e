import { execFile } from 'node:child_process';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { mulberry32 } from '../core/random.ts';
import { buildModelReport } from '../jobs/report/job.ts';
import { shownPair } from '../features/describe-value.ts';
import { scoreAllActive } from '../jobs/score-all.ts';
import { registryModelSource } from '../scoring/holder.ts';
import { trainAndRegister } from '../training/run.ts';
import { createTestDatabase } from './helpers/db.ts';
import { startFakeMlflow } from './helpers/fake-mlflow.ts';
import type { Score } from '../scoring/schema.ts';
import { createScorer } from '../training/scorer.ts';
import type { PreparedTable } from '../training/table.ts';
import { trainModel } from '../training/train.ts';
import { gaussian } from './helpers/gbdt-data.ts';
import { expectMissingOnDeclaredSide } from './helpers/declared-missing.ts';
import { bearer, startHarness, AS_OF, type ServingHarness } from './serving-fixture.ts';

/** An XOR interaction a logistic model cannot represent, with noise columns and a category. */
function xorTable(n: number, seed: number): PreparedTable {
  const rng = mulberry32(seed);
  const a = new Array<number>(n); const b = new Array<number>(n); const noise = new Array<number>(n); const plan = new Array<string>(n);
  const label = new Array<number>(n);
  for (let i = 0; i < n; i++) {
    a[i] = gaussian(rng); b[i] = gaussian(rng); noise[i] = gaussian(rng); plan[i] = ['basic', 'team', 'pro'][Math.floor(rng() * 3)];
    const z = 2.5 * Math.sign(a[i] * b[i]) - 1 + (plan[i] === 'pro' ? 0.5 : 0);
    label[i] = rng() < 1 / (1 + Math.exp(-z)) ? 1 : 0;
  }
  return {
    ids: a.map((_, i) => `r${i}`), label, split: a.map((_, i) => (i % 5 === 0 ? 'test' : 'train')),
    columns: [
      { name: 'a', kind: 'numeric', values: a }, { name: 'b', kind: 'numeric', values: b }, { name: 'noise', kind: 'numeric', values: noise },
      { name: 'plan', kind: 'text', values: plan },
    ],
    source: { kind: 'csv', path: 'xor.csv', sha256: 'x' },
  };
}

describe('gradient-boosted trees as a candidate', () => {
  it('finds an interaction a logistic model cannot, wins the choice, and scores through the one scorer with exact additive explanations', async () => {
    const table = xorTable(4000, 7);
    const r = await trainModel(table, { seed: 7, modelTypes: ['logistic', 'gbdt'], bootstrap: 0, gbdtSearch: [{ maxDepth: 3, learningRate: 0.2 }] });
    const auc = Object.fromEntries(r.candidates.map((c) => [c.modelType, c.cvAuc ?? c.validAuc]));
    expect(auc.logistic).toBeLessThan(0.65);
    expect(auc.gbdt).toBeGreaterThan(0.8);
    expect(r.chosen).toBe('gbdt');
    expect(r.metrics.test!.auc).toBeGreaterThan(0.8);
    expect(r.artifact.model_type).toBe('gbdt');
    expect(r.artifact.importance!.max_additivity_error).toBeLessThan(1e-9);
    const scorer = createScorer(r.artifact);
    const s = scorer.score({ a: 1.2, b: -0.7, noise: 0.1, plan: 'pro' });
    expect(Math.abs(s.baseValue + s.contributions.reduce((x, y) => x + y, 0) - s.logit)).toBeLessThan(1e-9);
  });
});

const BIN = path.resolve('bin/churn.js');
function churn(args: string[], env: Record<string, string>): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(process.execPath, [BIN, ...args], { env: { ...process.env, CHURN_LOG_LEVEL: 'error', MLFLOW_TRACKING_URI: '', ...env }, timeout: 120_000 }, (err, stdout, stderr) => {
      resolve({ code: err ? Number((err as { code?: number }).code ?? 1) : 0, stdout, stderr });
    });
  });
}

describe('a GBDT version in the registry, MLflow, churn models show and the report', () => {
  it('records its type and main settings everywhere a person or a tool reads about the model', async () => {
    const db = await createTestDatabase();
    const fake = await startFakeMlflow();
    try {
      const table = xorTable(2000, 5);
      const run = await trainAndRegister(db.pool, table, {
        train: { seed: 5, modelTypes: ['gbdt'], bootstrap: 0, gbdtSearch: [{ maxDepth: 3, learningRate: 0.2 }] },
        actor: 'test', catalogVersion: 'none', mlflowUri: fake.url,
      });
      const version = run.registered.version.version;
      expect(run.registered.version.modelType).toBe('gbdt');
      const trees = run.result.artifact.gbdt!.trees.length;
      const settings = new RegExp(`gradient-boosted trees: ${trees} trees, depth-wise to depth 3, learning rate 0\\.2`);

      // MLflow: the run's params and tags name the type, and the uploaded model is the trees
      const batches = fake.requests.filter((q) => q.path === '/api/2.0/mlflow/runs/log-batch').map((q) => q.body as { params?: { key: string; value: string }[]; tags?: { key: string; value: string }[] });
      const params = Object.fromEntries(batches.flatMap((b) => b.params ?? []).map((x) => [x.key, x.value]));
      const tags = Object.fromEntries(batches.flatMap((b) => b.tags ?? []).map((x) => [x.key, x.value]));
      expect(params.model_type).toBe('gbdt');
      expect(params['model.members.0.params.maxDepth']).toBe('3');
      expect(params['model.members.0.rounds']).toBe(String(trees));
      expect(tags['churnlens.model_type']).toBe('gbdt');
      expect(tags['churnlens.settings']).toMatch(settings);
      const uploaded = [...fake.artifacts.entries()].find(([k]) => k.endsWith('model/model.json'));
      expect(JSON.parse(uploaded![1].toString('utf8')).gbdt.trees).toHaveLength(trees);

      // churn models show
      const shown = await churn(['models', 'show', String(version)], { DATABASE_URL: db.url });
      expect(shown.code, shown.stderr).toBe(0);
      expect(shown.stdout).toMatch(new RegExp(`^version +${version} +gbdt `, 'm'));
      expect(shown.stdout).toMatch(new RegExp(`^model +${settings.source}`, 'm'));

      // the report names it on its first page
      const report = await buildModelReport(db.pool, { model: version, now: new Date('2026-11-01T00:00:00Z'), table, bootstrap: 0 });
      expect(report.data.model.modelType).toBe('gbdt');
      expect(report.data.model.settings).toMatch(settings);
      expect(report.html).toMatch(/Model: gradient-boosted trees: \d+ trees, depth-wise to depth 3/);
    } finally {
      await fake.close();
      await db.drop();
    }
  }, 300_000);
});

describe('a GBDT champion through the API', () => {
  let h: ServingHarness;
  beforeAll(async () => {
    h = await startHarness({ accounts: 100, modelTypes: ['gbdt'] });
  }, 300_000);
  afterAll(async () => h?.close());

  it('adds up on the log-odds scale and never explains against a declared direction of risk or a missing value\'s declared meaning, on every account', async () => {
    let checked = 0;
    let missingChecked = 0;
    for (const id of h.accountIds) {
      const res = await h.app.inject({ url: `/v1/accounts/${id}/score?as_of=${AS_OF.toISOString()}&top=all`, headers: bearer(h.readKey) });
      expect(res.statusCode).toBe(200);
      const s = res.json() as Score;
      expect(s.model_version).toBe(h.champion);
      const sum = s.drivers.reduce((acc, d) => acc + d.contribution, 0);
      expect(Math.abs(s.base_value + sum - Math.log(s.churn_probability / (1 - s.churn_probability)))).toBeLessThan(1e-3);
      missingChecked += expectMissingOnDeclaredSide(s, h.catalog);
      for (const d of s.drivers) {
        const def = h.catalog.byName.get(d.feature);
        // a value that reads as the typical retained account's never moves the risk noticeably
        // ("paid 0 days late; typical retained account: 0" lowering risk by 0.57 was a split between 0 and 1 minute late)
        if (typeof d.value === 'number' && typeof d.reference === 'number' && new Set(shownPair(d.value, d.reference, def?.unit)).size === 1) {
          expect(Math.abs(d.contribution), `${id}: ${d.description}`).toBeLessThan(0.1);
        }
        const risk = def?.risk;
        if (!risk || typeof d.value !== 'number' || typeof d.reference !== 'number') continue;
        const side = Math.sign(d.value - d.reference) * (risk === 'increasing' ? 1 : -1);
        if (side > 0) expect(d.contribution, `${id} ${d.feature}`).toBeGreaterThanOrEqual(-1e-9);
        if (side < 0) expect(d.contribution, `${id} ${d.feature}`).toBeLessThanOrEqual(1e-9);
        checked++;
      }
    }
    expect(checked).toBeGreaterThan(h.accountIds.length * 20);
    expect(missingChecked).toBeGreaterThan(h.accountIds.length / 4);
  });

  it('explains the change between two stored scores as the change in contributions', async () => {
    const source = registryModelSource(h.db.pool, h.catalog);
    const model = await source.load(h.champion);
    const first = new Date('2026-09-01T00:00:00Z');
    const second = new Date('2026-09-15T00:00:00Z');
    await scoreAllActive(h.db.pool, { model, catalog: h.catalog, config: h.config, asOf: first, scoredAt: first });
    await scoreAllActive(h.db.pool, { model, catalog: h.catalog, config: h.config, asOf: second, scoredAt: second });
    let compared = 0;
    for (const id of h.accountIds.slice(0, 10)) {
      const res = await h.app.inject({ url: `/v1/accounts/${id}/score-change?from=${first.toISOString()}&to=${second.toISOString()}`, headers: bearer(h.readKey) });
      if (res.statusCode === 404) continue; // churned before the first date
      expect(res.statusCode).toBe(200);
      const c = res.json();
      const sum = c.changes.reduce((acc: number, x: { contribution_change: number }) => acc + x.contribution_change, 0);
      expect(Math.abs(c.base_value_change + sum - c.logit_change)).toBeLessThan(2e-3);
      compared++;
    }
    expect(compared).toBeGreaterThan(3);
  });
});
