/**
 * Per-tree row and feature sampling from one seeded stream (core/random.ts mulberry32), so a seed
 * fixes every tree.
 */

/**
 * Draws each of the n training rows with probability `share` into rows (ascending) and the others into
 * `rest`; returns how many were drawn (at least one). share = 1 takes every row without drawing.
 */
export function sampleRows(n: number, share: number, rng: () => number, rows: Uint32Array, rest: Uint32Array): number {
  if (share >= 1) {
    for (let i = 0; i < n; i++) rows[i] = i;
    return n;
  }
  let k = 0;
  let o = 0;
  for (let i = 0; i < n; i++) {
    if (rng() < share) rows[k++] = i;
    else rest[o++] = i;
  }
  if (k === 0 && n > 0) {
    // nothing drawn: take the first row (tiny data only) so the tree still has rows
    rows[k++] = rest[0];
    rest.copyWithin(0, 1, o--);
  }
  return k;
}

/**
 * Draws max(1, round(share * d)) of the d features without replacement into feats (ascending) and
 * returns how many; share = 1 takes all.
 */
export function sampleFeatures(d: number, share: number, rng: () => number, perm: Int32Array, feats: Int32Array): number {
  const k = share >= 1 ? d : Math.max(1, Math.min(d, Math.round(share * d)));
  for (let i = 0; i < d; i++) perm[i] = i;
  if (k < d) {
    for (let i = 0; i < k; i++) {
      const j = i + Math.floor(rng() * (d - i));
      const t = perm[i];
      perm[i] = perm[j];
      perm[j] = t;
    }
  }
  feats.set(perm.subarray(0, k));
  feats.subarray(0, k).sort();
  return k;
}
