import { describe, expect, it } from 'vitest';
import { mulberry32 } from '../core/random.ts';
import { describeSettings } from '../training/artifact.ts';
import { rocAuc } from '../training/evaluate.ts';
import { averageGbdt, crossFitGbdt, gbdtData, gbdtMargins, refitGbdt, searchGbdt } from '../training/gbdt-candidate.ts';
import { compileGbdt, createReferenceExplainer, createTreeExplainer, encodeRow } from '../training/models/gbdt/index.ts';
import type { PreparedTable } from '../training/table.ts';
import { trainModel } from '../training/train.ts';
import { gaussian } from './helpers/gbdt-data.ts';

/** Risk from an interaction of a and b (stumps cannot see it), a main effect of c, a category and noise. */
function table(n: number, seed: number): PreparedTable {
  const rng = mulberry32(seed);
  const cols = { a: [] as number[], b: [] as number[], c: [] as (number | null)[], noise: [] as number[], plan: [] as string[] };
  const label: number[] = [];
  for (let i = 0; i < n; i++) {
    const a = gaussian(rng); const b = gaussian(rng); const c = gaussian(rng);
    cols.a.push(a); cols.b.push(b); cols.c.push(rng() < 0.1 ? null : c); cols.noise.push(gaussian(rng));
    const plan = ['basic', 'team', 'pro'][Math.floor(rng() * 3)];
    cols.plan.push(plan);
    const z = 2 * Math.sign(a * b) + 0.8 * c - 1 + (plan === 'pro' ? 0.5 : 0);
    label.push(rng() < 1 / (1 + Math.exp(-z)) ? 1 : 0);
  }
  return {
    ids: label.map((_, i) => `r${i}`), label, split: label.map((_, i) => (i % 5 === 0 ? 'test' : 'train')),
    columns: [
      { name: 'a', kind: 'numeric', values: cols.a }, { name: 'b', kind: 'numeric', values: cols.b }, { name: 'c', kind: 'numeric', values: cols.c },
      { name: 'noise', kind: 'numeric', values: cols.noise }, { name: 'plan', kind: 'text', values: cols.plan },
    ],
    source: { kind: 'csv', path: 'average.csv', sha256: 'x' },
  };
}

const SEARCH = [
  { maxDepth: 1, learningRate: 0.2 },
  { maxDepth: 3, learningRate: 0.2 },
  { maxDepth: 4, learningRate: 0.1, subsample: 0.8, colsample: 0.8 },
  { growth: 'leafwise' as const, maxLeaves: 8, maxDepth: 6, learningRate: 0.1 },
];

describe('the GBDT candidate averages its best settings', () => {
  const t = table(3000, 11);
  const rows = t.label.map((_, i) => i);
  const train = rows.filter((i) => i % 4 !== 0);
  const valid = rows.filter((i) => i % 4 === 0);
  const d = gbdtData(t, train, 1);

  it('keeps the settings with the best validation AUC, and its model scores the mean of their margins', () => {
    const r = searchGbdt(d, train, valid, 5, SEARCH, 2);
    expect(r.tried).toHaveLength(4);
    const ranked = [...r.tried].sort((x, y) => y.validAuc - x.validAuc);
    expect(r.settings.members.map((m) => m.validAuc)).toEqual(ranked.slice(0, 2).map((x) => x.validAuc));
    expect(r.settings.members.map((m) => m.rounds)).toEqual(ranked.slice(0, 2).map((x) => x.rounds));
    expect(r.settings.members.some((m) => m.params.maxDepth === 1)).toBe(false); // stumps cannot see a x b
    expect(r.model.trees).toHaveLength(r.settings.members.reduce((s, m) => s + m.rounds, 0));
    expect(r.model.params).toEqual({ members: r.settings.members });

    // the averaged model's margins are the members' mean margin (each member refitted alone reproduces its trees)
    const alone = r.settings.members.map((m) => gbdtMargins(refitGbdt(d, train, { members: [m] }), t, valid));
    const averaged = gbdtMargins(r.model, t, valid);
    for (let i = 0; i < valid.length; i++) {
      expect(averaged[i]).toBeCloseTo((alone[0][i] + alone[1][i]) / 2, 10);
      expect(r.validLogits[i]).toBeCloseTo(averaged[i], 10);
    }
    const y = valid.map((i) => t.label[i]);
    expect(r.validAuc).toBeCloseTo(rocAuc(y, averaged), 12);
  });

  it('keeps both explanations exact on an averaged model', () => {
    const r = searchGbdt(d, train, valid, 5, SEARCH, 3);
    const c = compileGbdt(r.model);
    const x = new Float64Array(t.columns.length);
    const reference = encodeRow(c, [0, 0, 0, 0, 'basic'], new Float64Array(t.columns.length));
    const explainers = [createTreeExplainer(c), createReferenceExplainer(c, reference)];
    const out = new Float64Array(t.columns.length);
    const margins = gbdtMargins(r.model, t, valid.slice(0, 50));
    valid.slice(0, 50).forEach((i, k) => {
      const row = t.columns.map((col) => col.values[i]);
      for (const e of explainers) {
        const margin = e.explain(encodeRow(c, row, x), out);
        expect(margin).toBeCloseTo(margins[k], 10);
        expect(Math.abs(e.baseValue + out.reduce((s, v) => s + v, 0) - margins[k])).toBeLessThan(1e-9);
      }
    });
  });

  it('cross-fits and refits every member, and names the members in the model description', async () => {
    const r = searchGbdt(d, train, valid, 5, SEARCH, 2);
    const all = [...train, ...valid].sort((a, b) => a - b);
    const oof = crossFitGbdt(d, all, r.settings, 3, 5);
    expect(oof).toHaveLength(all.length);
    expect(rocAuc(all.map((i) => t.label[i]), oof)).toBeGreaterThan(0.75);
    const refit = refitGbdt(d, all, r.settings);
    expect(refit.trees).toHaveLength(r.model.trees.length);

    const trained = await trainModel(t, { seed: 5, modelTypes: ['gbdt'], bootstrap: 0, gbdtSearch: SEARCH, gbdtAveraged: 2 });
    const kept = trained.candidates[0].params as { members: unknown[] };
    expect(kept.members).toHaveLength(2);
    const text = describeSettings(trained.artifact);
    expect(text).toMatch(/the mean of 2 boosted models/);
    expect(text).toContain(`${trained.artifact.gbdt!.trees.length} trees`);
    // a version registered before the averaging (one setting, its params flat) reads as before
    const before = { ...trained.artifact, gbdt: { ...trained.artifact.gbdt!, params: { growth: 'depthwise', maxDepth: 3, learningRate: 0.2, lambda: 1, minChildWeight: 2 } } };
    expect(describeSettings(before)).toMatch(new RegExp(`^gradient-boosted trees: ${before.gbdt.trees.length} trees, depth-wise to depth 3, learning rate 0\\.2, L2 1, min child weight 2;`));
  });

  it('averages nothing when there is one model, and refuses models of different features', () => {
    const one = refitGbdt(d, train, { members: [{ params: { maxDepth: 2, learningRate: 0.2, maxRounds: 5 }, rounds: 5, validAuc: 0.5 }] });
    expect(one.trees).toHaveLength(5);
    const other = gbdtData({ ...t, columns: t.columns.slice(0, 3) }, train, 1);
    const narrow = refitGbdt(other, train, { members: [{ params: { maxDepth: 2, learningRate: 0.2 }, rounds: 3, validAuc: 0.5 }] });
    expect(() => averageGbdt([one, narrow], [])).toThrow(/same features/);
  });
});
