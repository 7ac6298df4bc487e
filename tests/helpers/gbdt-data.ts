import { mulberry32 } from '../../core/random.ts';
import type { RawColumn } from '../../training/models/gbdt/index.ts';

/** Seeded random data for the GBDT tests: numeric columns with blanks, categorical columns, a logit. */
export interface RandomData {
  columns: RawColumn[];
  labels: number[];
  n: number;
}

export function gaussian(rng: () => number): number {
  return Math.sqrt(-2 * Math.log(Math.max(rng(), 1e-12))) * Math.cos(2 * Math.PI * rng());
}

/**
 * n rows of `numeric` standard-normal columns (a share `missing` blank) and `categorical` columns of
 * `levels` categories; the label is drawn from sigmoid(logit(values)).
 */
export function randomData(opts: {
  n: number; numeric: number; categorical?: number; levels?: number; missing?: number; seed: number;
  logit?: (num: (number | null)[], cat: (string | null)[]) => number;
}): RandomData {
  const rng = mulberry32(opts.seed);
  const nCat = opts.categorical ?? 0;
  const levels = opts.levels ?? 5;
  const numCols = Array.from({ length: opts.numeric }, () => new Array<number | null>(opts.n));
  const catCols = Array.from({ length: nCat }, () => new Array<string | null>(opts.n));
  const labels = new Array<number>(opts.n);
  for (let i = 0; i < opts.n; i++) {
    const num = numCols.map((c) => (c[i] = rng() < (opts.missing ?? 0) ? null : Math.round(gaussian(rng) * 1000) / 1000));
    const cat = catCols.map((c) => (c[i] = rng() < (opts.missing ?? 0) ? null : `c${Math.floor(rng() * levels)}`));
    const z = opts.logit ? opts.logit(num, cat) : (num[0] ?? 0) - 0.5 * (num[1] ?? 0);
    labels[i] = rng() < 1 / (1 + Math.exp(-z)) ? 1 : 0;
  }
  const columns: RawColumn[] = [
    ...numCols.map((values, j): RawColumn => ({ name: `x${j}`, kind: 'numeric', values })),
    ...catCols.map((values, j): RawColumn => ({ name: `k${j}`, kind: 'categorical', values })),
  ];
  return { columns, labels, n: opts.n };
}

/** Row i of the columns, as an array in column order. */
export function rowOf(columns: RawColumn[], i: number): (number | string | null)[] {
  return columns.map((c) => c.values[i]);
}

/** 0..n-1 split into train and the rest by a seeded coin with probability `share` for train. */
export function splitRows(n: number, share: number, seed: number): { train: number[]; rest: number[] } {
  const rng = mulberry32(seed);
  const train: number[] = [];
  const rest: number[] = [];
  for (let i = 0; i < n; i++) (rng() < share ? train : rest).push(i);
  return { train, rest };
}
