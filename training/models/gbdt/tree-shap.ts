import { marginOfEncoded, nextNode, type CompiledGbdt } from './predict.ts';

/**
 * Exact TreeSHAP on the raw margin (log-odds): the path-dependent algorithm of Lundberg, Erion and Lee
 * (2018), "Algorithm 2" (EXTEND / UNWIND over the unique path of features from the root), written
 * after XGBoost's RegTree::TreeShap. Features absent from a row's path are integrated out by the
 * training cover of each branch. baseValue = baseScore + sum over trees of the cover-weighted mean
 * leaf value, and baseValue + sum(contributions) equals the margin up to rounding.
 *
 * Precomputed once: per node the cover share of its left child, per tree the expected value, and path
 * buffers sized by the deepest tree, so explaining a row allocates nothing.
 */
export interface TreeExplainer {
  baseValue: number;
  /** writes one contribution per feature into out (overwriting it) and returns the row's margin */
  explain(x: Float64Array, out: Float64Array): number;
}

/** Cover share of the left child at each internal node (children's covers normalised; 1/2 when both are 0). */
function leftShares(c: CompiledGbdt): Float64Array {
  const share = new Float64Array(c.left.length);
  for (let i = 0; i < c.left.length; i++) {
    if (c.left[i] < 0) continue;
    const l = c.cover[c.left[i]];
    const r = c.cover[c.right[i]];
    share[i] = l + r > 0 ? l / (l + r) : 0.5;
  }
  return share;
}

/** Cover-weighted mean leaf value under each node (the tree's expected value at its root). */
function meanValue(c: CompiledGbdt, share: Float64Array, node: number): number {
  if (c.left[node] < 0) return c.value[node];
  return share[node] * meanValue(c, share, c.left[node]) + (1 - share[node]) * meanValue(c, share, c.right[node]);
}

export function createTreeExplainer(c: CompiledGbdt): TreeExplainer {
  const share = leftShares(c);
  const nTrees = c.roots.length - 1;
  let baseValue = c.baseScore;
  for (let t = 0; t < nTrees; t++) baseValue += meanValue(c, share, c.roots[t]);
  const D = c.maxDepth + 2;
  const size = ((D + 1) * (D + 2)) / 2 + D + 2;
  const pFeature = new Int32Array(size);
  const pZero = new Float64Array(size);
  const pOne = new Float64Array(size);
  const pWeight = new Float64Array(size);
  let x = new Float64Array(0);
  let phi = new Float64Array(0);

  /** EXTEND: adds a feature with its zero/one fractions to the path at `at` of length `depth`. */
  const extend = (at: number, depth: number, zero: number, one: number, feature: number): void => {
    pFeature[at + depth] = feature;
    pZero[at + depth] = zero;
    pOne[at + depth] = one;
    pWeight[at + depth] = depth === 0 ? 1 : 0;
    for (let i = depth - 1; i >= 0; i--) {
      pWeight[at + i + 1] += (one * pWeight[at + i] * (i + 1)) / (depth + 1);
      pWeight[at + i] = (zero * pWeight[at + i] * (depth - i)) / (depth + 1);
    }
  };

  /** UNWIND: removes path element `index` from the path at `at` of length `depth`. */
  const unwind = (at: number, depth: number, index: number): void => {
    const one = pOne[at + index];
    const zero = pZero[at + index];
    let next = pWeight[at + depth];
    for (let i = depth - 1; i >= 0; i--) {
      if (one !== 0) {
        const tmp = pWeight[at + i];
        pWeight[at + i] = (next * (depth + 1)) / ((i + 1) * one);
        next = tmp - (pWeight[at + i] * zero * (depth - i)) / (depth + 1);
      } else pWeight[at + i] = (pWeight[at + i] * (depth + 1)) / (zero * (depth - i));
    }
    for (let i = index; i < depth; i++) {
      pFeature[at + i] = pFeature[at + i + 1];
      pZero[at + i] = pZero[at + i + 1];
      pOne[at + i] = pOne[at + i + 1];
    }
  };

  /** The total path weight if element `index` were unwound (without changing the path). */
  const unwoundSum = (at: number, depth: number, index: number): number => {
    const one = pOne[at + index];
    const zero = pZero[at + index];
    let next = pWeight[at + depth];
    let total = 0;
    for (let i = depth - 1; i >= 0; i--) {
      if (one !== 0) {
        const tmp = (next * (depth + 1)) / ((i + 1) * one);
        total += tmp;
        next = pWeight[at + i] - (tmp * zero * (depth - i)) / (depth + 1);
      } else if (zero !== 0) total += pWeight[at + i] / zero / ((depth - i) / (depth + 1));
    }
    return total;
  };

  const recurse = (node: number, depth: number, parentAt: number, zero: number, one: number, feature: number): void => {
    const at = parentAt + depth + 1;
    pFeature.copyWithin(at, parentAt, parentAt + depth + 1);
    pZero.copyWithin(at, parentAt, parentAt + depth + 1);
    pOne.copyWithin(at, parentAt, parentAt + depth + 1);
    pWeight.copyWithin(at, parentAt, parentAt + depth + 1);
    extend(at, depth, zero, one, feature);
    if (c.left[node] < 0) {
      const v = c.value[node];
      for (let i = 1; i <= depth; i++) phi[pFeature[at + i]] += unwoundSum(at, depth, i) * (pOne[at + i] - pZero[at + i]) * v;
      return;
    }
    const hot = nextNode(c, node, x);
    const hotLeft = hot === c.left[node];
    const cold = hotLeft ? c.right[node] : c.left[node];
    const hotShare = hotLeft ? share[node] : 1 - share[node];
    const split = c.feature[node];
    let inZero = 1;
    let inOne = 1;
    let d = depth;
    let k = 1;
    while (k <= d && pFeature[at + k] !== split) k++;
    if (k <= d) {
      inZero = pZero[at + k];
      inOne = pOne[at + k];
      unwind(at, d, k);
      d -= 1;
    }
    recurse(hot, d + 1, at, hotShare * inZero, inOne, split);
    recurse(cold, d + 1, at, (1 - hotShare) * inZero, 0, split);
  };

  return {
    baseValue,
    explain(row, out) {
      x = row;
      phi = out;
      out.fill(0);
      for (let t = 0; t < nTrees; t++) {
        pFeature[0] = -1;
        recurse(c.roots[t], 0, 0, 1, 1, -1);
      }
      return marginOfEncoded(c, row);
    },
  };
}
