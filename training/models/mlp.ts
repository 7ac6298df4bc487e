import { batchSizeFor, type ModelParams } from './logistic.ts';

/**
 * A multilayer perceptron: two ReLU hidden layers with L2 on every kernel, early stopping counted in
 * optimiser steps (at least 400, then 400 without a validation improvement: about ten passes at the
 * usual 40 steps per pass, whatever the number of rows).
 */
export function mlpParams(nTrain: number, overrides: Partial<ModelParams> = {}): ModelParams {
  return { hidden: [32, 16], l2: 1e-3, learningRate: 0.003, batchSize: batchSizeFor(nTrain), maxEpochs: 150, minSteps: 400, patienceSteps: 400, ...overrides };
}
