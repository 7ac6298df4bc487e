import * as tf from '@tensorflow/tfjs';
import { noProgress, type Progress } from '../../core/progress.ts';
import { createRng, shuffleInPlace, type NetworkWeights } from './network.ts';

export interface Matrix {
  /** row-major encoded inputs */
  x: Float32Array;
  /** labels, 1 = churned */
  y: Float32Array;
  n: number;
  d: number;
}

export interface NetworkFitOptions {
  /** hidden layer sizes; [] is a logistic regression */
  hidden: number[];
  /** L2 penalty on kernels, per training row (added to the mean loss) */
  l2: number;
  learningRate: number;
  batchSize: number;
  /** cap on passes over the training rows (maxEpochs x steps per pass is the cap on optimiser steps) */
  maxEpochs: number;
  /**
   * optimiser steps that always run before early stopping may end training (capped by maxEpochs):
   * a small data set has few steps per pass, so a patience counted in passes stopped it after a
   * handful of steps from its starting weights
   */
  minSteps: number;
  /** optimiser steps without a validation-loss improvement before stopping */
  patienceSteps: number;
  /** validation loss every this many steps (default: about one validation pass per pass over as many training rows, at most once per pass) */
  evalEvery?: number;
  seed: number;
  /** weight of churned rows in the loss (1 = unweighted; n_neg/n_pos = balanced) */
  positiveWeight: number;
  /** run exactly this many optimiser steps and return the last weights (a refit with a known step count) */
  fixedSteps?: number;
  /**
   * per encoded input, the sign its weight must keep (+1, -1, 0 free): enforced by projection after
   * every step, for a network without hidden layers (a logistic model) only
   */
  signs?: Int8Array;
  progress?: Progress;
}

export interface FitHistory {
  /** optimiser steps so far */
  step: number;
  /** passes over the training rows so far (fractional between passes) */
  epoch: number;
  /** mean training loss over the steps since the previous entry */
  trainLoss: number;
  validLoss: number;
}

export interface NetworkFit {
  weights: NetworkWeights;
  /** the optimiser step whose weights were kept (the last one for fixedSteps) */
  bestStep: number;
  stepsRun: number;
  stepsPerEpoch: number;
  /** bestStep and stepsRun in passes over the training rows, rounded up */
  bestEpoch: number;
  epochsRun: number;
  bestValidLoss: number;
  history: FitHistory[];
}

/** Optimiser steps in one pass over `n` rows. */
export function stepsPerEpoch(n: number, batchSize: number): number {
  return Math.max(1, Math.ceil(n / Math.max(1, batchSize)));
}

/** Glorot-uniform kernels from a seeded PRNG, zero biases; the output bias starts at the weighted prior log-odds. */
function initialWeights(d: number, hidden: number[], seed: number, priorLogit: number): NetworkWeights {
  const rng = createRng(seed);
  const sizes = [d, ...hidden, 1];
  const layers = sizes.slice(1).map((nOut, l) => {
    const nIn = sizes[l];
    const limit = hidden.length === 0 ? 0 : Math.sqrt(6 / (nIn + nOut));
    const kernel = Array.from({ length: nIn }, () => Array.from({ length: nOut }, () => (rng() * 2 - 1) * limit));
    const bias = new Array<number>(nOut).fill(l === sizes.length - 2 ? priorLogit : 0);
    return { kernel, bias };
  });
  return { layers };
}

function logitsOf(vars: tf.Variable[], x: tf.Tensor2D): tf.Tensor1D {
  let h: tf.Tensor2D = x;
  const L = vars.length / 2;
  for (let l = 0; l < L; l++) {
    const z = tf.add(tf.matMul(h, vars[2 * l] as tf.Tensor2D), vars[2 * l + 1]) as tf.Tensor2D;
    h = l < L - 1 ? tf.relu(z) : z;
  }
  return tf.reshape(h, [-1]) as tf.Tensor1D;
}

function weightedLoss(logits: tf.Tensor1D, y: tf.Tensor1D, positiveWeight: number): tf.Scalar {
  const w = tf.add(tf.mul(y, positiveWeight - 1), 1);
  return tf.losses.sigmoidCrossEntropy(y, logits, w, undefined, tf.Reduction.MEAN) as tf.Scalar;
}

/** Reads the variables back as plain nested arrays. */
function snapshot(vars: tf.Variable[]): NetworkWeights {
  const layers = [];
  for (let l = 0; l < vars.length / 2; l++) {
    const k = vars[2 * l];
    const [nIn, nOut] = k.shape;
    const kd = k.dataSync();
    const kernel = Array.from({ length: nIn }, (_, i) => Array.from(kd.subarray(i * nOut, (i + 1) * nOut)));
    layers.push({ kernel, bias: Array.from(vars[2 * l + 1].dataSync()) });
  }
  return { layers };
}

/** Projects a [d, 1] kernel onto the signs: w for free inputs, s * max(0, s * w) for constrained ones. */
function signProjection(signs: Int8Array | undefined, d: number): { apply(w: tf.Variable): tf.Tensor; dispose(): void } | null {
  if (!signs || !signs.some((x) => x !== 0)) return null;
  if (signs.length !== d) throw new Error(`sign constraints for ${signs.length} inputs, the network has ${d}`);
  const s = tf.tensor2d(Float32Array.from(signs), [d, 1]);
  const free = tf.equal(s, 0);
  return {
    apply: (w) => tf.where(free, w, tf.mul(s, tf.relu(tf.mul(s, w)))),
    dispose: () => tf.dispose([s, free]),
  };
}

/**
 * Trains the network with Adam on mini-batches (seeded shuffling), L2 on kernels and early stopping on
 * the validation loss, all counted in optimiser steps: the validation loss is computed every `evalEvery`
 * steps, training runs at least `minSteps` steps and stops once `patienceSteps` steps passed without an
 * improvement (or at maxEpochs passes); returns the best weights. Every tensor is disposed.
 */
export async function fitNetwork(train: Matrix, valid: Matrix, opts: NetworkFitOptions): Promise<NetworkFit> {
  const progress = opts.progress ?? noProgress;
  let pos = 0;
  for (let i = 0; i < train.n; i++) pos += train.y[i];
  const p = Math.min(1 - 1e-6, Math.max(1e-6, (pos * opts.positiveWeight) / (pos * opts.positiveWeight + train.n - pos)));
  const init = initialWeights(train.d, opts.hidden, opts.seed, Math.log(p / (1 - p)));
  const batchSize = Math.max(1, Math.min(opts.batchSize, train.n));
  const perEpoch = stepsPerEpoch(train.n, batchSize);
  const fixed = opts.fixedSteps !== undefined;
  const maxSteps = fixed ? Math.max(1, Math.round(opts.fixedSteps!)) : Math.max(1, opts.maxEpochs * perEpoch);
  const minSteps = Math.min(maxSteps, Math.max(0, opts.minSteps));
  // a validation pass costs about as much as a step over as many rows: evaluate often enough to stop near
  // the best step, rarely enough that evaluation stays a fraction of the training time
  const evalEvery = fixed ? maxSteps : Math.max(1, Math.min(perEpoch, opts.evalEvery ?? Math.ceil(valid.n / batchSize)));
  // tf.variable copies its initial value: the temporary tensors are released by tidy, the variables kept
  const vars = tf.tidy(() => init.layers.flatMap((l) => [tf.variable(tf.tensor2d(l.kernel, [l.kernel.length, l.bias.length])), tf.variable(tf.tensor1d(l.bias))]));
  const xTrain = tf.tensor2d(train.x, [train.n, train.d]);
  const yTrain = tf.tensor1d(train.y);
  const xValid = tf.tensor2d(valid.x, [valid.n, valid.d]);
  const yValid = tf.tensor1d(valid.y);
  const optimizer = tf.train.adam(opts.learningRate);
  const project = signProjection(opts.hidden.length === 0 ? opts.signs : undefined, train.d);
  const rng = createRng(opts.seed ^ 0x5bd1e995);
  const order = Int32Array.from({ length: train.n }, (_, i) => i);
  const fullBatch = batchSize >= train.n;
  const history: FitHistory[] = [];
  let best = { loss: Infinity, step: 0, weights: init };
  let lossSum: tf.Scalar = tf.scalar(0);
  let lossSteps = 0;
  let step = 0;
  progress.start(maxSteps);
  try {
    while (step < maxSteps) {
      const offset = (step % perEpoch) * batchSize;
      if (offset === 0 && !fullBatch) shuffleInPlace(order, rng);
      const idx = order.subarray(offset, Math.min(train.n, offset + batchSize));
      const next = tf.tidy((): tf.Scalar => {
        // one batch of all rows needs no gather: the order of rows does not change the full-batch gradient
        const ix = fullBatch ? null : tf.tensor1d(idx, 'int32');
        const xb = ix ? (tf.gather(xTrain, ix) as tf.Tensor2D) : xTrain;
        const yb = ix ? (tf.gather(yTrain, ix) as tf.Tensor1D) : yTrain;
        const c = optimizer.minimize(() => {
          const data = weightedLoss(logitsOf(vars, xb), yb, opts.positiveWeight);
          let penalty: tf.Scalar = tf.scalar(0);
          for (let l = 0; l < vars.length; l += 2) penalty = tf.add(penalty, tf.sum(tf.square(vars[l]))) as tf.Scalar;
          return tf.add(data, tf.mul(penalty, opts.l2)) as tf.Scalar;
        }, true, vars);
        if (project) (vars[0] as tf.Variable<tf.Rank>).assign(project.apply(vars[0]));
        return tf.add(lossSum, c ?? tf.scalar(0)) as tf.Scalar;
      });
      lossSum.dispose();
      lossSum = next;
      lossSteps++;
      step++;
      if (step % evalEvery !== 0 && step !== maxSteps) continue;
      const trainLoss = (await lossSum.data())[0] / Math.max(1, lossSteps);
      lossSum.dispose();
      lossSum = tf.scalar(0);
      lossSteps = 0;
      const validLoss = tf.tidy(() => weightedLoss(logitsOf(vars, xValid), yValid, opts.positiveWeight).dataSync()[0]);
      history.push({ step, epoch: step / perEpoch, trainLoss, validLoss });
      progress.update(step);
      if (fixed) {
        if (step === maxSteps) best = { loss: validLoss, step, weights: snapshot(vars) };
      } else if (validLoss < best.loss - 1e-5) best = { loss: validLoss, step, weights: snapshot(vars) };
      else if (step >= minSteps && step - best.step >= opts.patienceSteps) break;
    }
  } finally {
    progress.stop();
    lossSum.dispose();
    optimizer.dispose();
    project?.dispose();
    tf.dispose([...vars, xTrain, yTrain, xValid, yValid]);
  }
  return {
    weights: best.weights, bestStep: best.step, stepsRun: step, stepsPerEpoch: perEpoch,
    bestEpoch: Math.ceil(best.step / perEpoch), epochsRun: Math.ceil(step / perEpoch), bestValidLoss: best.loss, history,
  };
}

/** The network's log-odds for many encoded rows, computed by TensorFlow.js (used to check the plain-JS scorer). */
export function logitsWithTf(weights: NetworkWeights, x: Float32Array, n: number, d: number): Float32Array {
  return tf.tidy(() => {
    let h: tf.Tensor2D = tf.tensor2d(x, [n, d]);
    weights.layers.forEach((l, i) => {
      const z = tf.add(tf.matMul(h, tf.tensor2d(l.kernel, [l.kernel.length, l.bias.length])), tf.tensor1d(l.bias)) as tf.Tensor2D;
      h = i < weights.layers.length - 1 ? tf.relu(z) : z;
    });
    return h.dataSync() as Float32Array;
  });
}
