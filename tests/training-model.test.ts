import * as tf from '@tensorflow/tfjs';
import { beforeAll, describe, expect, it } from 'vitest';
import { parseArtifact } from '../training/artifact.ts';
import { selectBackend } from '../training/backend.ts';
import { fitPlatt, flattened, sigmoid } from '../training/calibrate.ts';
import { ece, rocAuc } from '../training/evaluate.ts';
import { createExplainer, integratedGradientsNumeric } from '../training/explain.ts';
import { logitsWithTf } from '../training/models/fit.ts';
import { compileNetwork, activationBuffers, createRng, forward } from '../training/models/network.ts';
import { encodeColumns } from '../training/preprocess.ts';
import { createScorer } from '../training/scorer.ts';
import { syntheticTable } from '../training/synthetic.ts';
import { scoringModel } from '../scoring/model.ts';
import { checkRows } from '../scoring/validate.ts';
import { trainModel, type TrainOptions, type TrainResult } from '../training/train.ts';
import { describeLeak, singleFeatureAuc } from '../training/leaks.ts';
import type { PreparedTable } from '../training/table.ts';

const table = syntheticTable({ rows: 700, numeric: 6, text: 2, seed: 11 });
const quick = (seed: number, modelTypes: TrainOptions['modelTypes']): TrainOptions => ({
  seed, modelTypes, backend: 'cpu', epochs: 25, bootstrap: 20, calibrationFolds: 2, params: { logistic: { maxEpochs: 60 } },
});

function rowOf(t: PreparedTable, i: number): Record<string, number | string | null> {
  return Object.fromEntries(t.columns.map((c) => [c.name, c.values[i]]));
}

/** Rows as the scorer sees them, plus rows with blanks everywhere and categories never seen in training. */
function probeRows(t: PreparedTable): Record<string, number | string | null>[] {
  const rows = Array.from({ length: 150 }, (_, i) => rowOf(t, i * 4));
  rows.push(Object.fromEntries(t.columns.map((c) => [c.name, null])));
  rows.push(Object.fromEntries(t.columns.map((c) => [c.name, c.kind === 'text' ? 'never_seen_value' : 1e4])));
  rows.push({ ...rowOf(t, 3), plan_0: 'unseen', count_0: null, metric_1: '2.5' });
  return rows;
}

let logistic: TrainResult;
let mlp: TrainResult;

beforeAll(async () => {
  expect(await selectBackend(() => undefined, 'cpu')).toBe('cpu');
  logistic = await trainModel(table, quick(5, ['logistic']));
  mlp = await trainModel(table, quick(5, ['mlp']));
});

describe('training', () => {
  it('gives the same model and metrics for the same seed, and a different model for another seed', async () => {
    const again = await trainModel(table, quick(5, ['mlp']));
    expect(again.artifact.network!).toEqual(mlp.artifact.network!);
    expect(again.artifact.calibration).toEqual(mlp.artifact.calibration);
    expect(again.metrics).toEqual(mlp.metrics);
    const other = await trainModel(table, quick(6, ['mlp']));
    expect(other.artifact.network!).not.toEqual(mlp.artifact.network!);
  });

  it('learns the planted signal better than chance on held-out rows', () => {
    expect(logistic.metrics.test!.auc).toBeGreaterThan(0.7);
    expect(mlp.metrics.test!.auc).toBeGreaterThan(0.7);
    expect(mlp.artifact.model_type).toBe('mlp');
    expect(mlp.artifact.network!.layers.length).toBeGreaterThan(1);
    expect(logistic.artifact.network!.layers.length).toBe(1);
    expect(mlp.artifact.importance!.max_additivity_error).toBeLessThan(1e-3);
    expect(mlp.artifact.importance!.rows).toBeGreaterThan(100);
  });

  it('never lets the test rows into early stopping, the model choice or calibration', async () => {
    expect(table.split.filter((x) => x === 'test').length).toBeGreaterThan(50);
    // every test label flipped and every test value moved: nothing the model is fitted, stopped, chosen or calibrated on changes
    const isTest = (i: number) => table.split[i] === 'test';
    const scrambled: PreparedTable = {
      ...table,
      label: table.label.map((l, i) => (isTest(i) ? 1 - l : l)),
      columns: table.columns.map((c) => (c.kind === 'numeric' ? { ...c, values: c.values.map((v, i) => (isTest(i) && v !== null ? v * 3 + 1 : v)) } : c)),
    };
    const a = await trainModel(table, quick(7, ['logistic', 'mlp']));
    const b = await trainModel(scrambled, quick(7, ['logistic', 'mlp']));
    expect(b.chosen).toBe(a.chosen);
    expect(b.artifact.network).toEqual(a.artifact.network);
    expect(b.artifact.calibration).toEqual(a.artifact.calibration);
    expect(b.artifact.preprocessing).toEqual(a.artifact.preprocessing);
    expect(b.candidates.map((c) => [c.validAuc, c.bestStep, c.cvAuc])).toEqual(a.candidates.map((c) => [c.validAuc, c.bestStep, c.cvAuc]));
    expect(b.metrics.validation).toEqual(a.metrics.validation);
    // only the held-out figures move
    expect(b.metrics.test!.auc).not.toBe(a.metrics.test!.auc);
  });

  it('leaks no tensors while training and predicting', async () => {
    const before = tf.memory().numTensors;
    const r = await trainModel(table, { ...quick(9, ['logistic', 'mlp']), epochs: 5 });
    const enc = encodeColumns(r.artifact.preprocessing!, table.columns, [0, 1, 2]);
    logitsWithTf(r.artifact.network!, enc.x, enc.n, enc.d);
    expect(tf.memory().numTensors).toBe(before);
  });
});

describe('scoring and explanations', () => {
  for (const which of ['logistic', 'mlp'] as const) {
    it(`keeps base + sum(contributions) = logit(p) within 1e-3 for the ${which} model, blanks and unseen categories included`, () => {
      const r = which === 'logistic' ? logistic : mlp;
      const scorer = createScorer(r.artifact);
      let checked = 0;
      for (const row of probeRows(table)) {
        const s = scorer.score(row);
        const sum = s.contributions.reduce((a, b) => a + b, s.baseValue);
        expect(Math.abs(sum - s.logit)).toBeLessThan(1e-9);
        // p itself rounds to 0 or 1 in doubles beyond |logit| ~ 30, where log(p / (1 - p)) is no longer exact
        if (Math.abs(s.logit) < 25) expect(Math.abs(sum - Math.log(s.probability / (1 - s.probability)))).toBeLessThan(1e-3);
        checked += Math.abs(s.logit) < 25 ? 1 : 0;
        expect(s.contributions.length).toBe(scorer.featureNames.length);
      }
      expect(checked).toBeGreaterThan(150);
    });

    it(`computes the same log-odds in plain JS as TensorFlow.js for the ${which} model`, () => {
      const r = which === 'logistic' ? logistic : mlp;
      const rows = Array.from({ length: 120 }, (_, i) => i * 5);
      const enc = encodeColumns(r.artifact.preprocessing!, table.columns, rows);
      const tfLogits = logitsWithTf(r.artifact.network!, enc.x, enc.n, enc.d);
      const net = compileNetwork(r.artifact.network!);
      const bufs = activationBuffers(net);
      const scorer = createScorer(r.artifact);
      const { a, b } = r.artifact.calibration;
      rows.forEach((row, k) => {
        const js = forward(net, enc.x, bufs, k * enc.d);
        expect(Math.abs(js - tfLogits[k])).toBeLessThan(1e-5);
        expect(Math.abs(scorer.score(rowOf(table, row)).logit - (a * tfLogits[k] + b))).toBeLessThan(1e-4);
      });
    });
  }

  it('matches Integrated Gradients computed numerically with many steps (the exact path integral)', () => {
    const net = compileNetwork(mlp.artifact.network!);
    const reference = Float64Array.from(mlp.artifact.explanation_reference);
    const explainer = createExplainer(net, reference);
    const enc = encodeColumns(mlp.artifact.preprocessing!, table.columns, [1, 17, 99, 300]);
    const out = new Float64Array(enc.d);
    for (let k = 0; k < enc.n; k++) {
      const x = Float64Array.from(enc.x.subarray(k * enc.d, (k + 1) * enc.d));
      explainer.explain(x, out);
      const numeric = integratedGradientsNumeric(net, x, reference, 4000);
      for (let j = 0; j < enc.d; j++) expect(Math.abs(out[j] - numeric[j])).toBeLessThan(2e-3);
    }
    expect(explainer.maxResidual()).toBeLessThan(1e-9);
  });

  it('sums the contributions of a feature\'s one-hot and missing-indicator inputs into that feature', () => {
    const scorer = createScorer(logistic.artifact);
    const pre = logistic.artifact.preprocessing!;
    const row = rowOf(table, 10);
    const s = scorer.score(row);
    const net = logistic.artifact.network!.layers[0].kernel.map((w) => w[0]);
    const enc = encodeColumns(pre, table.columns, [10]);
    const j = scorer.featureNames.indexOf('plan_0');
    let expected = 0;
    pre.encodedToRaw.forEach((raw, k) => {
      if (raw === j) expected += net[k] * (enc.x[k] - logistic.artifact.explanation_reference[k]);
    });
    expect(s.contributions[j]).toBeCloseTo(logistic.artifact.calibration.a * expected, 5);
  });

  it('scores the same after a JSON round trip and refuses a corrupted artifact', () => {
    const copy = JSON.parse(JSON.stringify(mlp.artifact));
    const row = rowOf(table, 42);
    expect(createScorer(copy).score(row).probability).toBe(createScorer(mlp.artifact).score(row).probability);
    copy.explanation_reference.pop();
    expect(() => parseArtifact(copy)).toThrow(expect.objectContaining({ code: 'CHURN_ERR_ARTIFACT_CORRUPT' }));
    // a negative calibration slope would turn every contribution the other way round
    const turned = JSON.parse(JSON.stringify(mlp.artifact));
    turned.calibration.a = -0.5;
    expect(() => parseArtifact(turned)).toThrow(expect.objectContaining({ code: 'CHURN_ERR_ARTIFACT_CORRUPT', message: expect.stringContaining('a negative calibration slope would reverse every explanation') }));
  });
});

describe('calibration', () => {
  it('Platt scaling on the log-odds repairs a miscalibrated score', () => {
    const rng = createRng(3);
    const n = 4000;
    const z = Float64Array.from({ length: n }, () => (rng() - 0.5) * 6);
    const y = Float64Array.from(z, (v) => (rng() < sigmoid(v) ? 1 : 0));
    const bad = Float64Array.from(z, (v) => 3 * v + 1);
    const before = ece(y, Float64Array.from(bad, sigmoid));
    const c = fitPlatt(bad, y);
    const after = ece(y, Float64Array.from(bad, (v) => sigmoid(c.a * v + c.b)));
    expect(before).toBeGreaterThan(0.08);
    expect(after).toBeLessThan(0.03);
    expect(c.a).toBeCloseTo(1 / 3, 1);
    expect(flattened(c)).toBe(false);
  });

  it('never turns a score the other way round: logits that rank the rows backwards get slope 0 and the churn rate', () => {
    const rng = createRng(5);
    const z = Float64Array.from({ length: 3000 }, () => (rng() - 0.5) * 6);
    const y = Float64Array.from(z, (v) => (rng() < sigmoid(v) ? 1 : 0));
    const backwards = Float64Array.from(z, (v) => -v);
    const c = fitPlatt(backwards, y); // left free, the best slope would be about -1
    const rate = y.reduce((s, v) => s + v, 0) / y.length;
    expect(c.a).toBe(0);
    expect(flattened(c)).toBe(true);
    expect(sigmoid(c.b)).toBeCloseTo(rate, 9);
    // a weakly backwards score too: no slope below zero, whatever the strength
    const weak = Float64Array.from(z, (v, i) => -0.05 * v + (rng() - 0.5) * 4 + (i % 2));
    expect(fitPlatt(weak, y).a).toBeGreaterThanOrEqual(0);
    // and the ordinary case keeps its slope
    expect(fitPlatt(z, y).a).toBeCloseTo(1, 1);
  });
});

describe('a model that ranks the held-out rows backwards', () => {
  it('gives every row the held-out churn rate with no contributions, and says why', async () => {
    // churn rises with x on the train rows and falls with it on the later (validation and test) rows
    const rng = createRng(9);
    const n = 1500;
    const split = Array.from({ length: n }, (_, i): PreparedTable['split'][number] => (i % 5 === 0 ? 'valid' : i % 5 === 1 ? 'test' : 'train'));
    const x = Array.from({ length: n }, () => Math.round(rng() * 100) / 10);
    const label = x.map((v, i) => (rng() < sigmoid(split[i] === 'train' ? 1.2 * (v - 5) : -1.2 * (v - 5)) ? 1 : 0));
    const turned: PreparedTable = { ids: x.map((_, i) => `r${i}`), label, split, columns: [{ name: 'x', kind: 'numeric', values: x }], source: { kind: 'csv', path: 'turned.csv', sha256: '0' } };
    const lines: string[] = [];
    const r = await trainModel(turned, { ...quick(4, ['logistic']), log: (m) => lines.push(m) });
    expect(r.artifact.calibration.a).toBe(0);
    expect(lines.join('\n')).toMatch(/warning: logistic ranks the held-out rows the wrong way round .*every row gets the held-out churn rate, \d+\.\d%/);
    // and the version records it, as it records every training warning
    expect(r.params.warnings).toContainEqual(expect.stringMatching(/^logistic ranks the held-out rows the wrong way round/));
    const scorer = createScorer(r.artifact);
    const low = scorer.score({ x: 1 });
    const high = scorer.score({ x: 9 });
    expect(high.probability).toBe(low.probability);
    expect([...low.contributions, ...high.contributions].every((c) => c === 0)).toBe(true);
  });
});

describe('a table with its own validation rows', () => {
  // every fifth train row becomes a validation row, as `churn dataset build` marks the later as-of dates
  const own: PreparedTable = { ...table, split: table.split.map((s, i) => (s === 'train' && i % 5 === 0 ? 'valid' : s)) };
  const opts = { ...quick(3, ['gbdt']), gbdtSearch: [{ maxDepth: 2, learningRate: 0.1 }], gbdtAveraged: 1 } satisfies TrainOptions;

  it('chooses and calibrates on the validation rows, then refits the chosen settings on train and validation rows', async () => {
    const r = await trainModel(own, opts);
    const n = (s: string) => own.split.filter((x) => x === s).length;
    expect(r.params.calibration_folds).toBe(0);
    expect(r.params.final_fit_rows).toBe(n('train') + n('valid'));
    const [candidate] = r.candidates;
    expect(r.artifact.gbdt!.trees).toHaveLength(candidate.bestStep); // the rounds early stopping chose
    // the final model has learned the validation rows: its log-loss there is below the train-only fit's
    const scorer = createScorer(r.artifact);
    const valid = own.split.flatMap((s, i) => (s === 'valid' ? [i] : []));
    const loss = valid.reduce((acc, i) => {
      const z = scorer.score(rowOf(own, i)).logit;
      const raw = (z - r.calibration.b) / r.calibration.a; // back to the model's margin
      return acc + Math.log1p(Math.exp(-raw)) + (own.label[i] === 1 ? 0 : raw);
    }, 0) / valid.length;
    expect(loss).toBeLessThan(candidate.validLoss);
  });

  it('keeps the model fitted on the train rows with refit: false (the model the validation figures describe)', async () => {
    const r = await trainModel(own, { ...opts, refit: false });
    expect(r.params.final_fit_rows).toBe(own.split.filter((x) => x === 'train').length);
    const refitted = await trainModel(own, opts);
    expect(r.artifact.calibration).toEqual(refitted.artifact.calibration); // chosen and calibrated on the same held-out log-odds
    expect(r.artifact.gbdt!.trees).not.toEqual(refitted.artifact.gbdt!.trees);
    expect(r.metrics.validation).toEqual(refitted.metrics.validation);
  });

  it('keeps the train fit when there are no test rows, so the validation rows stay held out for the report', async () => {
    const noTest: PreparedTable = { ...own, split: own.split.map((x) => (x === 'test' ? 'train' : x)) };
    const r = await trainModel(noTest, opts);
    expect(r.metrics.test).toBeUndefined();
    expect(r.params.final_fit_rows).toBe(noTest.split.filter((x) => x === 'train').length);
    // the registered model scores the validation rows as the validation figures say
    const scorer = createScorer(r.artifact);
    const valid = noTest.split.flatMap((x, i) => (x === 'valid' ? [i] : []));
    const p = valid.map((i) => scorer.score(rowOf(noTest, i)).probability);
    expect(rocAuc(Float32Array.from(valid, (i) => noTest.label[i]), Float64Array.from(p))).toBeCloseTo(r.metrics.validation.auc, 9);
  });

  it('still never lets the test rows into any fit, choice or calibration', async () => {
    const isTest = (i: number) => own.split[i] === 'test';
    const scrambled: PreparedTable = { ...own, label: own.label.map((l, i) => (isTest(i) ? 1 - l : l)) };
    const [a, b] = [await trainModel(own, opts), await trainModel(scrambled, opts)];
    expect(b.artifact.gbdt).toEqual(a.artifact.gbdt);
    expect(b.artifact.calibration).toEqual(a.artifact.calibration);
    expect(b.metrics.test!.auc).not.toBe(a.metrics.test!.auc);
  });
});

describe('features training leaves out', () => {
  it('are named in the contract, and a row may carry them: they are accepted and not scored, while any other key is refused', async () => {
    const n = table.ids.length;
    const withConstant: PreparedTable = { ...table, columns: [...table.columns, { name: 'on_trial', kind: 'numeric', values: new Array(n).fill(0), family: 'commercial', unit: 'flag' }] };
    const r = await trainModel(withConstant, quick(8, ['logistic']));
    expect(r.excluded.constant).toEqual(['on_trial']);
    expect(r.artifact.input_contract!.left_out).toEqual(['on_trial']);
    const model = scoringModel(r.artifact, { version: 0 });
    expect(model.featureNames).not.toContain('on_trial');
    const row = rowOf(table, 7);
    const [plain] = checkRows(model, [row]);
    const [carried] = checkRows(model, [{ ...row, on_trial: 1 }]);
    expect(model.score(carried.row)).toEqual(model.score(plain.row));
    // the long way too (a value that needs converting)
    const numeric = table.columns.find((c) => c.kind === 'numeric' && typeof row[c.name] === 'number')!.name;
    expect(checkRows(model, [{ ...row, on_trial: 'yes', [numeric]: true }])).toHaveLength(1);
    // a misspelling of a left-out feature names it (the nearest key a row may carry, not only the inputs)
    expect(() => checkRows(model, [{ ...row, on_triall: 1 }])).toThrow(/on_triall: unknown feature: the model does not use it; did you mean "on_trial"\?/);
    expect(() => checkRows(model, [{ ...row, segmnt: 'smb' }])).toThrow(/segmnt: unknown feature: the model does not use it; did you mean "segment"\?/);
  });
});

describe('possible leaks', () => {
  it('warns about and records each feature whose values alone separate the training labels, either way round, numeric or text', async () => {
    const y = table.label;
    const leaky: PreparedTable = {
      ...table,
      columns: [
        ...table.columns,
        { name: 'leak', kind: 'numeric', values: y.map((l) => l) },
        { name: 'status_after', kind: 'text', values: y.map((l, i) => (i % 50 === 0 ? null : l ? 'cancelled' : 'active')) },
        { name: 'days_left', kind: 'numeric', values: y.map((l, i) => (l ? 0 : 30 + (i % 7))) },
      ],
    };
    const logged: string[] = [];
    const r = await trainModel(leaky, { ...quick(5, ['logistic']), log: (m) => logged.push(m) });
    expect(r.leaks.map((l) => l.feature)).toEqual(['leak', 'status_after', 'days_left']);
    expect(r.leaks[0].auc).toBe(1);
    expect(r.leaks[1].auc).toBeGreaterThan(0.95);
    expect(r.leaks[2].auc).toBe(0);
    expect(r.warnings[0]).toBe('leak? `leak` alone ranks the label with AUC 1.000 on the training rows: a column that is known only after the outcome makes a model that cannot work on new accounts');
    expect(r.warnings[2]).toBe(describeLeak({ feature: 'days_left', auc: 0 }));
    expect(r.warnings[2]).toContain('AUC 0.000 (the other way round)');
    expect(logged.filter((m) => m.startsWith('warning: leak?'))).toEqual(r.warnings.map((w) => `warning: ${w}`));
    expect(r.params.warnings).toEqual(r.warnings);
    // the planted signal of the plain table is strong but no single feature separates the labels
    expect(logistic.warnings).toEqual([]);
    expect(logistic.params.warnings).toBeUndefined();
  });

  it('warns, and records, that held-out figures rest on fewer than 10 churners', async () => {
    // the same table with all but 3 of the test rows' churners relabelled as retained
    let kept = 0;
    const label = table.label.map((l, i) => (table.split[i] === 'test' && l === 1 ? (kept++ < 3 ? 1 : 0) : l));
    expect(kept).toBeGreaterThan(3);
    const logged: string[] = [];
    const r = await trainModel({ ...table, label }, { ...quick(5, ['logistic']), log: (m) => logged.push(m) });
    expect(r.metrics.test!.positives).toBe(3);
    const warning = `the test rows hold only 3 churners: one account moves every held-out figure a long way (AUC ${r.metrics.test!.auc.toFixed(3)}, `
      + `95% interval ${r.metrics.test!.ci!.auc.lower.toFixed(2)} to ${r.metrics.test!.ci!.auc.upper.toFixed(2)}); more accounts or more held-out dates give figures to trust`;
    expect(r.warnings).toEqual([warning]);
    expect(r.params.warnings).toEqual([warning]);
    expect(logged).toContain(`warning: ${warning}`);
    expect(logistic.metrics.test!.positives).toBeGreaterThanOrEqual(10);
  });

  it('ranks a text column by its categories\' churn rates, pooling rare ones: an id-like column separates nothing', () => {
    const rows = table.ids.map((_, i) => i);
    const ids = { name: 'ref', kind: 'text' as const, values: table.ids.map((id) => id) };
    expect(singleFeatureAuc(ids, table.label, rows)).toBe(0.5);
    const plan = table.columns.find((c) => c.name === 'plan_0')!;
    const auc = singleFeatureAuc(plan, table.label, rows);
    expect(auc).toBeGreaterThan(0.5);
    expect(auc).toBeLessThan(0.95);
  });
});
