import { z } from 'zod';
import type { Column } from './table.ts';

/**
 * Preprocessing fitted on training rows only and stored in the model artifact (plain JSON):
 * numeric columns get median imputation (plus a 0/1 missing indicator when the column had blanks in
 * training) or, where the feature catalogue declares what a missing value stands for, the lowest or
 * highest value training saw (the indicator then only pushes it further that way: see encodedSigns,
 * so it follows the column's declared risk), asinh for skewed non-negative counts, and standardisation; text columns get one-hot
 * encoding of categories seen at least `minCount` times, a `__rare__` bucket (rare and unseen values)
 * and a `__missing__` bucket when training had blanks.
 *
 * Optionally (`hingeQuantiles`) a numeric column also gets hinge inputs max(0, z - knot) at training
 * quantiles of its standardised value z, each standardised too: a piecewise-linear shape per feature
 * (a generalised additive model when the network has no hidden layer). Every hinge input is owned by its
 * raw column in `encodedToRaw`, so explanations still sum exactly per raw feature.
 */
export const Hinge = z.object({ knot: z.number(), mean: z.number(), std: z.number().positive() });
export type Hinge = z.infer<typeof Hinge>;

export const NumericSpec = z.object({
  name: z.string(),
  kind: z.literal('numeric'),
  family: z.string(),
  median: z.number(),
  missingIndicator: z.boolean(),
  transform: z.enum(['none', 'asinh']),
  mean: z.number(),
  std: z.number().positive(),
  /** piecewise-linear basis on the standardised value (absent in artifacts from before hinges) */
  hinges: z.array(Hinge).optional(),
  /** typical value among retained training rows (the median), shown next to drivers and the point explanations start from */
  reference: z.number().nullable(),
  /** how churn risk moves as the value rises (the feature catalogue's declaration): the model's inputs of this column are sign-constrained */
  risk: z.enum(['increasing', 'decreasing']).optional(),
  /**
   * what a missing value is scored as, where the catalogue declares what it stands for (`missingAs`):
   * the lowest or highest value training saw (absent: the median)
   */
  missingValue: z.number().optional(),
  /** what the catalogue declares a missing value stands for: the column's lowest or highest value */
  missingAs: z.enum(['lowest', 'highest']).optional(),
});
export type NumericSpec = z.infer<typeof NumericSpec>;

export const TextSpec = z.object({
  name: z.string(),
  kind: z.literal('text'),
  family: z.string(),
  categories: z.array(z.string()),
  missingBucket: z.boolean(),
  /** most common value among retained training rows */
  reference: z.string().nullable(),
});
export type TextSpec = z.infer<typeof TextSpec>;

export const ColumnSpec = z.discriminatedUnion('kind', [NumericSpec, TextSpec]);
export type ColumnSpec = z.infer<typeof ColumnSpec>;

export const Preprocessing = z.object({
  columns: z.array(ColumnSpec),
  /** names of the encoded model inputs, in order */
  encodedNames: z.array(z.string()),
  /** for each encoded input, the index of the raw column it came from */
  encodedToRaw: z.array(z.number().int().nonnegative()),
});
export type Preprocessing = z.infer<typeof Preprocessing>;

export const RARE = '__rare__';
export const MISSING = '__missing__';

export interface FitOptions {
  /** a text category needs this many training rows to get its own one-hot column */
  minCount?: number;
  /** skewness above which a non-negative numeric column is asinh-transformed */
  skewThreshold?: number;
  /** labels (1 = churned) for the reference values among retained rows */
  label?: number[];
  /** training quantiles of each numeric column's standardised value that get a hinge input (default none) */
  hingeQuantiles?: number[];
}

function median(sorted: number[]): number {
  if (sorted.length === 0) return 0;
  const m = sorted.length >> 1;
  return sorted.length % 2 ? sorted[m] : (sorted[m - 1] + sorted[m]) / 2;
}

function skewness(xs: number[]): number {
  const n = xs.length;
  if (n < 3) return 0;
  let mean = 0;
  for (const x of xs) mean += x / n;
  let m2 = 0;
  let m3 = 0;
  for (const x of xs) {
    const d = x - mean;
    m2 += (d * d) / n;
    m3 += (d * d * d) / n;
  }
  return m2 > 0 ? m3 / Math.pow(m2, 1.5) : 0;
}

/**
 * Hinges max(0, z - knot) at the given quantiles of the standardised training values `z`: a knot must lie
 * strictly inside the range (else the hinge is constant or collinear with z) and knots are distinct.
 */
function fitHinges(z: number[], quantiles: number[]): Hinge[] {
  if (quantiles.length === 0 || z.length < 2) return [];
  const sorted = Float64Array.from(z).sort();
  const lo = sorted[0];
  const hi = sorted[sorted.length - 1];
  const hinges: Hinge[] = [];
  for (const q of [...quantiles].sort((a, b) => a - b)) {
    const pos = Math.min(sorted.length - 1, Math.max(0, q * (sorted.length - 1)));
    const f = Math.floor(pos);
    const knot = sorted[f] + (pos - f) * (sorted[Math.min(sorted.length - 1, f + 1)] - sorted[f]);
    if (!(knot > lo && knot < hi) || hinges.some((h) => h.knot === knot)) continue;
    let mean = 0;
    for (const v of sorted) mean += Math.max(0, v - knot) / sorted.length;
    let ss = 0;
    for (const v of sorted) ss += (Math.max(0, v - knot) - mean) ** 2;
    const std = Math.sqrt(ss / Math.max(1, sorted.length - 1));
    if (std > 1e-9) hinges.push({ knot, mean, std });
  }
  return hinges;
}

function fitNumeric(col: Extract<Column, { kind: 'numeric' }>, rows: number[], opts: Required<Omit<FitOptions, 'label'>>, label?: number[]): NumericSpec {
  const present: number[] = [];
  let missing = 0;
  for (const i of rows) {
    const v = col.values[i];
    if (v === null || !Number.isFinite(v)) missing++;
    else present.push(v);
  }
  present.sort((a, b) => a - b);
  const med = median(present);
  // a declared meaning: the lowest or highest value seen stands for a missing one
  const declared = col.missing && present.length ? (col.missing === 'lowest' ? present[0] : present[present.length - 1]) : undefined;
  const fill = declared ?? med;
  const imputed = rows.map((i) => {
    const v = col.values[i];
    return v === null || !Number.isFinite(v) ? fill : v;
  });
  const nonNegative = present.length > 0 && present[0] >= 0;
  const transform = nonNegative && skewness(imputed) > opts.skewThreshold ? 'asinh' : 'none';
  const t = transform === 'asinh' ? imputed.map(Math.asinh) : imputed;
  let mean = 0;
  for (const x of t) mean += x / t.length;
  let varSum = 0;
  for (const x of t) varSum += (x - mean) ** 2;
  const std = Math.sqrt(varSum / Math.max(1, t.length - 1));
  const sd = std > 1e-12 ? std : 1;
  const hinges = fitHinges(t.map((v) => (v - mean) / sd), opts.hingeQuantiles);
  const retained = label ? rows.map((i) => (label[i] === 0 ? col.values[i] : null)).filter((v): v is number => v !== null && Number.isFinite(v)).sort((a, b) => a - b) : present;
  return {
    name: col.name, kind: 'numeric', family: col.family ?? 'other', median: med, missingIndicator: missing > 0, transform,
    mean: t.length ? mean : 0, std: sd, ...(hinges.length ? { hinges } : {}), reference: retained.length ? median(retained) : null,
    ...(col.risk ? { risk: col.risk } : {}), ...(declared !== undefined ? { missingValue: declared, missingAs: col.missing } : {}),
  };
}

function mostCommon(counts: Map<string, number>): string | null {
  let best: string | null = null;
  let n = -1;
  for (const [k, c] of counts) if (c > n || (c === n && best !== null && k < best)) [best, n] = [k, c];
  return best;
}

function fitText(col: Extract<Column, { kind: 'text' }>, rows: number[], minCount: number, label?: number[]): TextSpec {
  const counts = new Map<string, number>();
  const retained = new Map<string, number>();
  let missing = 0;
  for (const i of rows) {
    const v = col.values[i];
    if (v === null) { missing++; continue; }
    counts.set(v, (counts.get(v) ?? 0) + 1);
    if (!label || label[i] === 0) retained.set(v, (retained.get(v) ?? 0) + 1);
  }
  const categories = [...counts].filter(([k, c]) => c >= minCount && k !== RARE && k !== MISSING)
    .sort((a, b) => b[1] - a[1] || (a[0] < b[0] ? -1 : 1)).map(([k]) => k);
  return { name: col.name, kind: 'text', family: col.family ?? 'other', categories, missingBucket: missing > 0, reference: mostCommon(retained) };
}

/** Fits the preprocessing on `trainRows` (indices into the columns) only. */
export function fitPreprocessing(columns: Column[], trainRows: number[], options: FitOptions = {}): Preprocessing {
  const opts = { minCount: options.minCount ?? 10, skewThreshold: options.skewThreshold ?? 1, hingeQuantiles: options.hingeQuantiles ?? [] };
  const specs = columns.map((c) => (c.kind === 'numeric' ? fitNumeric(c, trainRows, opts, options.label) : fitText(c, trainRows, opts.minCount, options.label)));
  const encodedNames: string[] = [];
  const encodedToRaw: number[] = [];
  specs.forEach((s, j) => {
    const names = s.kind === 'numeric'
      ? [s.name, ...(s.missingIndicator ? [`${s.name}${MISSING}`] : []), ...(s.hinges ?? []).map((h) => `${s.name}>${+h.knot.toPrecision(6)}sd`)]
      : [...s.categories.map((c) => `${s.name}=${c}`), `${s.name}=${RARE}`, ...(s.missingBucket ? [`${s.name}=${MISSING}`] : [])];
    for (const n of names) { encodedNames.push(n); encodedToRaw.push(j); }
  });
  return { columns: specs, encodedNames, encodedToRaw };
}

/**
 * The sign each encoded input's weight must keep so that a column's effect follows its declared risk
 * (+1: risk rises with the value, -1: falls, 0: free). A numeric column's value and hinge inputs are
 * monotone increasing in the raw value (asinh and standardising keep the order), so same-signed
 * weights on them make its whole effect monotone. A missing value scored as the column's lowest or
 * highest value (`missingAs`) has its indicator held to the side that value lies on; other missing
 * indicators and categories stay free.
 */
export function encodedSigns(pre: Preprocessing): Int8Array {
  const signs = new Int8Array(pre.encodedNames.length);
  let offset = 0;
  for (const s of pre.columns) {
    const w = encodedWidth(s);
    if (s.kind === 'numeric' && s.risk) {
      const sign = s.risk === 'increasing' ? 1 : -1;
      signs[offset] = sign;
      for (let k = 0; k < (s.hinges?.length ?? 0); k++) signs[offset + 1 + (s.missingIndicator ? 1 : 0) + k] = sign;
      // a missing value scored as the riskiest value may be riskier still, as the safest safer still
      if (s.missingIndicator && s.missingAs) signs[offset + 1] = (s.missingAs === 'highest' ? 1 : -1) * sign;
    }
    offset += w;
  }
  return signs;
}

/**
 * The encoding of a reference row: the point explanations start from. By default each column's
 * `reference`; `references` (by column name) gives another row, such as the young accounts'.
 */
export function encodeReference(pre: Preprocessing, references?: Readonly<Record<string, number | string | null>>): Float64Array {
  const out = new Float64Array(pre.encodedNames.length);
  let offset = 0;
  for (const s of pre.columns) {
    encodeValue(s, references ? references[s.name] ?? null : s.reference, out, offset);
    offset += encodedWidth(s);
  }
  return out;
}

/**
 * The typical value of each column over `rows` (retained accounts of one group, say): missing where
 * most of the rows miss it, else the median (numeric) or the most common category (text). Unlike a
 * column's own `reference`, which is the median of the values present, a group whose accounts mostly
 * lack a value (new accounts have no earlier period, no invoice due yet) is typically missing it.
 */
export function groupReferences(columns: readonly Column[], rows: readonly number[]): Record<string, number | string | null> {
  const out: Record<string, number | string | null> = {};
  for (const col of columns) {
    if (col.kind === 'numeric') {
      const present = rows.map((i) => col.values[i]).filter((v): v is number => v !== null && Number.isFinite(v)).sort((a, b) => a - b);
      out[col.name] = present.length * 2 > rows.length ? median(present) : null;
    } else {
      const counts = new Map<string, number>();
      let present = 0;
      for (const i of rows) {
        const v = col.values[i];
        if (v === null) continue;
        present++;
        counts.set(v, (counts.get(v) ?? 0) + 1);
      }
      out[col.name] = present * 2 > rows.length ? mostCommon(counts) : null;
    }
  }
  return out;
}

/** Number of encoded inputs a column spec produces. */
export function encodedWidth(s: ColumnSpec): number {
  return s.kind === 'numeric' ? 1 + (s.missingIndicator ? 1 : 0) + (s.hinges?.length ?? 0) : s.categories.length + 1 + (s.missingBucket ? 1 : 0);
}

/** Coerces a raw value to a number; blanks and non-numeric text are missing (as in training). */
function toNumber(v: unknown): number | null {
  if (typeof v === 'number') return Number.isFinite(v) ? v : null;
  if (typeof v === 'string') {
    const t = v.trim();
    if (t === '') return null;
    const n = Number(t);
    return Number.isFinite(n) ? n : null;
  }
  if (typeof v === 'boolean') return v ? 1 : 0;
  return null;
}

/**
 * Writes one raw value's encoding into `out` from `offset` (zeroing the column's slots first).
 * `index` (a category -> position map) is optional and only speeds up text lookups.
 */
export function encodeValue(s: ColumnSpec, value: unknown, out: Float64Array | Float32Array, offset: number, index?: Map<string, number>): void {
  if (s.kind === 'numeric') {
    const n = toNumber(value);
    const x = n === null ? s.missingValue ?? s.median : n;
    const z = ((s.transform === 'asinh' ? Math.asinh(x) : x) - s.mean) / s.std;
    out[offset] = z;
    if (s.missingIndicator) out[offset + 1] = n === null ? 1 : 0;
    if (s.hinges) {
      const first = offset + 1 + (s.missingIndicator ? 1 : 0);
      const hinges = s.hinges;
      for (let k = 0; k < hinges.length; k++) {
        const h = hinges[k];
        out[first + k] = (Math.max(0, z - h.knot) - h.mean) / h.std;
      }
    }
    return;
  }
  const width = s.categories.length + 1 + (s.missingBucket ? 1 : 0);
  for (let k = 0; k < width; k++) out[offset + k] = 0;
  const text = value === null || value === undefined ? null : String(value).trim();
  if (text === null || text === '') {
    out[offset + (s.missingBucket ? s.categories.length + 1 : s.categories.length)] = 1;
    return;
  }
  const k = index ? index.get(text) : s.categories.indexOf(text);
  out[offset + (k === undefined || k < 0 ? s.categories.length : k)] = 1;
}

/** Encodes rows of a table (all rows, or the given indices) into a row-major Float32Array. */
export function encodeColumns(pre: Preprocessing, columns: Column[], rows?: number[]): { x: Float32Array; n: number; d: number } {
  const byName = new Map(columns.map((c) => [c.name, c]));
  const d = pre.encodedNames.length;
  const idx = rows ?? Array.from({ length: columns[0]?.values.length ?? 0 }, (_, i) => i);
  const x = new Float32Array(idx.length * d);
  const tmp = new Float64Array(d);
  const indexes = pre.columns.map((s) => (s.kind === 'text' ? new Map(s.categories.map((c, k) => [c, k])) : undefined));
  let offset = 0;
  pre.columns.forEach((s, j) => {
    const col = byName.get(s.name);
    const w = encodedWidth(s);
    idx.forEach((row, r) => {
      encodeValue(s, col ? col.values[row] : null, tmp, 0, indexes[j]);
      for (let k = 0; k < w; k++) x[r * d + offset + k] = tmp[k];
    });
    offset += w;
  });
  return { x, n: idx.length, d };
}
