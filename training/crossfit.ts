import { noProgress, type Progress } from '../core/progress.ts';
import { fitNetwork, type Matrix } from './models/fit.ts';
import { toFitOptions, type ModelParams } from './models/logistic.ts';
import { activationBuffers, compileNetwork, createRng, forward, shuffleInPlace, type NetworkWeights } from './models/network.ts';

export interface CrossFitInput {
  /** table row indices to fit on (train + carved validation rows) */
  rows: number[];
  label: number[];
  matrix: (rows: number[]) => Matrix;
  params: ModelParams;
  /** optimiser steps per fit (the candidate's best step under early stopping) */
  steps: number;
  seed: number;
  positiveWeight: number;
  /** sign constraints per encoded input (logistic models) */
  signs?: Int8Array;
  folds: number;
  progress?: (label: string) => Progress;
  log?: (m: string) => void;
}

/** Assigns each row a fold, stratified by label and seeded. */
export function stratifiedFolds(rows: number[], label: number[], folds: number, seed: number): Int32Array {
  const rng = createRng(seed);
  const fold = new Int32Array(rows.length);
  for (const cls of [0, 1]) {
    const pos = rows.flatMap((r, k) => (label[r] === cls ? [k] : []));
    shuffleInPlace(pos, rng);
    pos.forEach((k, i) => (fold[k] = i % folds));
  }
  return fold;
}

function logits(weights: NetworkWeights, m: Matrix): Float64Array {
  const net = compileNetwork(weights);
  const bufs = activationBuffers(net);
  return Float64Array.from({ length: m.n }, (_, i) => forward(net, m.x, bufs, i * m.d));
}

/**
 * Out-of-fold log-odds: K models, each trained on K-1 folds for a fixed number of optimiser steps, score the
 * fold they did not see, so every row gets an honest held-out prediction. Model choice and Platt
 * scaling on these are far less noisy than on one validation slice.
 */
export async function crossFit(input: CrossFitInput): Promise<Float64Array> {
  const { rows, folds } = input;
  const fold = stratifiedFolds(rows, input.label, folds, input.seed ^ 0x2c1b3c6d);
  const oofLogits = new Float64Array(rows.length);
  const opts = { ...toFitOptions(input.params, input.seed, input.positiveWeight, input.signs), fixedSteps: input.steps };
  const bar = input.progress?.(`cross-fit ${input.params.hidden.length ? 'mlp' : 'logistic'}`) ?? noProgress;
  bar.start(folds);
  try {
    for (let f = 0; f < folds; f++) {
      const inFold = rows.filter((_, k) => fold[k] === f);
      const outFold = rows.filter((_, k) => fold[k] !== f);
      const held = input.matrix(inFold);
      const fit = await fitNetwork(input.matrix(outFold), held, opts);
      const z = logits(fit.weights, held);
      let i = 0;
      rows.forEach((_, k) => {
        if (fold[k] === f) oofLogits[k] = z[i++];
      });
      bar.update(f + 1);
    }
  } finally {
    bar.stop();
  }
  return oofLogits;
}

/** The final model: the chosen settings trained on every row for the fixed number of optimiser steps. */
export async function refit(input: Omit<CrossFitInput, 'folds'>): Promise<NetworkWeights> {
  const all = input.matrix(input.rows);
  const opts = { ...toFitOptions(input.params, input.seed, input.positiveWeight, input.signs), fixedSteps: input.steps };
  const fit = await fitNetwork(all, all, { ...opts, progress: input.progress?.('refit') ?? noProgress });
  return fit.weights;
}
