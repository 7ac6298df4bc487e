/**
 * Best split of one node from its gradient/hessian histogram (XGBoost's exact gain on binned data).
 * Histogram layout: for feature f, bin b, hist[2 * (offsets[f] + b)] is the gradient sum and the next
 * entry the hessian sum; bin 0 holds missing values. Numeric features send bins 1..b left; categorical
 * features send a set of category bins left (LightGBM: categories ordered by gradient / hessian, the
 * best prefix from either end), their last bin (rare and unseen categories) always right. Missing
 * values try both sides and the better one becomes the default direction, unless the feature's missing
 * side is set: then they go with its lowest bins (-1) or its highest (+1) at every split.
 */
export interface SplitSettings {
  lambda: number;
  minChildWeight: number;
  catSmooth: number;
  maxCatThreshold: number;
  maxCatToOnehot: number;
}

export interface SplitContext extends SplitSettings {
  nBins: Int32Array;
  offsets: Int32Array;
  isCategorical: Uint8Array;
  /** +1, -1 or 0 per feature */
  monotone: Int8Array;
  /** per feature: -1 missing values go with the lowest bins, +1 with the highest, 0 the better side */
  missingSide: Int8Array;
  /** scratch for the categorical scan */
  order: Int32Array;
  ratio: Float64Array;
}

/** A node's sums and the bounds monotone constraints put on its weight. */
export interface NodeStats {
  G: number;
  H: number;
  lower: number;
  upper: number;
}

/** The best split found so far; reused across nodes (call `reset` first). */
export class SplitRecord {
  gain = -Infinity;
  feature = -1;
  /** numeric: bins 1..bin go left */
  bin = 0;
  defaultLeft = false;
  /** categorical: catLeft[bin] = 1 for the bins sent left */
  readonly catLeft = new Uint8Array(256);
  GL = 0;
  HL = 0;

  reset(): this {
    this.gain = -Infinity;
    this.feature = -1;
    return this;
  }

  copyFrom(o: SplitRecord): this {
    this.gain = o.gain; this.feature = o.feature; this.bin = o.bin; this.defaultLeft = o.defaultLeft;
    this.catLeft.set(o.catLeft); this.GL = o.GL; this.HL = o.HL;
    return this;
  }
}

export function createSplitContext(settings: SplitSettings, nBins: Int32Array, isCategorical: Uint8Array, monotone: Int8Array, missingSide: Int8Array = new Int8Array(monotone.length)): SplitContext {
  const offsets = new Int32Array(nBins.length);
  for (let f = 1; f < nBins.length; f++) offsets[f] = offsets[f - 1] + nBins[f - 1];
  return { ...settings, nBins, offsets, isCategorical, monotone, missingSide, order: new Int32Array(256), ratio: new Float64Array(256) };
}

/** The leaf weight -G / (H + lambda), kept within the node's monotone bounds. */
export function leafWeight(G: number, H: number, lambda: number, lower: number, upper: number): number {
  const w = -G / (H + lambda);
  return w < lower ? lower : w > upper ? upper : w;
}

/** The loss reduction of weight w against weight 0: G^2 / (H + lambda) at the unbounded optimum. */
export function weightGain(G: number, H: number, w: number, lambda: number): number {
  return -(2 * G * w + (H + lambda) * w * w);
}

/** Gain of one candidate over its parent's `parentGain`, or -Infinity when it breaks a constraint. */
function candidateGain(GL: number, HL: number, GR: number, HR: number, node: NodeStats, mono: number, ctx: SplitContext, parentGain: number): number {
  const eps = 1e-10 * node.H;
  if (HL < ctx.minChildWeight || HR < ctx.minChildWeight || HL <= eps || HR <= eps) return -Infinity;
  const wl = leafWeight(GL, HL, ctx.lambda, node.lower, node.upper);
  const wr = leafWeight(GR, HR, ctx.lambda, node.lower, node.upper);
  if ((mono > 0 && wl > wr) || (mono < 0 && wl < wr)) return -Infinity;
  return weightGain(GL, HL, wl, ctx.lambda) + weightGain(GR, HR, wr, ctx.lambda) - parentGain;
}

function scanNumeric(hist: Float64Array, f: number, node: NodeStats, ctx: SplitContext, parentGain: number, best: SplitRecord): void {
  const base = 2 * ctx.offsets[f];
  const nb = ctx.nBins[f];
  const mono = ctx.monotone[f];
  const side = ctx.missingSide[f];
  const Gm = hist[base];
  const Hm = hist[base + 1];
  const hasMissing = Hm > 1e-10 * node.H; // not a rounding residue left by histogram subtraction
  let gl = 0;
  let hl = 0;
  for (let b = 1; b < nb - 1; b++) {
    const hb = hist[base + 2 * b + 1];
    // an empty bin repeats the previous candidate (ties keep the first)
    if (hb === 0) continue;
    gl += hist[base + 2 * b];
    hl += hb;
    // missing values right (or none here: then they go where they are set to go, else with the heavier side)
    if (side !== -1 || !hasMissing) {
      const right = candidateGain(gl, hl, node.G - gl, node.H - hl, node, mono, ctx, parentGain);
      if (right > best.gain) {
        best.gain = right; best.feature = f; best.bin = b; best.GL = gl; best.HL = hl;
        best.defaultLeft = side !== 0 ? side === -1 : hasMissing ? false : hl >= node.H - hl;
      }
    }
    if (!hasMissing || side === 1) continue;
    const left = candidateGain(gl + Gm, hl + Hm, node.G - gl - Gm, node.H - hl - Hm, node, mono, ctx, parentGain);
    if (left > best.gain) {
      best.gain = left; best.feature = f; best.bin = b; best.GL = gl + Gm; best.HL = hl + Hm; best.defaultLeft = true;
    }
  }
}

/** Sorts order[0..m) by ratio[] ascending, ties by bin (insertion sort: m is at most 254). */
function sortByRatio(order: Int32Array, ratio: Float64Array, m: number): void {
  for (let i = 1; i < m; i++) {
    const c = order[i];
    const r = ratio[c];
    let j = i - 1;
    while (j >= 0 && (ratio[order[j]] > r || (ratio[order[j]] === r && order[j] > c))) { order[j + 1] = order[j]; j--; }
    order[j + 1] = c;
  }
}

function scanCategorical(hist: Float64Array, f: number, node: NodeStats, ctx: SplitContext, parentGain: number, best: SplitRecord): void {
  const base = 2 * ctx.offsets[f];
  const nb = ctx.nBins[f];
  const { order, ratio } = ctx;
  let m = 0;
  for (let b = 1; b < nb - 1; b++) {
    if (hist[base + 2 * b + 1] > 0) {
      order[m++] = b;
      ratio[b] = hist[base + 2 * b] / (hist[base + 2 * b + 1] + ctx.catSmooth);
    }
  }
  if (m === 0) return;
  const Gm = hist[base];
  const Hm = hist[base + 1];
  const hasMissing = Hm > 1e-10 * node.H; // not a rounding residue left by histogram subtraction
  const onehot = m <= ctx.maxCatToOnehot;
  if (!onehot) sortByRatio(order, ratio, m);
  const maxK = onehot ? 1 : Math.min(ctx.maxCatThreshold, m);
  // local best: which scan (0 = one-hot, 1 = ascending prefix, 2 = descending prefix), where, missing side
  let bestGain = best.gain;
  let bestScan = -1;
  let bestAt = 0;
  let bestMissingLeft = false;
  const scans = onehot ? 1 : 2;
  for (let s = 0; s < scans; s++) {
    let gl = 0;
    let hl = 0;
    const count = onehot ? m : maxK;
    for (let k = 0; k < count; k++) {
      const b = onehot ? order[k] : s === 0 ? order[k] : order[m - 1 - k];
      if (onehot) { gl = hist[base + 2 * b]; hl = hist[base + 2 * b + 1]; } else { gl += hist[base + 2 * b]; hl += hist[base + 2 * b + 1]; }
      const right = candidateGain(gl, hl, node.G - gl, node.H - hl, node, 0, ctx, parentGain);
      if (right > bestGain) { bestGain = right; bestScan = s + (onehot ? 0 : 1); bestAt = k; bestMissingLeft = false; }
      if (!hasMissing) continue;
      const left = candidateGain(gl + Gm, hl + Hm, node.G - gl - Gm, node.H - hl - Hm, node, 0, ctx, parentGain);
      if (left > bestGain) { bestGain = left; bestScan = s + (onehot ? 0 : 1); bestAt = k; bestMissingLeft = true; }
    }
  }
  if (bestScan < 0) return;
  best.catLeft.fill(0);
  let gl = 0;
  let hl = 0;
  const from = bestScan === 0 ? bestAt : 0;
  for (let k = from; k <= bestAt; k++) {
    const b = bestScan === 2 ? order[m - 1 - k] : order[k];
    best.catLeft[b] = 1;
    gl += hist[base + 2 * b];
    hl += hist[base + 2 * b + 1];
  }
  const noMissing = !hasMissing && hl >= node.H - hl;
  best.gain = bestGain; best.feature = f; best.bin = 0;
  best.defaultLeft = bestMissingLeft || noMissing;
  best.GL = bestMissingLeft ? gl + Gm : gl;
  best.HL = bestMissingLeft ? hl + Hm : hl;
}

/** Finds the best split of a node over the features feats[0..nFeats) into `best` (gain -Infinity if none). */
export function findBestSplit(hist: Float64Array, node: NodeStats, feats: Int32Array, nFeats: number, ctx: SplitContext, best: SplitRecord): SplitRecord {
  best.reset();
  const parentGain = weightGain(node.G, node.H, leafWeight(node.G, node.H, ctx.lambda, node.lower, node.upper), ctx.lambda);
  for (let i = 0; i < nFeats; i++) {
    const f = feats[i];
    if (ctx.isCategorical[f]) scanCategorical(hist, f, node, ctx, parentGain, best);
    else scanNumeric(hist, f, node, ctx, parentGain, best);
  }
  return best;
}
