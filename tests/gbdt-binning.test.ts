import { describe, expect, it } from 'vitest';
import { mulberry32 } from '../core/random.ts';
import { binColumns, MISSING_BIN, numericBinOf, type CategoricalBins, type NumericBins } from '../training/models/gbdt/binning.ts';
import { rawColumnsFromTable } from '../training/models/gbdt/index.ts';
import { syntheticTable } from '../training/synthetic.ts';

const binOf = (m: ReturnType<typeof binColumns>, j: number, i: number) => m.bins[j * m.n + i];

describe('GBDT binning', () => {
  it('cuts numeric features at quantiles: about the same number of rows per bin, every row in its interval', () => {
    const rng = mulberry32(3);
    const values = Array.from({ length: 5000 }, () => rng() * 100);
    const m = binColumns([{ name: 'u', kind: 'numeric', values }], { maxBins: 20 });
    const f = m.features[0] as NumericBins;
    expect(f.cuts.length).toBe(19);
    expect(f.nBins).toBe(21);
    const counts = new Array<number>(f.nBins).fill(0);
    values.forEach((v, i) => {
      const b = binOf(m, 0, i);
      counts[b]++;
      if (b > 1) expect(v).toBeGreaterThanOrEqual(f.cuts[b - 2]);
      if (b < f.nBins - 1) expect(v).toBeLessThan(f.cuts[b - 1]);
    });
    expect(counts[MISSING_BIN]).toBe(0);
    for (let b = 1; b < f.nBins; b++) expect(Math.abs(counts[b] - 250)).toBeLessThanOrEqual(3);
  });

  it('gives each distinct value its own bin when there are few, with cuts halfway between them', () => {
    const m = binColumns([{ name: 'v', kind: 'numeric', values: [3, 1, 2, 2, 10, 1] }]);
    const f = m.features[0] as NumericBins;
    expect(Array.from(f.cuts)).toEqual([1.5, 2.5, 6.5]);
    expect(Array.from(m.bins)).toEqual([3, 1, 2, 2, 4, 1]);
    expect(numericBinOf(f.cuts, 2.5)).toBe(3);
    expect(numericBinOf(f.cuts, -7)).toBe(1);
  });

  it('puts values apart by float rounding only in one bin, so no split can tell them apart', () => {
    const a = 4 / 28;
    const b = (1 / 77) * 11; // 1/7 again, one ulp away
    expect(b).not.toBe(a);
    const values = [...new Array<number>(50).fill(a), ...new Array<number>(50).fill(b), ...new Array<number>(100).fill(0.5), 0.1428571, 1e-13, 0];
    const m = binColumns([{ name: 'ratio', kind: 'numeric', values }]);
    const f = m.features[0] as NumericBins;
    expect(binOf(m, 0, 0)).toBe(binOf(m, 0, 50));
    expect(numericBinOf(f.cuts, a)).toBe(numericBinOf(f.cuts, b));
    // values that differ beyond rounding keep their own bins; near 0 the tolerance is absolute (1e-12)
    expect(numericBinOf(f.cuts, 0.1428571)).not.toBe(numericBinOf(f.cuts, a));
    expect(numericBinOf(f.cuts, 1e-13)).toBe(numericBinOf(f.cuts, 0));
    expect(Array.from(f.cuts)).toHaveLength(3); // {0, 1e-13} | 0.1428571 | 1/7 twice | 0.5
  });

  it('keeps a value that holds many rows in a bin of its own', () => {
    const values = [...new Array<number>(600).fill(0), ...Array.from({ length: 400 }, (_, i) => 1 + i)];
    const m = binColumns([{ name: 'zeros', kind: 'numeric', values }], { maxBins: 8 });
    const zeroBin = binOf(m, 0, 0);
    for (let i = 0; i < 1000; i++) expect(binOf(m, 0, i) === zeroBin).toBe(values[i] === 0);
  });

  it('puts null, NaN and infinite values in the missing bin', () => {
    const m = binColumns([{ name: 'x', kind: 'numeric', values: [1, null, Number.NaN, Infinity, -Infinity, 2] }]);
    expect(Array.from(m.bins)).toEqual([1, 0, 0, 0, 0, 2]);
  });

  it('codes categories by frequency, with rare and unseen ones in the last bin and blanks missing', () => {
    const values = ['b', 'a', 'b', 'c', 'b', 'a', 'rare', null, '', 'unseen'];
    const m = binColumns([{ name: 'plan', kind: 'categorical', values }], { minCategoryCount: 2, rows: [0, 1, 2, 3, 4, 5, 6, 7, 8] });
    const f = m.features[0] as CategoricalBins;
    expect(f.categories).toEqual(['b', 'a']);
    expect(f.nBins).toBe(4);
    expect(Array.from(m.bins)).toEqual([1, 2, 1, 3, 1, 2, 3, 0, 0, 3]);
  });

  it('sets bin edges from the given rows only, and bins every row', () => {
    const values = [0, 1, 2, 3, 100, 200];
    const m = binColumns([{ name: 'x', kind: 'numeric', values }], { rows: [0, 1, 2, 3] });
    expect(Array.from((m.features[0] as NumericBins).cuts)).toEqual([0.5, 1.5, 2.5]);
    expect(Array.from(m.bins)).toEqual([1, 2, 3, 4, 4, 4]);
  });

  it('bins a prepared table: text columns become categorical, at most 255 bins plus missing per numeric feature', () => {
    const table = syntheticTable({ rows: 3000, numeric: 4, text: 2, seed: 5 });
    const m = binColumns(rawColumnsFromTable(table.columns));
    expect(m.features.map((f) => f.kind)).toEqual(['numeric', 'numeric', 'numeric', 'numeric', 'categorical', 'categorical']);
    for (const f of m.features) expect(f.nBins).toBeLessThanOrEqual(256);
    expect((m.features[4] as CategoricalBins).categories.slice(0, 4).sort()).toEqual(['alpha', 'beta', 'delta', 'gamma']);
  });

  it('refuses mismatched column lengths, unknown kinds and a bad bin count', () => {
    const err = { code: 'CHURN_ERR_VALIDATION' };
    expect(() => binColumns([{ name: 'a', kind: 'numeric', values: [1, 2] }, { name: 'b', kind: 'numeric', values: [1] }])).toThrow(expect.objectContaining(err));
    expect(() => binColumns([{ name: 'a', kind: 'ordinal', values: [1] } as never])).toThrow(expect.objectContaining(err));
    expect(() => binColumns([{ name: 'a', kind: 'numeric', values: [1] }], { maxBins: 256 })).toThrow(expect.objectContaining(err));
    expect(() => binColumns([{ name: 'a', kind: 'numeric', values: [1] }], { rows: [3] })).toThrow(expect.objectContaining(err));
  });
});
