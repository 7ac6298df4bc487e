import type { BinTree } from './bin-tree.ts';
import type { HistogramBuilder, HistPool, TrainingBins } from './hist-pool.ts';
import { featureGroups, subtractHistogram } from './histogram.ts';
import { findBestSplit, leafWeight, SplitRecord, type NodeStats, type SplitContext } from './split.ts';

export interface GrowSettings {
  growth: 'depthwise' | 'leafwise';
  maxDepth: number;
  maxLeaves: number;
  minSplitGain: number;
  learningRate: number;
  lambda: number;
}

/** Grows one tree at a time on the training bins; every buffer is allocated once and reused. */
export class TreeGrower {
  private readonly cap: number;
  private readonly left: Int32Array;
  private readonly right: Int32Array;
  private readonly feature: Int32Array;
  private readonly bin: Int32Array;
  private readonly defaultLeft: Uint8Array;
  private readonly catLeft: (Uint8Array | null)[];
  private readonly G: Float64Array;
  private readonly H: Float64Array;
  private readonly lower: Float64Array;
  private readonly upper: Float64Array;
  private readonly start: Int32Array;
  private readonly end: Int32Array;
  private readonly depth: Int32Array;
  private readonly slot: Int32Array;
  private readonly pending: SplitRecord[] = [];
  private readonly rec = new SplitRecord();
  private readonly stats: NodeStats = { G: 0, H: 0, lower: -Infinity, upper: Infinity };
  private readonly scratch: Uint32Array;
  private readonly jobs: Int32Array;
  private readonly pairs: Int32Array;
  private nNodes = 0;
  private rows: Uint32Array<ArrayBufferLike> = new Uint32Array(0);
  private gh: Float64Array<ArrayBufferLike> = new Float64Array(0);
  private feats: Int32Array<ArrayBufferLike> = new Int32Array(0);
  private nFeats = 0;
  private readonly groups: Int32Array;
  private readonly masks: Int32Array;
  private nGroups = 0;

  constructor(private readonly data: TrainingBins, private readonly s: GrowSettings, private readonly ctx: SplitContext,
    private readonly builder: HistogramBuilder, private readonly pool: HistPool) {
    const byDepth = 2 ** (s.maxDepth + 1) - 1;
    this.cap = Math.max(1, Math.min(s.growth === 'leafwise' ? 2 * s.maxLeaves - 1 : byDepth, byDepth, 2 * data.n - 1));
    const c = this.cap;
    [this.left, this.right, this.feature, this.bin, this.start, this.end, this.depth, this.slot] = Array.from({ length: 8 }, () => new Int32Array(c));
    [this.G, this.H, this.lower, this.upper] = Array.from({ length: 4 }, () => new Float64Array(c));
    this.defaultLeft = new Uint8Array(c);
    this.catLeft = new Array<Uint8Array | null>(c).fill(null);
    this.scratch = new Uint32Array(data.n);
    this.jobs = new Int32Array(3 * c);
    this.pairs = new Int32Array(2 * c);
    this.groups = new Int32Array((data.d + 3) >> 2);
    this.masks = new Int32Array((data.d + 3) >> 2);
  }

  /** Grows a tree on rows[0..nRows) with gradient pairs gh (2 per training row) over feats[0..nFeats). */
  grow(rows: Uint32Array, nRows: number, gh: Float64Array, feats: Int32Array, nFeats: number): BinTree {
    this.rows = rows; this.gh = gh; this.feats = feats; this.nFeats = nFeats;
    this.nGroups = featureGroups(feats, nFeats, this.groups, this.masks);
    this.pool.reset();
    let G = 0;
    let H = 0;
    for (let i = 0; i < nRows; i++) { G += gh[2 * rows[i]]; H += gh[2 * rows[i] + 1]; }
    this.nNodes = 0;
    const root = this.newNode(0, nRows, G, H, -Infinity, Infinity, 0);
    if (this.s.maxDepth > 0 && nRows > 1) {
      this.slot[root] = this.pool.alloc();
      this.jobs[0] = 0; this.jobs[1] = nRows; this.jobs[2] = this.slot[root];
      this.builder.build(this.jobs, 1, rows, gh, this.groups, this.masks, this.nGroups, this.pool);
      if (this.s.growth === 'depthwise') this.growDepthwise();
      else this.growLeafwise();
    }
    return this.finish();
  }

  private newNode(start: number, end: number, G: number, H: number, lower: number, upper: number, depth: number): number {
    const i = this.nNodes++;
    this.start[i] = start; this.end[i] = end; this.G[i] = G; this.H[i] = H;
    this.lower[i] = lower; this.upper[i] = upper; this.depth[i] = depth;
    this.left[i] = -1; this.right[i] = -1; this.feature[i] = -1; this.bin[i] = 0; this.defaultLeft[i] = 0;
    this.catLeft[i] = null; this.slot[i] = -1;
    return i;
  }

  private bestSplit(node: number, into: SplitRecord): SplitRecord {
    const st = this.stats;
    st.G = this.G[node]; st.H = this.H[node]; st.lower = this.lower[node]; st.upper = this.upper[node];
    const view = this.pool.hist.subarray(this.slot[node] * this.pool.slotSize, (this.slot[node] + 1) * this.pool.slotSize);
    return findBestSplit(view, st, this.feats, this.nFeats, this.ctx, into);
  }

  /** Partitions the node's rows stably (left rows first, the rest after) and returns where the right rows start. */
  private partition(node: number, rec: SplitRecord): number {
    const f = rec.feature;
    const n = this.data.n;
    const col = this.data.packed.subarray((f >> 2) * n, ((f >> 2) + 1) * n);
    const shift = (f & 3) << 3;
    const rows = this.rows;
    const scratch = this.scratch;
    const end = this.end[node];
    const dl = rec.defaultLeft;
    let l = this.start[node];
    let r = 0;
    if (this.ctx.isCategorical[f]) {
      const cat = rec.catLeft;
      for (let i = l; i < end; i++) {
        const row = rows[i];
        const b = (col[row] >>> shift) & 255;
        if (b === 0 ? dl : cat[b] === 1) rows[l++] = row;
        else scratch[r++] = row;
      }
    } else {
      const bin = rec.bin;
      for (let i = l; i < end; i++) {
        const row = rows[i];
        const b = (col[row] >>> shift) & 255;
        if (b === 0 ? dl : b <= bin) rows[l++] = row;
        else scratch[r++] = row;
      }
    }
    rows.set(scratch.subarray(0, r), l);
    return l;
  }

  /** Splits a node: partitions its rows and creates both children (bounded for monotone features); returns the left child. */
  private applySplit(node: number, rec: SplitRecord): number {
    const l = this.partition(node, rec);
    const f = rec.feature;
    const dl = rec.defaultLeft;
    const cat = this.ctx.isCategorical[f] ? rec.catLeft : null;
    this.feature[node] = f; this.bin[node] = rec.bin; this.defaultLeft[node] = dl ? 1 : 0;
    if (cat) this.catLeft[node] = cat.slice(0, this.data.nBins[f]);
    const { lambda } = this.s;
    const lo = this.lower[node];
    const hi = this.upper[node];
    const GR = this.G[node] - rec.GL;
    const HR = this.H[node] - rec.HL;
    const mono = this.ctx.monotone[f];
    const mid = (leafWeight(rec.GL, rec.HL, lambda, lo, hi) + leafWeight(GR, HR, lambda, lo, hi)) / 2;
    const d = this.depth[node] + 1;
    const li = this.newNode(this.start[node], l, rec.GL, rec.HL, mono < 0 ? mid : lo, mono > 0 ? mid : hi, d);
    const ri = this.newNode(l, this.end[node], GR, HR, mono > 0 ? mid : lo, mono < 0 ? mid : hi, d);
    this.left[node] = li;
    this.right[node] = ri;
    return li;
  }

  /** Queues the smaller child's histogram build; the larger child takes over the parent's slot. */
  private queueChildren(node: number, nJobs: number, nPairs: number): void {
    const li = this.left[node];
    const ri = this.right[node];
    const small = this.end[li] - this.start[li] <= this.end[ri] - this.start[ri] ? li : ri;
    const large = small === li ? ri : li;
    this.slot[large] = this.slot[node];
    this.slot[node] = -1;
    this.slot[small] = this.pool.alloc();
    this.jobs[3 * nJobs] = this.start[small]; this.jobs[3 * nJobs + 1] = this.end[small]; this.jobs[3 * nJobs + 2] = this.slot[small];
    this.pairs[2 * nPairs] = large; this.pairs[2 * nPairs + 1] = small;
  }

  /** Builds the queued histograms, then turns each parent histogram into its larger child's by subtraction. */
  private runJobs(nJobs: number): void {
    if (nJobs === 0) return;
    this.builder.build(this.jobs, nJobs, this.rows, this.gh, this.groups, this.masks, this.nGroups, this.pool);
    const { slotSize } = this.pool;
    for (let k = 0; k < nJobs; k++) {
      const large = this.pairs[2 * k];
      const small = this.pairs[2 * k + 1];
      subtractHistogram(this.pool.hist, this.slot[large] * slotSize, this.slot[small] * slotSize, this.feats, this.nFeats, this.ctx.offsets, this.ctx.nBins);
    }
  }

  private releaseSlot(node: number): void {
    this.pool.release(this.slot[node]);
    this.slot[node] = -1;
  }

  private growDepthwise(): void {
    let frontier = [0];
    for (let depth = 0; depth < this.s.maxDepth && frontier.length > 0; depth++) {
      const next: number[] = [];
      let nJobs = 0;
      for (const node of frontier) {
        const rec = this.bestSplit(node, this.rec);
        if (!(rec.gain > this.s.minSplitGain)) { this.releaseSlot(node); continue; }
        const li = this.applySplit(node, rec);
        if (depth + 1 < this.s.maxDepth) {
          this.queueChildren(node, nJobs, nJobs);
          nJobs++;
        } else this.releaseSlot(node);
        next.push(li, li + 1);
      }
      this.runJobs(nJobs);
      frontier = next;
    }
  }

  private growLeafwise(): void {
    const candidates = [0];
    this.pendingSplit(0);
    let leaves = 1;
    while (leaves < this.s.maxLeaves) {
      let pick = -1;
      for (let k = 0; k < candidates.length; k++) {
        if (this.pending[candidates[k]].gain > this.s.minSplitGain && (pick < 0 || this.pending[candidates[k]].gain > this.pending[candidates[pick]].gain)) pick = k;
      }
      if (pick < 0) break;
      const node = candidates[pick];
      candidates.splice(pick, 1);
      const li = this.applySplit(node, this.pending[node]);
      leaves++;
      if (this.depth[li] < this.s.maxDepth) {
        this.queueChildren(node, 0, 0);
        this.runJobs(1);
        this.pendingSplit(li);
        this.pendingSplit(li + 1);
        candidates.push(li, li + 1);
      } else this.releaseSlot(node);
    }
    for (const node of candidates) this.releaseSlot(node);
  }

  /** Finds and keeps a leaf's best split for the leaf-wise queue. */
  private pendingSplit(node: number): void {
    while (this.pending.length <= node) this.pending.push(new SplitRecord());
    this.bestSplit(node, this.pending[node]);
  }

  private finish(): BinTree {
    const n = this.nNodes;
    const { learningRate, lambda } = this.s;
    const value = new Float64Array(n);
    for (let i = 0; i < n; i++) value[i] = learningRate * leafWeight(this.G[i], this.H[i], lambda, this.lower[i], this.upper[i]);
    return {
      nNodes: n, left: this.left.slice(0, n), right: this.right.slice(0, n), feature: this.feature.slice(0, n), bin: this.bin.slice(0, n),
      defaultLeft: this.defaultLeft.slice(0, n), catLeft: this.catLeft.slice(0, n), value, cover: this.H.slice(0, n),
      start: this.start.slice(0, n), end: this.end.slice(0, n),
    };
  }
}
