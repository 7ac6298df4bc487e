import { createRng } from './models/network.ts';
import type { Column, PreparedTable, Split } from './table.ts';

export interface SyntheticOptions {
  rows: number;
  /** numeric features (a third are skewed counts, some with blanks) */
  numeric: number;
  /** text features (a few common categories and a long tail of rare ones) */
  text: number;
  seed: number;
  /** share of rows in the `test` split (the rest is `train`) */
  testShare?: number;
  /** share of blanks in columns that have blanks */
  missingRate?: number;
}

function gaussian(rng: () => number): number {
  const u = Math.max(rng(), 1e-12);
  return Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * rng());
}

/**
 * A seeded prepared table with a known signal: churn log-odds are a sum of linear effects, a log effect
 * of the counts, one interaction and per-category offsets, so a good model has something to find.
 * Used by tests (small) and the training benchmark (100,000 x 40).
 */
export function syntheticTable(o: SyntheticOptions): PreparedTable {
  const rng = createRng(o.seed);
  const n = o.rows;
  const missingRate = o.missingRate ?? 0.05;
  const columns: Column[] = [];
  const logit = new Float64Array(n).fill(-1.6);
  const coef = (j: number) => ((j % 5) - 2) * 0.35 + (j % 2 ? 0.1 : -0.1);
  const families = ['engagement', 'usage', 'adoption', 'support'];
  let first: Float64Array | null = null;
  for (let j = 0; j < o.numeric; j++) {
    const values: (number | null)[] = new Array(n);
    const raw = new Float64Array(n);
    const skewed = j % 3 === 0;
    const hasBlanks = j % 4 === 1;
    for (let i = 0; i < n; i++) {
      const z = gaussian(rng);
      raw[i] = skewed ? Math.round(Math.exp(1.5 + z)) : Math.round(z * 1000) / 1000;
      const effect = skewed ? Math.log1p(raw[i]) - 1.6 : raw[i];
      logit[i] += coef(j) * effect;
      values[i] = hasBlanks && rng() < missingRate ? null : raw[i];
    }
    if (j === 1) first = raw;
    if (j === 2 && first) for (let i = 0; i < n; i++) logit[i] += 0.4 * first[i] * raw[i];
    columns.push({ name: `${skewed ? 'count' : 'metric'}_${j}`, kind: 'numeric', values, family: families[j % 4] });
  }
  for (let j = 0; j < o.text; j++) {
    const common = ['alpha', 'beta', 'gamma', 'delta'];
    const offsets = [0.5, -0.3, 0, -0.6];
    const values: (string | null)[] = new Array(n);
    for (let i = 0; i < n; i++) {
      const u = rng();
      if (u < missingRate) { values[i] = null; logit[i] += 0.3; continue; }
      if (u > 0.98) { values[i] = `rare_${Math.floor(rng() * 500)}`; continue; }
      const k = Math.floor(rng() * common.length);
      values[i] = common[k];
      logit[i] += offsets[k] * (j % 2 ? 1 : -1);
    }
    columns.push({ name: `plan_${j}`, kind: 'text', values });
  }
  const label: number[] = new Array(n);
  const split: Split[] = new Array(n);
  for (let i = 0; i < n; i++) {
    label[i] = rng() < 1 / (1 + Math.exp(-logit[i])) ? 1 : 0;
    split[i] = rng() < (o.testShare ?? 0.2) ? 'test' : 'train';
  }
  const ids = Array.from({ length: n }, (_, i) => `acc_${String(i).padStart(6, '0')}`);
  return { ids, label, split, columns, source: { kind: 'csv', path: `synthetic-${o.seed}.csv`, sha256: '' } };
}
