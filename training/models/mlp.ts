import { batchSizeFor, type ModelParams } from './logistic.ts';

/** A multilayer perceptron: two ReLU hidden layers with L2 on every kernel, early stopping. */
export function mlpParams(nTrain: number, overrides: Partial<ModelParams> = {}): ModelParams {
  return { hidden: [32, 16], l2: 1e-3, learningRate: 0.003, batchSize: batchSizeFor(nTrain), maxEpochs: 150, patience: 10, ...overrides };
}
