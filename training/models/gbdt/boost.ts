import { mulberry32 } from '../../../core/random.ts';
import { addTreeBinned, toModelTree, type BinTree } from './bin-tree.ts';
import type { BinnedMatrix } from './binning.ts';
import { prepareFit, type FitInputs, type FitRows } from './fit-inputs.ts';
import { TreeGrower } from './grow.ts';
import { createHistogramBuilder, HistPool } from './hist-pool.ts';
import { GBDT_FORMAT, type GbdtModel } from './model.ts';
import { resolveParams, type GbdtParams, type GbdtParamsInput } from './params.ts';
import { sampleFeatures, sampleRows } from './sampling.ts';
import { createSplitContext } from './split.ts';

export interface TrainGbdtOptions extends FitRows {
  params?: GbdtParamsInput;
  log?: (msg: string) => void;
}

export interface GbdtFit {
  model: GbdtModel;
  /** rounds kept: the best validation round (1-based count), or every round without validation rows */
  bestIteration: number;
  roundsRun: number;
  /** validation log-loss per round (empty without validation rows) */
  validLoss: number[];
  bestValidLoss: number | null;
}

/** Weighted mean log-loss of labels y under margins m. */
export function logLoss(y: Float64Array, w: Float64Array, m: Float64Array): number {
  let s = 0;
  let ws = 0;
  for (let i = 0; i < y.length; i++) {
    const z = m[i];
    s += w[i] * ((z > 0 ? z : 0) - z * y[i] + Math.log1p(Math.exp(-Math.abs(z))));
    ws += w[i];
  }
  return ws > 0 ? s / ws : 0;
}

/** The weighted prior log-odds, clipped away from +-infinity. */
function priorMargin(y: Float64Array, w: Float64Array): number {
  let pos = 0;
  let tot = 0;
  for (let i = 0; i < y.length; i++) { pos += w[i] * y[i]; tot += w[i]; }
  const p = Math.min(1 - 1e-7, Math.max(1e-7, pos / tot));
  return Math.log(p / (1 - p));
}

/** Log-loss gradient and hessian (weighted) of rows[0..k) into gh[2 * row], gh[2 * row + 1]. */
function gradients(rows: Uint32Array, k: number, y: Float64Array, w: Float64Array, margin: Float64Array, gh: Float64Array): void {
  for (let i = 0; i < k; i++) {
    const r = rows[i];
    const p = 1 / (1 + Math.exp(-margin[r]));
    gh[2 * r] = w[r] * (p - y[r]);
    gh[2 * r + 1] = w[r] * Math.max(p * (1 - p), 1e-16);
  }
}

/** Adds the new tree to the training margins (sampled rows by leaf segment, the rest by their bins) and the validation margins. */
function applyTree(t: BinTree, inp: FitInputs, rows: Uint32Array, rest: Uint32Array, nRest: number, margin: Float64Array, validMargin: Float64Array | null): void {
  for (let node = 0; node < t.nNodes; node++) {
    if (t.left[node] >= 0) continue;
    const v = t.value[node];
    for (let i = t.start[node]; i < t.end[node]; i++) margin[rows[i]] += v;
  }
  addTreeBinned(t, inp.train.packed, inp.train.n, rest, nRest, margin);
  if (inp.valid && validMargin) addTreeBinned(t, inp.valid.packed, inp.valid.n, null, inp.valid.n, validMargin);
}

function toModel(data: BinnedMatrix, inp: FitInputs, params: GbdtParams, base: number, trees: BinTree[], best: number): GbdtModel {
  return {
    format: GBDT_FORMAT, objective: 'binary:logistic', baseScore: base,
    features: data.features.map((f) => (f.kind === 'numeric' ? { name: f.name, kind: 'numeric' as const } : { name: f.name, kind: 'categorical' as const, categories: [...f.categories] })),
    monotone: Array.from(inp.monotone, (v) => v as -1 | 0 | 1),
    trees: trees.slice(0, best).map((t) => toModelTree(t, data.features)),
    inputPrecision: 'float64', source: 'churnlens', params: { ...params }, bestIteration: best,
  };
}

/**
 * Trains a gradient-boosted tree model for binary log-loss on rows of a binned matrix. Deterministic
 * for a seed. With validation rows, training stops after
 * `earlyStoppingRounds` rounds without a better validation log-loss and keeps the best round's trees.
 */
export function trainGbdt(data: BinnedMatrix, labels: ArrayLike<number>, options: TrainGbdtOptions): GbdtFit {
  const params = resolveParams(options.params);
  const inp = prepareFit(data, labels, options);
  const { train } = inp;
  const ctx = createSplitContext(params, train.nBins, train.isCategorical, inp.monotone, inp.missingSide);
  const pool = new HistPool(2 * train.totalBins, 2 ** Math.min(params.maxDepth, 6));
  const grower = new TreeGrower(train, params, ctx, createHistogramBuilder(train), pool);
  const rng = mulberry32(params.seed);
  const base = priorMargin(inp.yTrain, inp.wTrain);
  const margin = new Float64Array(train.n).fill(base);
  const validMargin = inp.valid ? new Float64Array(inp.valid.n).fill(base) : null;
  const gh = new Float64Array(2 * train.n);
  const rows = new Uint32Array(train.n);
  const rest = new Uint32Array(train.n);
  const perm = new Int32Array(train.d);
  const feats = new Int32Array(train.d);
  const trees: BinTree[] = [];
  const validLoss: number[] = [];
  let best = { round: 0, loss: Infinity };
  for (let round = 1; round <= params.maxRounds; round++) {
    const k = sampleRows(train.n, params.subsample, rng, rows, rest);
    const nFeats = sampleFeatures(train.d, params.colsample, rng, perm, feats);
    gradients(rows, k, inp.yTrain, inp.wTrain, margin, gh);
    const tree = grower.grow(rows, k, gh, feats, nFeats);
    trees.push(tree);
    applyTree(tree, inp, rows, rest, train.n - k, margin, validMargin);
    if (!inp.valid || !validMargin) continue;
    const loss = logLoss(inp.valid.y, inp.valid.w, validMargin);
    validLoss.push(loss);
    if (loss < best.loss) best = { round, loss };
    else if (round - best.round >= params.earlyStoppingRounds) break;
  }
  const kept = inp.valid ? best.round : trees.length;
  options.log?.(`gbdt: ${trees.length} rounds, kept ${kept}${inp.valid ? `, validation log-loss ${best.loss.toFixed(5)}` : ''}`);
  return { model: toModel(data, inp, params, base, trees, kept), bestIteration: kept, roundsRun: trees.length, validLoss, bestValidLoss: inp.valid ? best.loss : null };
}
