import { describe, expect, it } from 'vitest';
import { mulberry32 } from '../core/random.ts';
import {
  binColumns, compileGbdt, createReferenceExplainer, encodeRow, GBDT_FORMAT, marginOfEncoded, trainGbdt,
  type CompiledGbdt, type GbdtFeature, type GbdtModel, type GbdtTree,
} from '../training/models/gbdt/index.ts';
import { gaussian, randomData, rowOf } from './helpers/gbdt-data.ts';

/** Shapley values of v(S) = margin(row taking S's features from x, the rest from r), by enumerating every subset (M <= 8). */
function bruteForce(c: CompiledGbdt, x: Float64Array, r: Float64Array): number[] {
  const M = c.featureNames.length;
  const hybrid = new Float64Array(M);
  const v = (mask: number) => {
    for (let j = 0; j < M; j++) hybrid[j] = mask & (1 << j) ? x[j] : r[j];
    return marginOfEncoded(c, hybrid);
  };
  const values = Array.from({ length: 2 ** M }, (_, mask) => v(mask));
  const fact = [1];
  for (let k = 1; k <= M; k++) fact.push(fact[k - 1] * k);
  const phi = new Array<number>(M).fill(0);
  for (let mask = 0; mask < 2 ** M; mask++) {
    let size = 0;
    for (let f = 0; f < M; f++) if (mask & (1 << f)) size++;
    for (let i = 0; i < M; i++) if (!(mask & (1 << i))) phi[i] += (fact[size] * fact[M - size - 1] / fact[M]) * (values[mask | (1 << i)] - values[mask]);
  }
  return phi;
}

/** A random tree splitting on few features so paths repeat them. */
function randomTree(rng: () => number, features: GbdtFeature[], maxDepth: number): GbdtTree {
  const t: GbdtTree = { left: [], right: [], feature: [], threshold: [], defaultLeft: [], categories: [], value: [], cover: [] };
  const grow = (depth: number): number => {
    const i = t.left.length;
    t.left.push(-1); t.right.push(-1); t.feature.push(-1); t.threshold.push(0); t.defaultLeft.push(false); t.categories.push([]); t.value.push(rng() * 2 - 1); t.cover.push(1);
    if (depth === maxDepth || (depth > 1 && rng() < 0.25)) return i;
    const f = Math.floor(rng() * features.length);
    t.feature[i] = f;
    t.defaultLeft[i] = rng() < 0.5;
    const feat = features[f];
    if (feat.kind === 'numeric') t.threshold[i] = Math.round((rng() * 2 - 1) * 100) / 100;
    else t.categories[i] = feat.categories.map((_, k) => k).filter(() => rng() < 0.5);
    t.left[i] = grow(depth + 1);
    t.right[i] = grow(depth + 1);
    return i;
  };
  grow(0);
  return t;
}

describe('Shapley values against a reference row (the explanations of trees the API serves)', () => {
  it('equal brute-force Shapley values of the hybrid rows on random trees (repeated features, blanks, categories), and add up to margin(x) - margin(reference)', () => {
    for (let seed = 1; seed <= 12; seed++) {
      const rng = mulberry32(seed);
      const M = 3 + (seed % 5);
      const features: GbdtFeature[] = Array.from({ length: M }, (_, j) => (j % 3 === 2 ? { name: `k${j}`, kind: 'categorical', categories: ['a', 'b', 'c', 'd'] } : { name: `x${j}`, kind: 'numeric' }));
      const model: GbdtModel = {
        format: GBDT_FORMAT, objective: 'binary:logistic', baseScore: rng() - 0.5, features, monotone: features.map(() => 0),
        trees: Array.from({ length: 5 }, () => randomTree(rng, features, 3 + Math.floor(rng() * 3))), inputPrecision: 'float64', source: 'churnlens', params: {}, bestIteration: null,
      };
      const c = compileGbdt(model);
      const row = () => encodeRow(c, features.map((f) => (rng() < 0.15 ? null : f.kind === 'numeric' ? rng() * 2 - 1 : ['a', 'b', 'c', 'd', 'zz'][Math.floor(rng() * 5)])), new Float64Array(M));
      const reference = row();
      const explainer = createReferenceExplainer(c, reference);
      expect(explainer.baseValue).toBeCloseTo(marginOfEncoded(c, reference), 12);
      for (let k = 0; k < 20; k++) {
        const x = row();
        const out = new Float64Array(M);
        const margin = explainer.explain(x, out);
        expect(margin).toBe(marginOfEncoded(c, x)); // the leaf reached with nothing from the reference is x's own
        const brute = bruteForce(c, x, reference);
        for (let j = 0; j < M; j++) expect(out[j], `seed ${seed} row ${k} feature ${j}`).toBeCloseTo(brute[j], 10);
        expect(Math.abs(explainer.baseValue + out.reduce((s, v) => s + v, 0) - margin)).toBeLessThan(1e-9);
      }
    }
  });

  it('never lets a monotone feature explain against its direction: above the reference it moves the risk its way, below it the other way', () => {
    let checked = 0;
    for (let seed = 1; seed <= 4; seed++) {
      const rng = mulberry32(seed);
      const data = randomData({ n: 3000, numeric: 5, categorical: 1, missing: 0.05, seed: 300 + seed,
        logit: (x) => Math.sin(2 * (x[0] ?? 0)) - Math.cos(2 * (x[1] ?? 0)) + (x[0] ?? 0) * (x[2] ?? 0) });
      const fit = trainGbdt(binColumns(data.columns), data.labels, {
        trainRows: Array.from({ length: data.n }, (_, i) => i), monotone: { x0: 1, x1: -1 },
        params: { maxRounds: 60, maxDepth: 5, learningRate: 0.3, seed, subsample: 0.8, colsample: 0.8 },
      });
      const c = compileGbdt(fit.model);
      const reference = encodeRow(c, rowOf(data.columns, 0).map((v, j) => (j < 5 ? gaussian(rng) : v)), new Float64Array(6));
      const explainer = createReferenceExplainer(c, reference);
      const out = new Float64Array(6);
      for (let i = 0; i < 400; i++) {
        const x = encodeRow(c, rowOf(data.columns, i), new Float64Array(6));
        explainer.explain(x, out);
        for (const [j, dir] of [[0, 1], [1, -1]] as const) {
          if (Number.isNaN(x[j])) continue;
          const side = Math.sign(x[j] - reference[j]) * dir;
          if (side > 0) expect(out[j]).toBeGreaterThanOrEqual(-1e-12);
          if (side < 0) expect(out[j]).toBeLessThanOrEqual(1e-12);
          checked++;
        }
      }
    }
    expect(checked).toBeGreaterThan(2500);
  });
});
