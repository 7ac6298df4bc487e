import type { FeatureBins } from './binning.ts';
import type { GbdtTree } from './model.ts';

/** A tree grown on bins: node arrays of exactly `nNodes` entries (leaves: left = right = -1). */
export interface BinTree {
  nNodes: number;
  left: Int32Array;
  right: Int32Array;
  feature: Int32Array;
  /** numeric nodes: bins 1..bin go left */
  bin: Int32Array;
  defaultLeft: Uint8Array;
  /** categorical nodes: catLeft[bin] = 1 for the bins sent left */
  catLeft: (Uint8Array | null)[];
  /** leaf values (learning rate applied); internal nodes hold the value they would have as leaves */
  value: Float64Array;
  cover: Float64Array;
  /** rows[start..end) are the (sampled) training rows that reached each node */
  start: Int32Array;
  end: Int32Array;
}


/** The leaf a row reaches, reading its bins from a packed matrix (see TrainingBins) with `n` rows. */
export function binnedLeaf(t: BinTree, packed: Uint32Array, n: number, row: number): number {
  let node = 0;
  while (t.left[node] >= 0) {
    const f = t.feature[node];
    const b = (packed[(f >> 2) * n + row] >>> ((f & 3) << 3)) & 255;
    const cat = t.catLeft[node];
    const goLeft = b === 0 ? t.defaultLeft[node] === 1 : cat ? cat[b] === 1 : b <= t.bin[node];
    node = goLeft ? t.left[node] : t.right[node];
  }
  return node;
}

/** The model form of a grown tree: raw thresholds (x < cuts[bin - 1] goes left) and category indices. */
export function toModelTree(t: BinTree, features: FeatureBins[]): GbdtTree {
  const n = t.nNodes;
  const tree: GbdtTree = {
    left: Array.from(t.left), right: Array.from(t.right), feature: Array.from(t.feature),
    threshold: new Array<number>(n).fill(0), defaultLeft: Array.from(t.defaultLeft, (v) => v === 1),
    categories: Array.from({ length: n }, () => []), value: Array.from(t.value), cover: Array.from(t.cover),
  };
  for (let i = 0; i < n; i++) {
    if (t.left[i] < 0) continue;
    const f = features[t.feature[i]];
    const cat = t.catLeft[i];
    if (f.kind === 'numeric') tree.threshold[i] = f.cuts[t.bin[i] - 1];
    else if (cat) for (let b = 1; b < cat.length; b++) if (cat[b]) tree.categories[i].push(b - 1);
  }
  return tree;
}
