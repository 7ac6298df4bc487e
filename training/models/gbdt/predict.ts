import { ChurnError } from '../../../core/errors.ts';
import { parseGbdtModel, type GbdtModel } from './model.ts';

export type RawValue = number | string | boolean | null | undefined;

/**
 * A model compiled once for scoring: every tree's nodes in flat typed arrays (child indices absolute),
 * categorical sets as membership bytes. Rows are first encoded into a Float64Array in feature order:
 * numeric values as numbers, categories as their index (-1 when unknown), missing as NaN.
 */
export interface CompiledGbdt {
  readonly model: GbdtModel;
  readonly featureNames: string[];
  readonly baseScore: number;
  /** first node of tree t is roots[t]; roots[nTrees] is the node count */
  readonly roots: Int32Array;
  readonly left: Int32Array;
  readonly right: Int32Array;
  readonly feature: Int32Array;
  readonly threshold: Float64Array;
  readonly defaultLeft: Uint8Array;
  /** categorical nodes: where their membership bytes start in catMember; -1 for others */
  readonly catStart: Int32Array;
  /** categorical nodes: how many categories their feature has */
  readonly catSize: Int32Array;
  readonly catMember: Uint8Array;
  readonly value: Float64Array;
  readonly cover: Float64Array;
  /** deepest leaf over all trees (edges from the root) */
  readonly maxDepth: number;
  readonly categoryIndex: (Map<string, number> | null)[];
  /** the encoding buffer predictMargin reuses (one per compiled model) */
  readonly scratch: Float64Array;
}

function treeDepth(left: number[], right: number[], node = 0): number {
  return left[node] < 0 ? 0 : 1 + Math.max(treeDepth(left, right, left[node]), treeDepth(left, right, right[node]));
}

/** Validates (zod) and compiles a model; a malformed one is CHURN_ERR_ARTIFACT_CORRUPT. */
export function compileGbdt(input: GbdtModel | unknown): CompiledGbdt {
  const model = parseGbdtModel(input);
  const total = model.trees.reduce((s, t) => s + t.left.length, 0);
  const roots = new Int32Array(model.trees.length + 1);
  const [left, right, feature, catStart, catSize] = Array.from({ length: 5 }, () => new Int32Array(total));
  const threshold = new Float64Array(total);
  const value = new Float64Array(total);
  const cover = new Float64Array(total);
  const defaultLeft = new Uint8Array(total);
  const members: number[] = [];
  let maxDepth = 0;
  let at = 0;
  model.trees.forEach((t, k) => {
    roots[k] = at;
    maxDepth = Math.max(maxDepth, treeDepth(t.left, t.right));
    for (let i = 0; i < t.left.length; i++) {
      const g = at + i;
      const leaf = t.left[i] < 0;
      left[g] = leaf ? -1 : at + t.left[i];
      right[g] = leaf ? -1 : at + t.right[i];
      feature[g] = t.feature[i];
      threshold[g] = t.threshold[i];
      defaultLeft[g] = t.defaultLeft[i] ? 1 : 0;
      value[g] = t.value[i];
      cover[g] = t.cover[i];
      const f = leaf ? undefined : model.features[t.feature[i]];
      catStart[g] = -1;
      if (f?.kind === 'categorical') {
        catStart[g] = members.length;
        catSize[g] = f.categories.length;
        const set = new Array<number>(f.categories.length).fill(0);
        for (const c of t.categories[i]) set[c] = 1;
        members.push(...set);
      }
    }
    at += t.left.length;
  });
  roots[model.trees.length] = at;
  return {
    model, featureNames: model.features.map((f) => f.name), baseScore: model.baseScore, roots, left, right, feature, threshold,
    defaultLeft, catStart, catSize, catMember: Uint8Array.from(members), value, cover, maxDepth,
    categoryIndex: model.features.map((f) => (f.kind === 'categorical' ? new Map(f.categories.map((c, k) => [c, k])) : null)),
    scratch: new Float64Array(model.features.length),
  };
}

function numericValue(v: RawValue): number {
  if (typeof v === 'number') return Number.isFinite(v) ? v : NaN;
  if (typeof v === 'boolean') return v ? 1 : 0;
  if (typeof v === 'string' && v.trim() !== '') {
    const n = Number(v);
    return Number.isFinite(n) ? n : NaN;
  }
  return NaN;
}

/**
 * Encodes one row (an object keyed by feature name, absent keys missing; or values in feature order)
 * into `out`. Numeric: numbers, numeric strings and booleans; anything else is missing. Categorical:
 * the exact category text (numbers as their decimal text); null, undefined and '' are missing, any
 * other unknown text is index -1, which every categorical split sends right (the "not in set" side).
 */
export function encodeRow(c: CompiledGbdt, row: Record<string, RawValue> | ArrayLike<RawValue>, out: Float64Array): Float64Array {
  if (row === null || typeof row !== 'object') throw new ChurnError('CHURN_ERR_VALIDATION', 'a row to score must be an object of feature values or an array');
  const byIndex = Array.isArray(row) || ArrayBuffer.isView(row);
  const f32 = c.model.inputPrecision === 'float32';
  const names = c.featureNames;
  for (let j = 0; j < names.length; j++) {
    const v = byIndex ? (row as ArrayLike<RawValue>)[j] : (row as Record<string, RawValue>)[names[j]];
    const index = c.categoryIndex[j];
    if (index === null) {
      const x = numericValue(v);
      out[j] = f32 ? Math.fround(x) : x;
    } else if (v === null || v === undefined || v === '') out[j] = NaN;
    else out[j] = index.get(String(v)) ?? -1;
  }
  return out;
}

/** The child an encoded row goes to from an internal node. */
export function nextNode(c: CompiledGbdt, node: number, x: Float64Array): number {
  const v = x[c.feature[node]];
  if (v !== v) return c.defaultLeft[node] === 1 ? c.left[node] : c.right[node];
  const cs = c.catStart[node];
  if (cs < 0) return v < c.threshold[node] ? c.left[node] : c.right[node];
  return v >= 0 && v < c.catSize[node] && c.catMember[cs + v] === 1 ? c.left[node] : c.right[node];
}

/** The leaf tree t sends an encoded row to. */
export function leafOf(c: CompiledGbdt, t: number, x: Float64Array): number {
  let node = c.roots[t];
  while (c.left[node] >= 0) node = nextNode(c, node, x);
  return node;
}

/** The raw margin (log-odds) of an encoded row. */
export function marginOfEncoded(c: CompiledGbdt, x: Float64Array): number {
  let m = c.baseScore;
  const nTrees = c.roots.length - 1;
  for (let t = 0; t < nTrees; t++) m += c.value[leafOf(c, t, x)];
  return m;
}

/** The raw margin (log-odds) of one raw row (see encodeRow), encoded into the model's scratch buffer. */
export function predictMargin(c: CompiledGbdt, row: Record<string, RawValue> | ArrayLike<RawValue>): number {
  return marginOfEncoded(c, encodeRow(c, row, c.scratch));
}
