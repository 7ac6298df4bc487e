import { ChurnError } from '../../../core/errors.ts';
import type { BinnedMatrix } from './binning.ts';
import type { TrainingBins } from './hist-pool.ts';

/** Monotone constraints: by feature name, or one entry per feature in order (+1, -1 or 0). */
export type MonotoneSpec = Record<string, number> | ArrayLike<number>;

export interface FitRows {
  /** rows of the matrix to train on */
  trainRows: ArrayLike<number>;
  /** rows for early stopping (validation log-loss); none: every round is kept */
  validRows?: ArrayLike<number>;
  /** one non-negative weight per row of the matrix (default 1) */
  weights?: ArrayLike<number>;
  monotone?: MonotoneSpec;
  /**
   * where missing values go at every split on a numeric feature (same forms as `monotone`): -1 with
   * its lowest values, +1 with its highest, 0 (default) the side that fits best
   */
  missingSide?: MonotoneSpec;
}

/** The training and validation rows copied out of the shared matrix, with labels and weights. */
export interface FitInputs {
  train: TrainingBins;
  yTrain: Float64Array;
  wTrain: Float64Array;
  valid: { n: number; packed: Uint32Array; y: Float64Array; w: Float64Array } | null;
  monotone: Int8Array;
  /** -1, +1 or 0 per feature (FitRows.missingSide) */
  missingSide: Int8Array;
}

const invalid = (message: string): never => {
  throw new ChurnError('CHURN_ERR_VALIDATION', message);
};

function checkRows(rows: ArrayLike<number>, n: number, what: string): Uint32Array {
  const out = new Uint32Array(rows.length);
  for (let k = 0; k < rows.length; k++) {
    const r = rows[k];
    if (!Number.isInteger(r) || r < 0 || r >= n) invalid(`${what} row ${r} is not a row of the ${n}-row matrix`);
    out[k] = r;
  }
  return out;
}

/**
 * Copies the bins of `rows` out of the column-major matrix into the packed training layout: features
 * in groups of four, one 32-bit word per row and group (feature 4g + k in bits 8k..8k+7), so the
 * histogram kernel reads four bins with one load.
 */
export function packBins(data: BinnedMatrix, rows: Uint32Array): Uint32Array {
  const m = rows.length;
  const d = data.features.length;
  const groups = (d + 3) >> 2;
  const out = new Uint32Array(Math.max(1, m * groups));
  for (let f = 0; f < d; f++) {
    const src = data.bins.subarray(f * data.n, (f + 1) * data.n);
    const dst = (f >> 2) * m;
    const shift = (f & 3) << 3;
    for (let k = 0; k < m; k++) out[dst + k] |= src[rows[k]] << shift;
  }
  return out;
}

function labelsAndWeights(rows: Uint32Array, labels: ArrayLike<number>, weights: ArrayLike<number> | undefined): { y: Float64Array; w: Float64Array } {
  const y = new Float64Array(rows.length);
  const w = new Float64Array(rows.length).fill(1);
  for (let k = 0; k < rows.length; k++) {
    const v = labels[rows[k]];
    if (v !== 0 && v !== 1) invalid(`label of row ${rows[k]} is ${v}; labels must be 0 or 1`);
    y[k] = v;
    if (weights) {
      const wk = weights[rows[k]];
      if (!(Number.isFinite(wk) && wk >= 0)) invalid(`weight of row ${rows[k]} is ${wk}; weights must be finite and non-negative`);
      w[k] = wk;
    }
  }
  return { y, w };
}

/**
 * Resolves a per-feature setting of -1, 0 or +1 (monotone constraints, missing sides) to one entry per
 * feature; a categorical feature cannot have one. `what` names the setting in errors.
 */
function resolveFeatureSigns(data: BinnedMatrix, spec: MonotoneSpec | undefined, what: string): Int8Array {
  const d = data.features.length;
  const out = new Int8Array(d);
  if (!spec) return out;
  const byIndex = typeof (spec as ArrayLike<number>).length === 'number';
  if (byIndex && (spec as ArrayLike<number>).length !== d) invalid(`${what}s: ${(spec as ArrayLike<number>).length} entries for ${d} features`);
  const names = data.features.map((f) => f.name);
  if (!byIndex) for (const k of Object.keys(spec)) if (!names.includes(k)) invalid(`${what} on unknown feature "${k}"`);
  data.features.forEach((f, j) => {
    const v = byIndex ? (spec as ArrayLike<number>)[j] : ((spec as Record<string, number>)[f.name] ?? 0);
    if (v !== -1 && v !== 0 && v !== 1) invalid(`${what} of ${f.name} is ${v}; use +1, -1 or 0`);
    if (v !== 0 && f.kind === 'categorical') invalid(`categorical feature ${f.name} cannot have a ${what}`);
    out[j] = v;
  });
  return out;
}

/** Validates labels, weights, rows and constraints and copies the rows' bins out of the matrix. */
export function prepareFit(data: BinnedMatrix, labels: ArrayLike<number>, opts: FitRows): FitInputs {
  if (labels.length !== data.n) invalid(`${labels.length} labels for a ${data.n}-row matrix`);
  if (opts.weights && opts.weights.length !== data.n) invalid(`${opts.weights.length} weights for a ${data.n}-row matrix`);
  const trainRows = checkRows(opts.trainRows, data.n, 'training');
  if (trainRows.length === 0) throw new ChurnError('CHURN_ERR_NOT_ENOUGH_DATA', 'GBDT training needs at least one training row');
  // padded to whole groups of four features (a padding feature has one bin, always 0)
  const nBins = new Int32Array(4 * ((data.features.length + 3) >> 2)).fill(1);
  data.features.forEach((f, j) => { nBins[j] = f.nBins; });
  const offsets = new Int32Array(nBins.length);
  for (let f = 1; f < nBins.length; f++) offsets[f] = offsets[f - 1] + nBins[f - 1];
  const train: TrainingBins = {
    n: trainRows.length, d: data.features.length, packed: packBins(data, trainRows), nBins, offsets,
    isCategorical: Uint8Array.from(data.features, (f) => (f.kind === 'categorical' ? 1 : 0)),
    totalBins: nBins.reduce((a, b) => a + b, 0),
  };
  const { y: yTrain, w: wTrain } = labelsAndWeights(trainRows, labels, opts.weights);
  if (!(wTrain.reduce((a, b) => a + b, 0) > 0)) invalid('the training rows have no weight');
  let valid: FitInputs['valid'] = null;
  if (opts.validRows && opts.validRows.length > 0) {
    const rows = checkRows(opts.validRows, data.n, 'validation');
    valid = { n: rows.length, packed: packBins(data, rows), ...labelsAndWeights(rows, labels, opts.weights) };
  }
  return { train, yTrain, wTrain, valid, monotone: resolveFeatureSigns(data, opts.monotone, 'monotone constraint'), missingSide: resolveFeatureSigns(data, opts.missingSide, 'missing side') };
}
