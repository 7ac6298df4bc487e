/**
 * Gradient/hessian histograms over the packed bin matrix (see TrainingBins). Layout: for feature f
 * and bin b the gradient sum is at hist[2 * (offsets[f] + b)] and the hessian sum right after it.
 *
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

/** One pass over rows[start..end) adding each row's gradient pair into the four histograms of one packed word. */
export function accumulate4(
  col: Uint32Array, b0: number, b1: number, b2: number, b3: number, rows: Uint32Array, start: number, end: number, ordered: Float64Array, hist: Float64Array,
): void {
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
}

/** The same over two packed words (eight features) per row: one read of the gradient pair serves eight bins. */
export function accumulate8(
  c0: Uint32Array, c1: Uint32Array, b: Int32Array, rows: Uint32Array, start: number, end: number, ordered: Float64Array, hist: Float64Array,
): void {
  const b0 = b[0], b1 = b[1], b2 = b[2], b3 = b[3], b4 = b[4], b5 = b[5], b6 = b[6], b7 = b[7];
  for (let i = start; i < end; i++) {
    const r = rows[i];
    const w = c0[r];
    const v = c1[r];
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
    a = b4 + ((v & 255) << 1);
    hist[a] += gv; hist[a + 1] += hv;
    a = b5 + (((v >>> 8) & 255) << 1);
    hist[a] += gv; hist[a + 1] += hv;
    a = b6 + (((v >>> 16) & 255) << 1);
    hist[a] += gv; hist[a + 1] += hv;
    a = b7 + ((v >>> 24) << 1);
    hist[a] += gv; hist[a + 1] += hv;
  }
}

/** One feature (byte k of each word) over rows[start..end). */
export function accumulate1(col: Uint32Array, base: number, shift: number, rows: Uint32Array, start: number, end: number, ordered: Float64Array, hist: Float64Array): void {
  for (let i = start; i < end; i++) {
    const a = base + (((col[rows[i]] >>> shift) & 255) << 1);
    hist[a] += ordered[i << 1];
    hist[a + 1] += ordered[(i << 1) + 1];
  }
}

/**
 * Adds rows[start..end) into `hist` (at histBase) for the feature groups groups[from..to) (each
 * wanted feature's bins zeroed first). `packed` holds four bins per word, `n` rows per group;
 * `ordered` the rows' gradient pairs by position. A group with two or more wanted features is done
 * whole (offsets and nBins are padded to whole groups; an unwanted feature's histogram is filled but
 * never read), two such groups per pass when they follow each other; `bases` is 8 ints of scratch.
 * Measured on 64,000 rows x 40 features of random bins: 6.3 ns an update one feature at a time,
 * 1.9 four at a time, 1.5 eight at a time.
 */
export function accumulateHistogram(
  packed: Uint32Array, n: number, groups: Int32Array, masks: Int32Array, from: number, to: number, offsets: Int32Array, nBins: Int32Array,
  rows: Uint32Array, start: number, end: number, ordered: Float64Array, hist: Float64Array, histBase: number, bases: Int32Array,
): void {
  let gi = from;
  while (gi < to) {
    const whole = (masks[gi] & (masks[gi] - 1)) !== 0;
    const pair = whole && gi + 1 < to && (masks[gi + 1] & (masks[gi + 1] - 1)) !== 0;
    const width = whole ? (pair ? 8 : 4) : 1;
    const g = groups[gi];
    for (let k = 0; k < width; k++) {
      const f = width === 1 ? 4 * g + 31 - Math.clz32(masks[gi]) : k < 4 ? 4 * g + k : 4 * groups[gi + 1] + k - 4;
      bases[k] = histBase + 2 * offsets[f];
      hist.fill(0, bases[k], bases[k] + 2 * nBins[f]);
    }
    const col = packed.subarray(g * n, g * n + n);
    if (width === 1) accumulate1(col, bases[0], (31 - Math.clz32(masks[gi])) << 3, rows, start, end, ordered, hist);
    else if (width === 4) accumulate4(col, bases[0], bases[1], bases[2], bases[3], rows, start, end, ordered, hist);
    else accumulate8(col, packed.subarray(groups[gi + 1] * n, groups[gi + 1] * n + n), bases, rows, start, end, ordered, hist);
    gi += pair ? 2 : 1;
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
