import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { mulberry32 } from '../core/random.ts';
import type { Score } from '../scoring/schema.ts';
import { createScorer } from '../training/scorer.ts';
import type { PreparedTable } from '../training/table.ts';
import { trainModel } from '../training/train.ts';
import { gaussian } from './helpers/gbdt-data.ts';
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

describe('a GBDT champion through the API', () => {
  let h: ServingHarness;
  beforeAll(async () => {
    h = await startHarness({ accounts: 100, modelTypes: ['gbdt'] });
  }, 300_000);
  afterAll(async () => h?.close());

  it('adds up on the log-odds scale and never explains against a declared direction of risk, on every account', async () => {
    let checked = 0;
    for (const id of h.accountIds) {
      const res = await h.app.inject({ url: `/v1/accounts/${id}/score?as_of=${AS_OF.toISOString()}&top=all`, headers: bearer(h.readKey) });
      expect(res.statusCode).toBe(200);
      const s = res.json() as Score;
      expect(s.model_version).toBe(h.champion);
      const sum = s.drivers.reduce((acc, d) => acc + d.contribution, 0);
      expect(Math.abs(s.base_value + sum - Math.log(s.churn_probability / (1 - s.churn_probability)))).toBeLessThan(1e-3);
      for (const d of s.drivers) {
        const risk = h.catalog.byName.get(d.feature)?.risk;
        if (!risk || typeof d.value !== 'number' || typeof d.reference !== 'number') continue;
        const side = Math.sign(d.value - d.reference) * (risk === 'increasing' ? 1 : -1);
        if (side > 0) expect(d.contribution, `${id} ${d.feature}`).toBeGreaterThanOrEqual(-1e-9);
        if (side < 0) expect(d.contribution, `${id} ${d.feature}`).toBeLessThanOrEqual(1e-9);
        checked++;
      }
    }
    expect(checked).toBeGreaterThan(h.accountIds.length * 20);
  });
});
