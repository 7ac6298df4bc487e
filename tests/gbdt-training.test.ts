import { describe, expect, it } from 'vitest';
import { mulberry32 } from '../core/random.ts';
import { rocAuc } from '../training/evaluate.ts';
import {
  binColumns, compileGbdt, logLoss, predictMargin, trainGbdt, type BinnedMatrix, type GbdtParamsInput, type RawColumn,
} from '../training/models/gbdt/index.ts';
import { gaussian, randomData, rowOf, splitRows } from './helpers/gbdt-data.ts';

const all = (n: number) => Array.from({ length: n }, (_, i) => i);

function marginsOf(columns: RawColumn[], model: Parameters<typeof compileGbdt>[0], rows: number[]): number[] {
  const c = compileGbdt(model);
  return rows.map((i) => predictMargin(c, rowOf(columns, i)));
}

/** A plain logistic regression by gradient descent on standardised numeric columns (the linear baseline). */
function logisticScores(columns: RawColumn[], labels: number[], train: number[], test: number[]): number[] {
  const xs = columns.map((c) => Array.from(c.values as ArrayLike<number | null>, (v) => v ?? 0));
  const w = new Array<number>(xs.length + 1).fill(0);
  for (let step = 0; step < 300; step++) {
    const grad = new Array<number>(w.length).fill(0);
    for (const i of train) {
      const z = xs.reduce((s, x, j) => s + w[j] * x[i], w[xs.length]);
      const e = 1 / (1 + Math.exp(-z)) - labels[i];
      xs.forEach((x, j) => { grad[j] += e * x[i]; });
      grad[xs.length] += e;
    }
    grad.forEach((g, j) => { w[j] -= (0.5 * g) / train.length; });
  }
  return test.map((i) => xs.reduce((s, x, j) => s + w[j] * x[i], w[xs.length]));
}

describe('GBDT training', () => {
  it('finds an XOR interaction a linear model cannot: test AUC above 0.9 where logistic regression stays near 0.5', () => {
    const data = randomData({ n: 5000, numeric: 4, seed: 21, logit: (x) => ((x[0] ?? 0) * (x[1] ?? 0) > 0 ? 3 : -3) });
    const { train, rest: test } = splitRows(data.n, 0.7, 1);
    const fit = trainGbdt(binColumns(data.columns, { rows: train }), data.labels, { trainRows: train, params: { maxRounds: 60, maxDepth: 3 } });
    const y = test.map((i) => data.labels[i]);
    expect(rocAuc(y, marginsOf(data.columns, fit.model, test))).toBeGreaterThan(0.9);
    expect(Math.abs(rocAuc(y, logisticScores(data.columns, data.labels, train, test)) - 0.5)).toBeLessThan(0.05);
  });

  it('splits natively on a category set: one depth-1 tree separates the risky half of 12 categories', () => {
    const risky = new Set(['c1', 'c2', 'c5', 'c7', 'c8', 'c11']);
    const data = randomData({ n: 6000, numeric: 2, categorical: 1, levels: 12, seed: 5, logit: (_, cat) => (cat[0] !== null && risky.has(cat[0]) ? 1.5 : -1.5) });
    const binned = binColumns(data.columns);
    const fit = trainGbdt(binned, data.labels, { trainRows: all(data.n), params: { maxRounds: 1, maxDepth: 1, learningRate: 1 } });
    const tree = fit.model.trees[0];
    const feature = fit.model.features[tree.feature[0]];
    expect(feature.kind).toBe('categorical');
    const left = new Set(tree.categories[0].map((k) => (feature.kind === 'categorical' ? feature.categories[k] : '')));
    const sent = left.has('c1') ? left : new Set([...Array(12).keys()].map((k) => `c${k}`).filter((c) => !left.has(c)));
    expect(sent).toEqual(risky);
    const y = data.labels;
    expect(rocAuc(y, marginsOf(data.columns, fit.model, all(data.n)))).toBeGreaterThan(0.75);
  });

  it('gives the same model JSON for the same seed, and another with another seed when sampling', () => {
    const data = randomData({ n: 3000, numeric: 9, categorical: 2, missing: 0.1, seed: 8 });
    const binned = binColumns(data.columns);
    const { train, rest } = splitRows(data.n, 0.8, 2);
    const params: GbdtParamsInput = { maxRounds: 40, subsample: 0.7, colsample: 0.6, seed: 3 };
    const fit = (p: GbdtParamsInput) => trainGbdt(binned, data.labels, { trainRows: train, validRows: rest, params: { ...params, ...p } });
    const a = JSON.stringify(fit({}).model);
    expect(JSON.stringify(fit({}).model)).toBe(a);
    expect(JSON.stringify(fit({ seed: 4 }).model)).not.toBe(a);
  });

  it('stops early and keeps the round with the lowest validation log-loss', () => {
    const data = randomData({ n: 2000, numeric: 6, seed: 13 });
    const binned = binColumns(data.columns);
    const { train, rest: valid } = splitRows(data.n, 0.6, 4);
    const fit = trainGbdt(binned, data.labels, { trainRows: train, validRows: valid, params: { maxRounds: 500, maxDepth: 6, learningRate: 0.5, earlyStoppingRounds: 10 } });
    const best = fit.validLoss.indexOf(Math.min(...fit.validLoss)) + 1;
    expect(fit.bestIteration).toBe(best);
    expect(fit.roundsRun).toBe(best + 10);
    expect(fit.roundsRun).toBeLessThan(500);
    expect(fit.model.trees.length).toBe(best);
    const margins = Float64Array.from(marginsOf(data.columns, fit.model, valid));
    const yv = Float64Array.from(valid, (i) => data.labels[i]);
    expect(logLoss(yv, new Float64Array(valid.length).fill(1), margins)).toBeCloseTo(fit.bestValidLoss!, 9);
  });

  it('treats a zero sample weight as an absent row, and moves the prior with the weights', () => {
    const data = randomData({ n: 2000, numeric: 5, categorical: 1, missing: 0.05, seed: 17 });
    const binned = binColumns(data.columns);
    const { train: kept, rest: dropped } = splitRows(data.n, 0.7, 9);
    const weights = all(data.n).map((i) => (kept.includes(i) ? 1 : 0));
    const params = { maxRounds: 20, seed: 1 };
    const weighted = trainGbdt(binned, data.labels, { trainRows: all(data.n), weights, params });
    const subset = trainGbdt(binned, data.labels, { trainRows: kept, params });
    // the same trees up to rounding (histograms are summed in another order, so near-ties may pick
    // another of two equivalent thresholds): the same margins on every row
    expect(weighted.model.trees.length).toBe(subset.model.trees.length);
    expect(weighted.model.baseScore).toBe(subset.model.baseScore);
    const a = marginsOf(data.columns, weighted.model, all(data.n));
    const b = marginsOf(data.columns, subset.model, all(data.n));
    a.forEach((m, i) => expect(Math.abs(m - b[i])).toBeLessThan(1e-9));
    expect(dropped.length).toBeGreaterThan(0);

    const up = all(data.n).map((i) => (data.labels[i] === 1 ? 3 : 1));
    const upFit = trainGbdt(binned, data.labels, { trainRows: all(data.n), weights: up, params });
    const pos = data.labels.reduce((a, b) => a + b, 0);
    const p = (3 * pos) / (3 * pos + data.n - pos);
    expect(upFit.model.baseScore).toBeCloseTo(Math.log(p / (1 - p)), 12);
    const mean = (fit: typeof upFit) => marginsOf(data.columns, fit.model, all(data.n)).reduce((s, m) => s + 1 / (1 + Math.exp(-m)), 0) / data.n;
    expect(mean(upFit)).toBeGreaterThan(mean(subset) + 0.1);
  });

  it('grows leaf-wise up to max_leaves and depth-wise up to max_depth', () => {
    const data = randomData({ n: 3000, numeric: 6, seed: 2, logit: (x) => Math.sin(3 * (x[0] ?? 0)) + (x[1] ?? 0) * (x[2] ?? 0) });
    const binned = binColumns(data.columns);
    const leaves = (t: { left: number[] }) => t.left.filter((l) => l < 0).length;
    const depth = (t: { left: number[]; right: number[] }, node = 0): number => (t.left[node] < 0 ? 0 : 1 + Math.max(depth(t, t.left[node]), depth(t, t.right[node])));
    const lw = trainGbdt(binned, data.labels, { trainRows: all(data.n), params: { growth: 'leafwise', maxLeaves: 7, maxDepth: 10, maxRounds: 5, minChildWeight: 0.1 } });
    for (const t of lw.model.trees) expect(leaves(t)).toBe(7);
    expect(Math.max(...lw.model.trees.map((t) => depth(t)))).toBeGreaterThan(3);
    const dw = trainGbdt(binned, data.labels, { trainRows: all(data.n), params: { maxDepth: 3, maxRounds: 5 } });
    for (const t of dw.model.trees) expect(depth(t)).toBeLessThanOrEqual(3);
    expect(dw.model.trees.some((t) => leaves(t) === 8)).toBe(true);
  });

  it('refuses bad inputs with CHURN_ERR_VALIDATION', () => {
    const data = randomData({ n: 50, numeric: 2, categorical: 1, seed: 1 });
    const binned: BinnedMatrix = binColumns(data.columns);
    const err = expect.objectContaining({ code: 'CHURN_ERR_VALIDATION' });
    const trainRows = all(50);
    expect(() => trainGbdt(binned, data.labels.slice(1), { trainRows })).toThrow(err);
    expect(() => trainGbdt(binned, data.labels.map(() => 2), { trainRows })).toThrow(err);
    expect(() => trainGbdt(binned, data.labels, { trainRows: [0, 50] })).toThrow(err);
    expect(() => trainGbdt(binned, data.labels, { trainRows, weights: trainRows.map(() => -1) })).toThrow(err);
    expect(() => trainGbdt(binned, data.labels, { trainRows, monotone: { k0: 1 } })).toThrow(err);
    expect(() => trainGbdt(binned, data.labels, { trainRows, monotone: { nope: 1 } })).toThrow(err);
    expect(() => trainGbdt(binned, data.labels, { trainRows, params: { maxDepth: 0 } })).toThrow(err);
  });
});

describe('GBDT monotone constraints', () => {
  /** Margins along a sweep of feature j (other values from a base row), for checking the direction. */
  function sweep(c: ReturnType<typeof compileGbdt>, base: (number | string | null)[], j: number, grid: number[]): number[] {
    return grid.map((v) => predictMargin(c, base.map((b, k) => (k === j ? v : b))));
  }

  it('never lets predictions decrease along a +1 feature or increase along a -1 feature, on random data (depth-wise and leaf-wise)', () => {
    const grid = Array.from({ length: 241 }, (_, k) => -3 + k * 0.025);
    let unconstrainedViolations = 0;
    for (let seed = 1; seed <= 6; seed++) {
      const rng = mulberry32(seed);
      const a = gaussian(rng) * 2;
      const data = randomData({ n: 2500, numeric: 4, categorical: 1, missing: 0.05, seed: 100 + seed,
        logit: (x) => Math.sin(a * (x[0] ?? 0)) + Math.cos(2 * (x[1] ?? 0)) + (x[0] ?? 0) * (x[2] ?? 0) });
      const binned = binColumns(data.columns);
      const growth = seed % 2 ? 'depthwise' as const : 'leafwise' as const;
      const params = { growth, maxRounds: 40, maxDepth: growth === 'leafwise' ? 8 : 4, maxLeaves: 12, learningRate: 0.3, minChildWeight: 0.5, seed, subsample: 0.8 };
      const fit = trainGbdt(binned, data.labels, { trainRows: all(data.n), monotone: { x0: 1, x1: -1 }, params });
      const free = trainGbdt(binned, data.labels, { trainRows: all(data.n), params });
      expect(fit.model.monotone).toEqual([1, -1, 0, 0, 0]);
      const constrained = compileGbdt(fit.model);
      const unconstrained = compileGbdt(free.model);
      for (let r = 0; r < 25; r++) {
        const base = rowOf(data.columns, Math.floor(rng() * data.n));
        const up = sweep(constrained, base, 0, grid);
        const down = sweep(constrained, base, 1, grid);
        for (let k = 1; k < grid.length; k++) {
          expect(up[k]).toBeGreaterThanOrEqual(up[k - 1] - 1e-12);
          expect(down[k]).toBeLessThanOrEqual(down[k - 1] + 1e-12);
        }
        const loose = sweep(unconstrained, base, 0, grid);
        for (let k = 1; k < grid.length; k++) if (loose[k] < loose[k - 1] - 1e-12) unconstrainedViolations++;
      }
    }
    // the data really pulls the other way: without constraints the model does decrease along x0
    expect(unconstrainedViolations).toBeGreaterThan(0);
  });

  it('sends missing values with the lowest (or highest) values at every split when their side is set, where the data would send them the other way', () => {
    // risk falls as x0 rises, but a missing x0 is the safest of all: left free, the trees learn that
    const data = randomData({ n: 3000, numeric: 3, missing: 0.15, seed: 77, logit: (x) => (x[0] === null ? -3 : -1.5 * x[0]) + 0.5 * (x[1] ?? 0) });
    const binned = binColumns(data.columns);
    const params = { maxRounds: 40, maxDepth: 3, learningRate: 0.3 };
    const low = trainGbdt(binned, data.labels, { trainRows: all(data.n), monotone: { x0: -1 }, missingSide: { x0: -1 }, params });
    const high = trainGbdt(binned, data.labels, { trainRows: all(data.n), monotone: { x0: -1 }, missingSide: [1, 0, 0], params });
    const free = trainGbdt(binned, data.labels, { trainRows: all(data.n), monotone: { x0: -1 }, params });
    const sides = (m: typeof low.model) => m.trees.flatMap((t) => t.feature.map((f, i) => (t.left[i] >= 0 && f === 0 ? t.defaultLeft[i] : null)).filter((v) => v !== null));
    expect(sides(low.model).length).toBeGreaterThan(10);
    expect(sides(low.model).every((v) => v === true)).toBe(true);
    expect(sides(high.model).every((v) => v === false)).toBe(true);
    expect(sides(free.model).some((v) => v === false)).toBe(true);
    // so a missing x0 scores exactly as a value below (above) every threshold: with risk falling in x0,
    // as the riskiest (safest) value there is
    const [cLow, cHigh, cFree] = [low, high, free].map((f) => compileGbdt(f.model));
    let apart = 0;
    for (let i = 0; i < 200; i++) {
      const row = rowOf(data.columns, i);
      const at = (c: typeof cLow, v: number | null) => predictMargin(c, [v, row[1], row[2]]);
      expect(at(cLow, null)).toBe(at(cLow, -1e9));
      expect(at(cHigh, null)).toBe(at(cHigh, 1e9));
      if (Math.abs(at(cFree, null) - at(cFree, -1e9)) > 1e-6) apart++;
    }
    expect(apart).toBeGreaterThan(100);
    // and a setting on a category, or of another value, is refused
    expect(() => trainGbdt(binned, data.labels, { trainRows: all(data.n), missingSide: { x0: 2 }, params })).toThrow(/missing side of x0 is 2/);
    expect(() => trainGbdt(binned, data.labels, { trainRows: all(data.n), missingSide: { nope: 1 }, params })).toThrow(/missing side on unknown feature "nope"/);
  });
});
