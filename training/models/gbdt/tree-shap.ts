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

/**
 * The explainer is one factory whose small helpers (EXTEND, UNWIND, the leaf sums, RECURSE) are
 * closures over the path buffers: measured 2.7 ms a row for 300 depth-6 trees, against 3.8 ms for the
 * same code as a class with the buffers in fields.
 */
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
  let x: Float64Array<ArrayBufferLike> = new Float64Array(0);
  let phi: Float64Array<ArrayBufferLike> = new Float64Array(0);

  // ratio tables by path length d and position i < d (flattened, stride R): the EXTEND / UNWIND factors
  const R = D + 2;
  const up = new Float64Array(R * R);
  const invUp = new Float64Array(R * R);
  const down = new Float64Array(R * R);
  const invDown = new Float64Array(R * R);
  for (let d = 0; d < R; d++) {
    for (let i = 0; i < d; i++) {
      up[d * R + i] = (i + 1) / (d + 1);
      invUp[d * R + i] = (d + 1) / (i + 1);
      down[d * R + i] = (d - i) / (d + 1);
      invDown[d * R + i] = (d + 1) / (d - i);
    }
  }

  // In the path-dependent algorithm every one-fraction is 0 or 1 (the row follows a branch or not),
  // which the formulas below use: a division by `one` is a no-op.

  /** EXTEND: adds a feature with its zero/one fractions to the path at `at` of length `depth`. */
  const extend = (at: number, depth: number, zero: number, one: number, feature: number): void => {
    pFeature[at + depth] = feature;
    pZero[at + depth] = zero;
    pOne[at + depth] = one;
    pWeight[at + depth] = depth === 0 ? 1 : 0;
    const row = depth * R;
    for (let i = depth - 1; i >= 0; i--) {
      pWeight[at + i + 1] += one * pWeight[at + i] * up[row + i];
      pWeight[at + i] = zero * pWeight[at + i] * down[row + i];
    }
  };

  /** UNWIND: removes path element `index` from the path at `at` of length `depth`. */
  const unwind = (at: number, depth: number, index: number): void => {
    const one = pOne[at + index];
    const zero = pZero[at + index];
    const row = depth * R;
    let next = pWeight[at + depth];
    for (let i = depth - 1; i >= 0; i--) {
      if (one !== 0) {
        const tmp = pWeight[at + i];
        pWeight[at + i] = next * invUp[row + i];
        next = tmp - pWeight[at + i] * zero * down[row + i];
      } else pWeight[at + i] = (pWeight[at + i] * invDown[row + i]) / zero;
    }
    for (let i = index; i < depth; i++) {
      pFeature[at + i] = pFeature[at + i + 1];
      pZero[at + i] = pZero[at + i + 1];
      pOne[at + i] = pOne[at + i + 1];
    }
  };

  /**
   * At a leaf: each path feature's contribution is (one - zero) * value times the path weight with that
   * feature unwound. For one = 1 that weight needs the recurrence; for one = 0 it is the same sum
   * divided by the feature's zero fraction, computed once per leaf.
   */
  const leaf = (at: number, depth: number, v: number): void => {
    const row = depth * R;
    let coldSum = -1;
    for (let k = 1; k <= depth; k++) {
      const one = pOne[at + k];
      const zero = pZero[at + k];
      let total = 0;
      if (one !== 0) {
        let next = pWeight[at + depth];
        for (let i = depth - 1; i >= 0; i--) {
          const tmp = next * invUp[row + i];
          total += tmp;
          next = pWeight[at + i] - tmp * zero * down[row + i];
        }
      } else {
        if (zero === 0) continue;
        if (coldSum < 0) {
          coldSum = 0;
          for (let i = depth - 1; i >= 0; i--) coldSum += pWeight[at + i] * invDown[row + i];
        }
        total = coldSum / zero;
      }
      phi[pFeature[at + k]] += total * (one - zero) * v;
    }
  };

  const recurse = (node: number, depth: number, parentAt: number, zero: number, one: number, feature: number): void => {
    const at = parentAt + depth + 1;
    // copy the parent's path (a plain loop: paths are short, a builtin call per array costs more)
    for (let i = 0; i <= depth; i++) {
      pFeature[at + i] = pFeature[parentAt + i];
      pZero[at + i] = pZero[parentAt + i];
      pOne[at + i] = pOne[parentAt + i];
      pWeight[at + i] = pWeight[parentAt + i];
    }
    extend(at, depth, zero, one, feature);
    if (c.left[node] < 0) {
      leaf(at, depth, c.value[node]);
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
