import { describe, expect, it } from 'vitest';
import { mulberry32 } from '../core/random.ts';
import {
  binColumns, compileGbdt, createTreeExplainer, encodeRow, GBDT_FORMAT, nextNode, predictMargin, trainGbdt,
  type CompiledGbdt, type GbdtFeature, type GbdtModel, type GbdtTree,
} from '../training/models/gbdt/index.ts';
import { randomData, rowOf } from './helpers/gbdt-data.ts';

/**
 * The path-dependent conditional expectation E[f(x) | x_S] of one tree: features in S follow x,
 * any other split averages both children weighted by their training cover.
 */
function expectation(c: CompiledGbdt, node: number, x: Float64Array, inS: (f: number) => boolean): number {
  if (c.left[node] < 0) return c.value[node];
  if (inS(c.feature[node])) return expectation(c, nextNode(c, node, x), x, inS);
  const l = c.cover[c.left[node]];
  const r = c.cover[c.right[node]];
  return (l * expectation(c, c.left[node], x, inS) + r * expectation(c, c.right[node], x, inS)) / (l + r);
}

/** Shapley values by enumerating every subset of features (M <= 8): phi_i = sum_S |S|!(M-|S|-1)!/M! (v(S + i) - v(S)). */
function bruteForceShap(c: CompiledGbdt, x: Float64Array): { phi: number[]; base: number } {
  const M = c.featureNames.length;
  const nTrees = c.roots.length - 1;
  const v = (mask: number) => {
    let s = c.baseScore;
    for (let t = 0; t < nTrees; t++) s += expectation(c, c.roots[t], x, (f) => (mask & (1 << f)) !== 0);
    return s;
  };
  const values = Array.from({ length: 2 ** M }, (_, mask) => v(mask));
  const fact = [1];
  for (let k = 1; k <= M; k++) fact.push(fact[k - 1] * k);
  const phi = new Array<number>(M).fill(0);
  for (let mask = 0; mask < 2 ** M; mask++) {
    let size = 0;
    for (let f = 0; f < M; f++) if (mask & (1 << f)) size++;
    for (let i = 0; i < M; i++) {
      if (mask & (1 << i)) continue;
      phi[i] += (fact[size] * fact[M - size - 1] / fact[M]) * (values[mask | (1 << i)] - values[mask]);
    }
  }
  return { phi, base: values[0] };
}

/** A random tree over the features, splitting on few features so paths repeat them; covers add up. */
function randomTree(rng: () => number, features: GbdtFeature[], maxDepth: number): GbdtTree {
  const t: GbdtTree = { left: [], right: [], feature: [], threshold: [], defaultLeft: [], categories: [], value: [], cover: [] };
  const grow = (depth: number): number => {
    const i = t.left.length;
    t.left.push(-1); t.right.push(-1); t.feature.push(-1); t.threshold.push(0); t.defaultLeft.push(false); t.categories.push([]); t.value.push(0); t.cover.push(0);
    if (depth === maxDepth || (depth > 1 && rng() < 0.25)) {
      t.value[i] = rng() * 2 - 1;
      t.cover[i] = 1 + Math.floor(rng() * 20);
      return i;
    }
    const f = Math.floor(rng() * features.length);
    const feat = features[f];
    t.feature[i] = f;
    t.defaultLeft[i] = rng() < 0.5;
    if (feat.kind === 'numeric') t.threshold[i] = Math.round((rng() * 2 - 1) * 100) / 100;
    else t.categories[i] = feat.categories.map((_, k) => k).filter(() => rng() < 0.5);
    t.left[i] = grow(depth + 1);
    t.right[i] = grow(depth + 1);
    t.cover[i] = t.cover[t.left[i]] + t.cover[t.right[i]];
    return i;
  };
  grow(0);
  return t;
}

function randomModel(seed: number, M: number): GbdtModel {
  const rng = mulberry32(seed);
  const features: GbdtFeature[] = Array.from({ length: M }, (_, j) => (j % 3 === 2 ? { name: `k${j}`, kind: 'categorical', categories: ['a', 'b', 'c', 'd'] } : { name: `x${j}`, kind: 'numeric' }));
  return {
    format: GBDT_FORMAT, objective: 'binary:logistic', baseScore: rng() - 0.5, features, monotone: features.map(() => 0),
    trees: Array.from({ length: 4 }, () => randomTree(rng, features, 3 + Math.floor(rng() * 3))),
    inputPrecision: 'float64', source: 'churnlens', params: {}, bestIteration: null,
  };
}

function randomRow(rng: () => number, model: GbdtModel): (number | string | null)[] {
  return model.features.map((f) => (rng() < 0.15 ? null : f.kind === 'numeric' ? rng() * 2 - 1 : ['a', 'b', 'c', 'd', 'zz'][Math.floor(rng() * 5)]));
}

describe('exact TreeSHAP', () => {
  it('equals brute-force Shapley values of the path-dependent expectation on random trees (features repeated on paths, blanks, categories)', () => {
    for (let seed = 1; seed <= 12; seed++) {
      const M = 3 + (seed % 6);
      const model = randomModel(seed, M);
      const c = compileGbdt(model);
      const explainer = createTreeExplainer(c);
      const rng = mulberry32(1000 + seed);
      const x = new Float64Array(M);
      const out = new Float64Array(M);
      for (let r = 0; r < 15; r++) {
        encodeRow(c, randomRow(rng, model), x);
        const margin = explainer.explain(x, out);
        const brute = bruteForceShap(c, x);
        expect(explainer.baseValue).toBeCloseTo(brute.base, 10);
        for (let j = 0; j < M; j++) expect(out[j]).toBeCloseTo(brute.phi[j], 10);
        expect(Math.abs(out.reduce((a, b) => a + b, explainer.baseValue) - margin)).toBeLessThan(1e-9);
      }
    }
  });

  it('equals brute-force Shapley values on a trained model with 8 features', () => {
    const data = randomData({ n: 1500, numeric: 6, categorical: 2, levels: 6, missing: 0.1, seed: 4,
      logit: (num, cat) => (num[0] ?? 0) * (num[1] ?? 1) + (cat[0] === 'c1' ? 1 : 0) - (num[2] ?? 0) });
    const binned = binColumns(data.columns);
    const fit = trainGbdt(binned, data.labels, { trainRows: Array.from({ length: data.n }, (_, i) => i), params: { maxRounds: 6, maxDepth: 4 } });
    const c = compileGbdt(fit.model);
    const explainer = createTreeExplainer(c);
    const x = new Float64Array(8);
    const out = new Float64Array(8);
    for (let i = 0; i < 20; i++) {
      encodeRow(c, rowOf(data.columns, i * 7), x);
      explainer.explain(x, out);
      const brute = bruteForceShap(c, x);
      for (let j = 0; j < 8; j++) expect(out[j]).toBeCloseTo(brute.phi[j], 10);
    }
  });

  it('adds up to the raw margin within 1e-9 on every row of a 100-tree model, and matches predictMargin', () => {
    const data = randomData({ n: 800, numeric: 10, categorical: 2, missing: 0.05, seed: 9 });
    const binned = binColumns(data.columns);
    const fit = trainGbdt(binned, data.labels, { trainRows: Array.from({ length: data.n }, (_, i) => i), params: { maxRounds: 100, maxDepth: 5, learningRate: 0.2, subsample: 0.8 } });
    const c = compileGbdt(JSON.parse(JSON.stringify(fit.model)));
    const explainer = createTreeExplainer(c);
    const x = new Float64Array(12);
    const out = new Float64Array(12);
    let worst = 0;
    for (let i = 0; i < data.n; i++) {
      const row = rowOf(data.columns, i);
      const margin = explainer.explain(encodeRow(c, row, x), out);
      expect(margin).toBe(predictMargin(c, row));
      worst = Math.max(worst, Math.abs(out.reduce((a, b) => a + b, explainer.baseValue) - margin));
    }
    expect(worst).toBeLessThan(1e-9);
  });
});
