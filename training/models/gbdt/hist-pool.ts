import { accumulateHistogram, gatherGradients } from './histogram.ts';

/**
 * Histogram slots in one Float64Array (slot k at k * slotSize), grown on demand, optionally backed by
 * a SharedArrayBuffer so worker threads can fill slots. Callers read `hist` after `alloc`: growing
 * replaces it.
 */
export class HistPool {
  hist: Float64Array;
  private capacity: number;
  private readonly free: number[] = [];
  private used = 0;
  /** called after the storage was replaced (a threaded builder re-shares it) */
  onGrow: (() => void) | null = null;

  constructor(readonly slotSize: number, initialSlots: number, private readonly shared = false) {
    this.capacity = Math.max(1, initialSlots);
    this.hist = this.allocate(this.capacity);
  }

  private allocate(slots: number): Float64Array {
    const bytes = slots * this.slotSize * 8;
    return new Float64Array(this.shared ? new SharedArrayBuffer(bytes) : new ArrayBuffer(bytes));
  }

  alloc(): number {
    const slot = this.free.pop();
    if (slot !== undefined) return slot;
    if (this.used === this.capacity) {
      const bigger = this.allocate(this.capacity * 2);
      bigger.set(this.hist);
      this.hist = bigger;
      this.capacity *= 2;
      this.onGrow?.();
    }
    return this.used++;
  }

  release(slot: number): void {
    if (slot >= 0) this.free.push(slot);
  }

  /** forget every slot (between trees) */
  reset(): void {
    this.free.length = 0;
    this.used = 0;
  }
}

/** What the tree grower needs to know about the training rows and their bins. */
export interface TrainingBins {
  /** training rows (the packed matrix holds only them) */
  n: number;
  d: number;
  /** bins packed four features to a word: feature f of row r is (packed[(f >> 2) * n + r] >>> 8 * (f & 3)) & 255 */
  packed: Uint32Array;
  /** bins and histogram offsets per feature, padded with one-bin features to a multiple of four */
  nBins: Int32Array;
  offsets: Int32Array;
  isCategorical: Uint8Array;
  /** sum of nBins: the doubles of one histogram are 2 * totalBins */
  totalBins: number;
}

/**
 * Builds a batch of node histograms. jobs holds (start, end, slot) triples: the node's rows are
 * rows[start..end), its histogram goes to `slot` of the pool. `ordered` receives the rows' gradient
 * pairs by position first (gathered once per node, read once per feature).
 */
export interface HistogramBuilder {
  build(jobs: Int32Array, nJobs: number, rows: Uint32Array, gh: Float64Array, groups: Int32Array, masks: Int32Array, nGroups: number, pool: HistPool): void;
  /** the buffer `ordered` (2 doubles per training row) */
  readonly ordered: Float64Array;
  close(): Promise<void>;
}

/** The plain single-thread builder. */
export function createSerialBuilder(data: TrainingBins): HistogramBuilder {
  const ordered = new Float64Array(2 * data.n);
  const bases = new Int32Array(8);
  return {
    ordered,
    build(jobs, nJobs, rows, gh, groups, masks, nGroups, pool) {
      for (let j = 0; j < nJobs; j++) {
        const start = jobs[3 * j];
        const end = jobs[3 * j + 1];
        gatherGradients(rows, start, end, gh, ordered);
        accumulateHistogram(data.packed, data.n, groups, masks, 0, nGroups, data.offsets, data.nBins, rows, start, end, ordered, pool.hist, jobs[3 * j + 2] * pool.slotSize, bases);
      }
    },
    close: async () => undefined,
  };
}
