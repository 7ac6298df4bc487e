/**
 * Training converges on small data: a planted linear signal on 10,000 training rows at 3% churn
 * (tests/fixtures/convergence, written by make.py with scikit-learn; CI never runs Python) must reach
 * the held-out test AUC of scikit-learn's logistic regression fitted on the same rows, within the
 * tolerance the fixture records (the larger of scikit-learn's own AUC spread across penalties
 * C = 0.1 .. 10 and 0.005, under a tenth of the test AUC's standard error). Before early stopping
 * counted optimiser steps, each pass over these rows was two steps and training stopped after 68 of
 * them at test AUC 0.8115 (scikit-learn: 0.8170).
 */
import fs from 'node:fs';
import path from 'node:path';
import * as tf from '@tensorflow/tfjs';
import { beforeAll, describe, expect, it } from 'vitest';
import { z } from 'zod';
import { selectBackend } from '../training/backend.ts';
import { tableFromCsv } from '../training/csv-table.ts';
import { fitNetwork, type Matrix } from '../training/models/fit.ts';
import { trainModel, type TrainResult } from '../training/train.ts';
import type { PreparedTable } from '../training/table.ts';

const DIR = path.join(import.meta.dirname, 'fixtures', 'convergence');
const Expected = z.object({
  rows: z.object({ train: z.number().int(), valid: z.number().int(), test: z.number().int() }),
  churned: z.object({ train: z.number().int(), valid: z.number().int(), test: z.number().int() }),
  test_auc: z.number().gt(0.5).lt(1),
  test_auc_se: z.number().positive(),
  tolerance: z.number().positive().max(0.02),
});
const expected = Expected.parse(JSON.parse(fs.readFileSync(path.join(DIR, 'expected.json'), 'utf8')));
const file = path.join(DIR, 'rows.csv');
const table: PreparedTable = tableFromCsv(fs.readFileSync(file, 'utf8'), file, { label: 'churned' });

/** The fixture's rows of one split as a matrix of the raw (already standard normal) features. */
function matrixOf(split: string): Matrix {
  const rows = table.split.flatMap((s, i) => (s === split ? [i] : []));
  const d = table.columns.length;
  const x = new Float32Array(rows.length * d);
  rows.forEach((i, r) => table.columns.forEach((c, k) => (x[r * d + k] = c.values[i] as number)));
  return { x, y: Float32Array.from(rows, (i) => table.label[i]), n: rows.length, d };
}

let logistic: TrainResult;

beforeAll(async () => {
  expect(await selectBackend(() => undefined, 'cpu')).toBe('cpu');
  logistic = await trainModel(table, { seed: 42, modelTypes: ['logistic'], backend: 'cpu', bootstrap: 0 });
});

describe('training converges on small data', () => {
  it('is the fixture make.py wrote: 10,000 train rows at about 3% churn', () => {
    const count = (s: string) => table.split.filter((x) => x === s).length;
    const churned = (s: string) => table.label.filter((l, i) => l === 1 && table.split[i] === s).length;
    expect({ train: count('train'), valid: count('valid'), test: count('test') }).toEqual(expected.rows);
    expect({ train: churned('train'), valid: churned('valid'), test: churned('test') }).toEqual(expected.churned);
    expect(expected.churned.train / expected.rows.train).toBeGreaterThan(0.02);
    expect(expected.churned.train / expected.rows.train).toBeLessThan(0.04);
    expect(expected.tolerance).toBeLessThan(expected.test_auc_se / 2);
  });

  it("reaches scikit-learn's held-out test AUC on the same rows, within the recorded tolerance", () => {
    expect(logistic.rows).toEqual({ train: expected.rows.train, valid: expected.rows.valid, test: expected.rows.test });
    expect(logistic.metrics.test!.n).toBe(expected.rows.test);
    expect(logistic.metrics.test!.auc).toBeGreaterThanOrEqual(expected.test_auc - expected.tolerance);
  });

  it('runs at least the minimum number of optimiser steps and counts patience in steps, not passes', () => {
    const c = logistic.candidates[0];
    const p = c.params as { minSteps: number; patienceSteps: number };
    expect(c.stepsRun).toBeGreaterThanOrEqual(p.minSteps);
    // it stopped because patience ran out after the best step (or at the cap), never after a pass or two
    expect(c.stepsRun - c.bestStep).toBeGreaterThanOrEqual(Math.min(p.patienceSteps, c.stepsRun - p.minSteps));
    expect(c.bestStep).toBeGreaterThan(10);
  });

  it('with two optimiser steps per pass, trains for minSteps steps and stops patienceSteps after the best one', async () => {
    const train = matrixOf('train');
    const valid = matrixOf('valid');
    const fit = await fitNetwork(train, valid, {
      hidden: [], l2: 1e-4, learningRate: 0.01, batchSize: Math.ceil(train.n / 2), maxEpochs: 1000, minSteps: 200, patienceSteps: 60, seed: 3, positiveWeight: 1,
    });
    expect(fit.stepsPerEpoch).toBe(2);
    expect(fit.stepsRun).toBeGreaterThanOrEqual(200);
    expect(fit.bestEpoch).toBe(Math.ceil(fit.bestStep / 2));
    expect(fit.stepsRun === 2000 || fit.stepsRun - fit.bestStep >= 60).toBe(true);
    // the history is kept per evaluation, in steps
    expect(fit.history[fit.history.length - 1].step).toBe(fit.stepsRun);
    expect(fit.history.every((h, k) => k === 0 || h.step > fit.history[k - 1].step)).toBe(true);
  });

  it('keeps the declared signs through every step and in a fixed-step refit, leaking no tensors', async () => {
    const train = matrixOf('train');
    const valid = matrixOf('valid');
    const before = tf.memory().numTensors;
    // x0 truly raises risk (+0.9), x1 truly lowers it (-0.6): declaring x1 as raising risk pins its weight at 0
    const signs = Int8Array.from([1, 1, 0, 0, 0, 0]);
    const base = { hidden: [], l2: 1e-4, learningRate: 0.05, batchSize: train.n, maxEpochs: 500, minSteps: 100, patienceSteps: 50, seed: 5, positiveWeight: 1, signs };
    for (const fit of [await fitNetwork(train, valid, base), await fitNetwork(train, valid, { ...base, fixedSteps: 150 })]) {
      const w = fit.weights.layers[0].kernel.map((r) => r[0]);
      expect(w[0]).toBeGreaterThan(0.3);
      expect(w[1]).toBe(0);
      expect(w[2]).toBeGreaterThan(0.1);
    }
    expect((await fitNetwork(train, valid, { ...base, fixedSteps: 150 })).stepsRun).toBe(150);
    expect(tf.memory().numTensors).toBe(before);
  });
});
