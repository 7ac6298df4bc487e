import { describe, expect, it } from 'vitest';
import { mulberry32 } from '../core/random.ts';
import { binColumns, type RawColumn } from '../training/models/gbdt/binning.ts';
import { prepareFit } from '../training/models/gbdt/fit-inputs.ts';
import { accumulateHistogram, featureGroups } from '../training/models/gbdt/histogram.ts';
import { createSplitContext, findBestSplit, SplitRecord, type SplitSettings } from '../training/models/gbdt/split.ts';

/** A node holding every row: its histogram, split context and the rows' gradient pairs. */
function setup(columns: RawColumn[], g: number[], h: number[], settings: SplitSettings) {
  const n = g.length;
  const data = binColumns(columns, { minCategoryCount: 1 });
  const inp = prepareFit(data, new Array<number>(n).fill(0), { trainRows: Array.from({ length: n }, (_, i) => i) });
  const t = inp.train;
  const ctx = createSplitContext(settings, t.nBins, t.isCategorical, inp.monotone);
  const feats = Int32Array.from({ length: t.d }, (_, f) => f);
  const groups = new Int32Array(t.d);
  const masks = new Int32Array(t.d);
  const ng = featureGroups(feats, t.d, groups, masks);
  const rows = Uint32Array.from({ length: n }, (_, i) => i);
  const ordered = new Float64Array(2 * n);
  g.forEach((v, i) => { ordered[2 * i] = v; ordered[2 * i + 1] = h[i]; });
  const hist = new Float64Array(2 * t.totalBins);
  accumulateHistogram(t.packed, n, groups, masks, 0, ng, t.offsets, t.nBins, rows, 0, n, ordered, hist, 0, new Int32Array(8));
  const G = g.reduce((a, b) => a + b, 0);
  const H = h.reduce((a, b) => a + b, 0);
  const best = findBestSplit(hist, { G, H, lower: -Infinity, upper: Infinity }, feats, t.d, ctx, new SplitRecord());
  return { best, data, G, H };
}

const score = (G: number, H: number, lambda: number) => (G * G) / (H + lambda);

/** Every split of every feature, exhaustively: numeric thresholds between distinct values and all category subsets, missing either side. */
function bruteForce(columns: RawColumn[], g: number[], h: number[], s: SplitSettings): { gain: number; feature: number; left: Set<number> } {
  const n = g.length;
  const G = g.reduce((a, b) => a + b, 0);
  const H = h.reduce((a, b) => a + b, 0);
  let best = { gain: -Infinity, feature: -1, left: new Set<number>() };
  const consider = (feature: number, goesLeft: (i: number) => boolean) => {
    let gl = 0;
    let hl = 0;
    const left = new Set<number>();
    for (let i = 0; i < n; i++) if (goesLeft(i)) { gl += g[i]; hl += h[i]; left.add(i); }
    if (hl < s.minChildWeight || H - hl < s.minChildWeight || left.size === 0 || left.size === n) return;
    const gain = score(gl, hl, s.lambda) + score(G - gl, H - hl, s.lambda) - score(G, H, s.lambda);
    if (gain > best.gain + 1e-12) best = { gain, feature, left };
  };
  columns.forEach((c, f) => {
    for (const missingLeft of [false, true]) {
      if (c.kind === 'numeric') {
        const vals = [...new Set(Array.from(c.values).filter((v): v is number => v !== null))].sort((a, b) => a - b);
        for (let k = 0; k + 1 < vals.length; k++) {
          const t = (vals[k] + vals[k + 1]) / 2;
          consider(f, (i) => (c.values[i] === null ? missingLeft : (c.values[i] as number) < t));
        }
      } else {
        const cats = [...new Set(Array.from(c.values).filter((v): v is string => v !== null))].sort();
        for (let mask = 1; mask < 2 ** cats.length - 1; mask++) {
          const set = new Set(cats.filter((_, k) => mask & (1 << k)));
          consider(f, (i) => (c.values[i] === null ? missingLeft : set.has(c.values[i] as string)));
        }
      }
    }
  });
  return best;
}

/** The rows the found split sends left, decided from the raw values like the model does. */
function leftRows(columns: RawColumn[], fit: ReturnType<typeof setup>): Set<number> {
  const { best, data } = fit;
  const c = columns[best.feature];
  const f = data.features[best.feature];
  const left = new Set<number>();
  for (let i = 0; i < c.values.length; i++) {
    const v = c.values[i];
    const goLeft = v === null ? best.defaultLeft
      : f.kind === 'numeric' ? (v as number) < f.cuts[best.bin - 1]
        : best.catLeft[1 + f.categories.indexOf(v as string)] === 1;
    if (goLeft) left.add(i);
  }
  return left;
}

function randomCase(seed: number, withCategorical: boolean) {
  const rng = mulberry32(seed);
  const n = 80;
  const numeric = (levels: number, missing: number) => Array.from({ length: n }, () => (rng() < missing ? null : Math.floor(rng() * levels) / 4));
  const columns: RawColumn[] = [
    { name: 'a', kind: 'numeric', values: numeric(30, 0.15) },
    { name: 'b', kind: 'numeric', values: numeric(12, 0) },
    { name: 'c', kind: 'numeric', values: numeric(50, 0.3) },
  ];
  if (withCategorical) columns.push({ name: 'k', kind: 'categorical', values: Array.from({ length: n }, () => `c${Math.floor(rng() * 6)}`) });
  const g = Array.from({ length: n }, () => rng() * 2 - 1 + (rng() < 0.3 ? 0.8 : 0));
  const h = Array.from({ length: n }, () => 0.1 + rng());
  return { columns, g, h };
}

describe('GBDT split finding', () => {
  const base: SplitSettings = { lambda: 1, minChildWeight: 1, catSmooth: 0, maxCatThreshold: 32, maxCatToOnehot: 1 };

  it('finds the same best numeric split as an exhaustive search, missing values on the better side', () => {
    for (let seed = 1; seed <= 25; seed++) {
      const { columns, g, h } = randomCase(seed, false);
      const fit = setup(columns, g, h, base);
      const brute = bruteForce(columns, g, h, base);
      expect(fit.best.gain).toBeCloseTo(brute.gain, 9);
      expect(fit.best.feature).toBe(brute.feature);
      expect([...leftRows(columns, fit)].sort()).toEqual([...brute.left].sort());
    }
  });

  it('finds the best partition of categories as an exhaustive search over all subsets (ordering by gradient / hessian)', () => {
    const s = { ...base, lambda: 0 };
    for (let seed = 100; seed < 125; seed++) {
      const { columns, g, h } = randomCase(seed, true);
      const fit = setup(columns, g, h, s);
      const brute = bruteForce(columns, g, h, s);
      expect(fit.best.gain).toBeCloseTo(brute.gain, 9);
      expect(fit.best.feature).toBe(brute.feature);
    }
  });

  it('rejects splits that leave a child below min_child_weight', () => {
    const { columns, g, h } = randomCase(7, true);
    const s = { ...base, minChildWeight: 18 };
    const fit = setup(columns, g, h, s);
    const brute = bruteForce(columns, g, h, s);
    expect(fit.best.feature).toBeGreaterThanOrEqual(0);
    expect(fit.best.gain).toBeCloseTo(brute.gain, 9);
    expect(setup(columns, g, h, { ...s, minChildWeight: fit.H / 2 + 1 }).best.feature).toBe(-1);
    const left = leftRows(columns, fit);
    let hl = 0;
    left.forEach((i) => { hl += h[i]; });
    expect(hl).toBeGreaterThanOrEqual(18);
    expect(fit.H - hl).toBeGreaterThanOrEqual(18);
  });
});
