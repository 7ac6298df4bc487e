/**
 * Gradient/hessian histograms over the packed bin matrix (see TrainingBins). Layout: for feature f and bin b the gradient
 * sum is at hist[2 * (offsets[f] + b)] and the hessian sum right after it.
 *
 * Each function here is self-contained (no imports, no closures): the worker threads run the same
 * source (see hist-threads.ts), so a histogram is the same bits whichever thread built it.
 */

/** Copies the gradient pairs of rows[start..end) into ordered[2 * start..2 * end), in row-position order. */
export function gatherGradients(rows: Uint32Array, start: number, end: number, gh: Float64Array, ordered: Float64Array): void {
  for (let i = start; i < end; i++) {
    const r = rows[i] << 1;
    ordered[i << 1] = gh[r];
    ordered[(i << 1) + 1] = gh[r + 1];
  }
}

/** The groups of four features (see TrainingBins.packed) holding feats[0..nFeats), with a 4-bit mask of the wanted ones each. */
export function featureGroups(feats: Int32Array, nFeats: number, groups: Int32Array, masks: Int32Array): number {
  let n = 0;
  for (let i = 0; i < nFeats; i++) {
    const g = feats[i] >> 2;
    if (n === 0 || groups[n - 1] !== g) { groups[n] = g; masks[n] = 0; n++; }
    masks[n - 1] |= 1 << (feats[i] & 3);
  }
  return n;
}

/**
 * Adds rows[start..end) into `hist` (at histBase) for the feature groups groups[from..to) (each
 * wanted feature's bins zeroed first). `packed` holds four bins per word, `n` rows per group;
 * `ordered` the rows' gradient pairs by position. A full group is read with one load per row.
 */
export function accumulateHistogram(
  packed: Uint32Array, n: number, groups: Int32Array, masks: Int32Array, from: number, to: number, offsets: Int32Array, nBins: Int32Array,
  rows: Uint32Array, start: number, end: number, ordered: Float64Array, hist: Float64Array, histBase: number,
): void {
  for (let gi = from; gi < to; gi++) {
    const g = groups[gi];
    const mask = masks[gi];
    const col = packed.subarray(g * n, g * n + n);
    // two or more wanted features: all four in one pass (offsets and nBins are padded to a multiple of
    // four features; an unwanted feature's histogram is filled but never read)
    const all = (mask & (mask - 1)) !== 0;
    for (let k = 0; k < 4; k++) {
      if (all || mask & (1 << k)) hist.fill(0, histBase + 2 * offsets[4 * g + k], histBase + 2 * (offsets[4 * g + k] + nBins[4 * g + k]));
    }
    if (all) {
      const b0 = histBase + 2 * offsets[4 * g];
      const b1 = histBase + 2 * offsets[4 * g + 1];
      const b2 = histBase + 2 * offsets[4 * g + 2];
      const b3 = histBase + 2 * offsets[4 * g + 3];
      for (let i = start; i < end; i++) {
        const w = col[rows[i]];
        const gv = ordered[i << 1];
        const hv = ordered[(i << 1) + 1];
        let a = b0 + ((w & 255) << 1);
        hist[a] += gv; hist[a + 1] += hv;
        a = b1 + (((w >>> 8) & 255) << 1);
        hist[a] += gv; hist[a + 1] += hv;
        a = b2 + (((w >>> 16) & 255) << 1);
        hist[a] += gv; hist[a + 1] += hv;
        a = b3 + ((w >>> 24) << 1);
        hist[a] += gv; hist[a + 1] += hv;
      }
      continue;
    }
    const k = 31 - Math.clz32(mask);
    const base = histBase + 2 * offsets[4 * g + k];
    const shift = k << 3;
    for (let i = start; i < end; i++) {
      const a = base + (((col[rows[i]] >>> shift) & 255) << 1);
      hist[a] += ordered[i << 1];
      hist[a + 1] += ordered[(i << 1) + 1];
    }
  }
}

/** parent -= child over the features feats[0..nFeats): the parent's histogram becomes the sibling's. */
export function subtractHistogram(
  hist: Float64Array, parentBase: number, childBase: number, feats: Int32Array, nFeats: number, offsets: Int32Array, nBins: Int32Array,
): void {
  for (let fi = 0; fi < nFeats; fi++) {
    const f = feats[fi];
    const p = parentBase + 2 * offsets[f];
    const c = childBase + 2 * offsets[f];
    const len = 2 * nBins[f];
    for (let k = 0; k < len; k++) hist[p + k] -= hist[c + k];
  }
}
