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


/**
 * Adds the tree's leaf value to margin[row] for rows[0..count) (or rows 0..count-1 when `rows` is
 * null), reading their bins from a packed matrix (see TrainingBins) with `n` rows.
 */
export function addTreeBinned(t: BinTree, packed: Uint32Array, n: number, rows: Uint32Array | null, count: number, margin: Float64Array): void {
  const { left, right, feature, bin, defaultLeft, value } = t;
  // categorical nodes' bins sent left, flattened 256 to a node (only when the tree has such nodes)
  let catBits: Uint8Array | null = null;
  for (let i = 0; i < t.nNodes; i++) {
    const c = t.catLeft[i];
    if (!c) continue;
    catBits ??= new Uint8Array(256 * t.nNodes);
    catBits.set(c, 256 * i);
  }
  for (let k = 0; k < count; k++) {
    const row = rows ? rows[k] : k;
    let node = 0;
    while (left[node] >= 0) {
      const f = feature[node];
      const b = (packed[(f >> 2) * n + row] >>> ((f & 3) << 3)) & 255;
      const goLeft = b === 0 ? defaultLeft[node] === 1 : catBits !== null && t.catLeft[node] !== null ? catBits[256 * node + b] === 1 : b <= bin[node];
      node = goLeft ? left[node] : right[node];
    }
    margin[row] += value[node];
  }
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
