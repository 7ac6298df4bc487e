import { marginOfEncoded, nextNode, type CompiledGbdt } from './predict.ts';
import type { TreeExplainer } from './tree-shap.ts';

/**
 * Exact Shapley values of the margin between a row x and one reference row r (interventional
 * "baseline Shapley": the value of a coalition S is the margin of the row that takes S's features
 * from x and the others from r). They add up to margin(x) - margin(r), so the explanation reads
 * "how far each feature's own value moves the risk from the reference account's", and for a feature
 * the model is monotone in (its monotone constraint) a value above the reference's can only move the
 * risk the constraint's way: a known direction of risk is never reversed.
 *
 * Per tree, a leaf is reached by the hybrid row of coalition S exactly when S holds every feature X of
 * the nodes where the path follows x against r and none R of those where it follows r against x (at
 * nodes where x and r go the same way the feature does not matter). The Shapley value of such an
 * indicator is (|X|-1)! |R|! / (|X|+|R|)! for each feature of X and minus |X|! (|R|-1)! / (|X|+|R|)!
 * for each of R, times the leaf value; only the paths where x and r part are visited, so the cost per
 * tree is the number of leaves x and r can reach between them, not the tree's size. The same walk
 * sums the margin of x (the one leaf reached with nothing from the reference), so x's paths are not
 * walked twice.
 */
export function createReferenceExplainer(c: CompiledGbdt, reference: Float64Array): TreeExplainer {
  const nTrees = c.roots.length - 1;
  const nFeatures = c.featureNames.length;
  const D = c.maxDepth + 1;
  // w[a * (D + 1) + b] = a! b! / (a + b + 1)!, for a, b up to the depth
  const w = new Float64Array((D + 1) * (D + 1));
  const fact = (n: number): number => (n <= 1 ? 1 : n * fact(n - 1));
  for (let a = 0; a <= D; a++) for (let b = 0; b <= D; b++) w[a * (D + 1) + b] = (fact(a) * fact(b)) / fact(a + b + 1);
  const assigned = new Int8Array(nFeatures); // 0 free, 1 taken from x, 2 taken from the reference
  const onX = new Int32Array(D + 1);
  const onR = new Int32Array(D + 1);
  const baseValue = marginOfEncoded(c, reference);
  let x: Float64Array<ArrayBufferLike> = new Float64Array(0);
  let phi: Float64Array<ArrayBufferLike> = new Float64Array(0);
  let margin = 0;

  const leaf = (v: number, a: number, b: number) => {
    // no feature taken from the reference: the leaf x itself reaches
    if (b === 0) margin += v;
    if (a > 0) {
      const share = v * w[(a - 1) * (D + 1) + b];
      for (let i = 0; i < a; i++) phi[onX[i]] += share;
    }
    if (b > 0) {
      const share = v * w[a * (D + 1) + b - 1];
      for (let i = 0; i < b; i++) phi[onR[i]] -= share;
    }
  };

  const recurse = (node: number, a: number, b: number): void => {
    if (c.left[node] < 0) {
      leaf(c.value[node], a, b);
      return;
    }
    const j = c.feature[node];
    const viaX = nextNode(c, node, x);
    const viaR = nextNode(c, node, reference);
    const state = assigned[j];
    if (state === 1 || viaX === viaR) return recurse(state === 2 ? viaR : viaX, a, b);
    if (state === 2) return recurse(viaR, a, b);
    assigned[j] = 1;
    onX[a] = j;
    recurse(viaX, a + 1, b);
    assigned[j] = 2;
    onR[b] = j;
    recurse(viaR, a, b + 1);
    assigned[j] = 0;
  };

  return {
    baseValue,
    explain(row, out) {
      x = row;
      phi = out;
      out.fill(0);
      margin = c.baseScore;
      for (let t = 0; t < nTrees; t++) recurse(c.roots[t], 0, 0);
      return margin;
    },
  };
}
