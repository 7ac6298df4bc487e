import { ChurnError } from '../core/errors.ts';
import { noProgress, type Progress } from '../core/progress.ts';
import { ARTIFACT_FORMAT, type ModelArtifact } from './artifact.ts';
import { selectBackend } from './backend.ts';
import { fitPlatt, flattened, sigmoid, type Calibration } from './calibrate.ts';
import { evaluate, MIN_CHURNERS, rocAuc, type EvaluationReport } from './evaluate.ts';
import { crossFit, refit } from './crossfit.ts';
import { createScorer } from './scorer.ts';
import { chooseModel } from './select.ts';
import { fitNetwork, type Matrix, type NetworkFit } from './models/fit.ts';
import { logisticParams, toFitOptions, type ModelParams } from './models/logistic.ts';
import { mlpParams } from './models/mlp.ts';
import { activationBuffers, compileNetwork, createRng, forward, shuffleInPlace, type NetworkWeights } from './models/network.ts';
import { encodeColumns, encodeReference, encodedSigns, fitPreprocessing, groupReferences, type Preprocessing } from './preprocess.ts';
import { buildContract } from './contract.ts';
import { describeLeak, findLeaks, type Leak } from './leaks.ts';
import { crossFitGbdt, gbdtData, gbdtMargins, refitGbdt, searchGbdt, type GbdtData, type GbdtSettings } from './gbdt-candidate.ts';
import type { GbdtModel, GbdtParamsInput } from './models/gbdt/index.ts';
import type { PreparedTable } from './table.ts';

export type ModelType = 'logistic' | 'mlp' | 'gbdt';

/** Every candidate, simplest first (the one-standard-error rule prefers the earlier of two within noise). */
export const MODEL_TYPES: readonly ModelType[] = ['logistic', 'gbdt', 'mlp'];

export interface TrainOptions {
  seed: number;
  modelTypes?: ModelType[];
  /** cap on passes over the training rows for every candidate (early stopping, counted in optimiser steps, usually ends sooner) */
  epochs?: number;
  /** share of train rows carved out (stratified, seeded) for validation when the table has no `valid` rows */
  validShare?: number;
  /**
   * class imbalance: 'none' (default: unweighted loss; stratified splits and folds, an output bias
   * started at the prior log-odds, and Platt scaling keep rare churn well handled and the probabilities
   * honest), 'balanced' (churners weighted n_retained / n_churned; Platt scaling then shrinks the
   * inflated log-odds back), or 'auto' (balanced when churners are under 20% of train rows).
   * Measured: Telco unaffected (26% churn); generated SaaS data at 1.8% churn: validation AUC 0.730
   * unweighted vs 0.716 balanced.
   */
  classWeight?: 'auto' | 'balanced' | 'none';
  /** overrides per model type (hidden sizes, l2, learning rate, ...) */
  params?: Partial<Record<'logistic' | 'mlp', Partial<ModelParams>>>;
  /** the GBDT settings searched (default GBDT_SEARCH, training/gbdt-candidate.ts) */
  gbdtSearch?: readonly GbdtParamsInput[];
  /** how many of the best searched GBDT settings the model averages (default GBDT_AVERAGED, 3) */
  gbdtAveraged?: number;
  minCategoryCount?: number;
  /**
   * training quantiles of each numeric feature that get a hinge input (a piecewise-linear shape per
   * feature, see preprocess.ts); default [0.5]. Measured (5-fold CV AUC of the logistic model): Telco
   * 0.8465 without, 0.8497 with the median hinge; generated SaaS data 0.8459 and 0.8455 (no gain there).
   */
  hingeQuantiles?: number[];
  /** name of the label column, recorded in the artifact (default 'churned') */
  labelName?: string;
  /** preferred TensorFlow.js backend (CHURN_TF_BACKEND) */
  backend?: string;
  log?: (msg: string) => void;
  /** progress bar factory, one bar per candidate's epochs */
  progress?: (label: string) => Progress;
  /**
   * when validation was carved out of the train split: folds for cross-fitting (out-of-fold predictions
   * for the model choice and Platt scaling), after which the chosen model is refitted on train +
   * validation rows for its best epoch count. Default 5 up to 50,000 rows, else 0; 0 or 1 keeps the
   * model fitted on the train part and chooses and calibrates on the validation rows.
   */
  calibrationFolds?: number;
  /**
   * refit the chosen settings on train + validation rows (default true), as the peers are fitted on
   * every non-test row; false keeps the model fitted on the train part, the one the validation
   * figures describe. A table without test rows is never refitted (its validation rows are the only
   * held-out ones).
   */
  refit?: boolean;
  /** bootstrap resamples for the confidence intervals (default 200) */
  bootstrap?: number;
}

export interface Candidate {
  modelType: ModelType;
  validAuc: number;
  validLoss: number;
  bestEpoch: number;
  epochsRun: number;
  /** the optimiser step whose weights were kept, and the steps run (early stopping counts steps) */
  bestStep: number;
  stepsRun: number;
  /** cross-validated AUC over train + validation rows, when cross-fitting ran */
  cvAuc?: number;
  seconds: number;
  /** the network's settings, or the GBDT's (the searched settings averaged, with their rounds) */
  params: ModelParams | GbdtSettings;
}

export interface TrainResult {
  artifact: ModelArtifact;
  chosen: ModelType;
  candidates: Candidate[];
  /**
   * calibrated figures: on the validation rows (the chosen candidate's fit on the train rows), out of
   * fold over train and validation rows when cross-fitting ran (`cv`), and on the test rows
   */
  metrics: { validation: EvaluationReport; cv?: EvaluationReport; test?: EvaluationReport };
  params: Record<string, unknown>;
  calibration: Calibration;
  backend: string;
  rows: { train: number; valid: number; test: number };
  /** row indices of the table on each side (validation carved from train when the table had none) */
  splits: { train: number[]; valid: number[]; test: number[] };
  /** rows and AUC on which a champion is compared with this model (test rows when present, else validation) */
  comparison: { rows: number[]; auc: number; split: 'test' | 'validation' };
  /** features left out because they carry nothing on the training rows (see `screenColumns`) */
  excluded: ExcludedFeatures;
  /** features whose values alone separate the training rows' labels (training/leaks.ts) */
  leaks: Leak[];
  /** warnings about the model, printed with the summary and recorded with the version (`params.warnings`) */
  warnings: string[];
  seconds: number;
}

/** Features training leaves out: one value on every training row, or present on fewer than 1% of them. */
export interface ExcludedFeatures {
  constant: string[];
  mostly_missing: string[];
}

/** A column present on fewer than this share of the training rows is left out. */
export const MIN_PRESENT_SHARE = 0.01;

/**
 * Feature QA before fitting: a column with one value on every training row (and no missing values
 * to tell apart), or present on fewer than MIN_PRESENT_SHARE of them, cannot inform a model and only
 * adds noise to explanations; it is left out, and the log says which. The rest of the table is kept.
 */
export function screenColumns(table: PreparedTable, trainRows: number[], log: Log = () => undefined): { table: PreparedTable; excluded: ExcludedFeatures } {
  const excluded: ExcludedFeatures = { constant: [], mostly_missing: [] };
  const kept = table.columns.filter((c) => {
    let present = 0;
    let first: unknown = null;
    let varies = false;
    for (const i of trainRows) {
      const v = c.values[i];
      if (v === null || (typeof v === 'number' && Number.isNaN(v))) continue;
      if (present === 0) first = v;
      else if (!varies && v !== first) varies = true;
      present++;
    }
    if (present < MIN_PRESENT_SHARE * trainRows.length) {
      excluded.mostly_missing.push(c.name);
      return false;
    }
    if (!varies && present === trainRows.length) {
      excluded.constant.push(c.name);
      return false;
    }
    return true;
  });
  if (kept.length === 0) throw new ChurnError('CHURN_ERR_NOT_ENOUGH_DATA', `every feature is constant or missing on the ${trainRows.length} training rows; check that events, subscriptions and the other sources are loaded`);
  const n = excluded.constant.length + excluded.mostly_missing.length;
  if (n > 0) {
    const list = (xs: string[]) => (xs.length > 8 ? `${xs.slice(0, 8).join(', ')} and ${xs.length - 8} more` : xs.join(', '));
    log(`feature QA: left out ${n} of ${table.columns.length} features that carry nothing on the training rows${excluded.constant.length ? `; constant: ${list(excluded.constant)}` : ''}${excluded.mostly_missing.length ? `; present on under ${MIN_PRESENT_SHARE * 100}% of rows: ${list(excluded.mostly_missing)}` : ''}`);
  }
  return { table: n > 0 ? { ...table, columns: kept } : table, excluded };
}

/** Mean |contribution| per feature over (up to 2,000 of) `rows`, scored through the serving path. */
function explainRows(artifact: ModelArtifact, table: PreparedTable, rows: number[], split: string): NonNullable<ModelArtifact['importance']> {
  const scorer = createScorer(artifact);
  const step = Math.max(1, Math.ceil(rows.length / 2000));
  const abs = new Float64Array(scorer.featureNames.length);
  const sum = new Float64Array(scorer.featureNames.length);
  let n = 0;
  let worst = 0;
  for (let k = 0; k < rows.length; k += step) {
    const s = scorer.score(Object.fromEntries(table.columns.map((c) => [c.name, c.values[rows[k]]])));
    let total = s.baseValue;
    s.contributions.forEach((v, j) => {
      abs[j] += Math.abs(v);
      sum[j] += v;
      total += v;
    });
    if (Math.abs(s.logit) < 25) worst = Math.max(worst, Math.abs(total - Math.log(s.probability / (1 - s.probability))));
    n++;
  }
  const per = (a: Float64Array) => Object.fromEntries(scorer.featureNames.map((f, j) => [f, a[j] / Math.max(1, n)]));
  return { rows: n, split, mean_abs_contribution: per(abs), mean_contribution: per(sum), max_additivity_error: worst };
}

/** Seeded stratified carve: about `share` of each class of `rows` goes to validation. */
export function stratifiedSplit(rows: number[], label: number[], share: number, seed: number): { train: number[]; valid: number[] } {
  const rng = createRng(seed);
  const train: number[] = [];
  const valid: number[] = [];
  for (const cls of [0, 1]) {
    const r = rows.filter((i) => label[i] === cls);
    shuffleInPlace(r, rng);
    const k = Math.round(r.length * share);
    valid.push(...r.slice(0, k));
    train.push(...r.slice(k));
  }
  return { train: train.sort((x, y) => x - y), valid: valid.sort((x, y) => x - y) };
}

function logitsOf(weights: NetworkFit['weights'], m: Matrix): Float64Array {
  const net = compileNetwork(weights);
  const bufs = activationBuffers(net);
  const out = new Float64Array(m.n);
  for (let i = 0; i < m.n; i++) out[i] = forward(net, m.x, bufs, i * m.d);
  return out;
}

function requireBothClasses(label: number[], rows: number[], what: string): void {
  const pos = rows.reduce((s, i) => s + label[i], 0);
  if (rows.length < 20 || pos === 0 || pos === rows.length) {
    throw new ChurnError('CHURN_ERR_NOT_ENOUGH_DATA', `${what} has ${rows.length} rows with ${pos} churners; training needs at least 20 rows and both classes`);
  }
}

type Log = (msg: string) => void;
interface Splits { train: number[]; valid: number[]; test: number[]; carved: boolean }

/** Stage 1: the table's train, validation and test rows (validation carved from train, stratified, when the table has none). */
function splitRows(table: PreparedTable, opts: TrainOptions, log: Log): Splits {
  const n = table.ids.length;
  if (table.label.length !== n || table.split.length !== n || table.columns.some((c) => c.values.length !== n)) {
    throw new ChurnError('CHURN_ERR_VALIDATION', 'the training table has columns of different lengths');
  }
  const bySplit = (s: string) => table.split.flatMap((v, i) => (v === s ? [i] : []));
  let train = bySplit('train');
  let valid = bySplit('valid');
  const carved = valid.length === 0;
  if (carved) {
    requireBothClasses(table.label, train, 'the train split');
    ({ train, valid } = stratifiedSplit(train, table.label, opts.validShare ?? 0.2, opts.seed));
    log(`validation: carved ${valid.length} stratified rows out of the train split (seed ${opts.seed})`);
  }
  requireBothClasses(table.label, train, 'the train split');
  requireBothClasses(table.label, valid, 'the validation split');
  return { train, valid, test: bySplit('test'), carved };
}

/** What every candidate trains on: the preprocessing fitted on train rows, the encoded matrices, and the weighting. */
interface Inputs {
  pre: Preprocessing;
  matrix: (rows: number[]) => Matrix;
  train: Matrix;
  valid: Matrix;
  /** sign each encoded input's weight keeps (declared risk directions; logistic models) */
  signs: Int8Array;
  churnRate: number;
  positiveWeight: number;
  weighting: NonNullable<TrainOptions['classWeight']>;
  /** the table binned for trees (once, when a GBDT candidate trains) */
  gbdt?: GbdtData;
}

/** Stage 2: preprocessing (train rows only), encoded matrices, sign constraints and class weighting. */
function prepareInputs(table: PreparedTable, s: Splits, opts: TrainOptions, log: Log): Inputs {
  const pre = fitPreprocessing(table.columns, s.train, { label: table.label, minCount: opts.minCategoryCount, hingeQuantiles: opts.hingeQuantiles ?? [0.5] });
  const matrix = (rows: number[]): Matrix => ({ ...encodeColumns(pre, table.columns, rows), y: Float32Array.from(rows, (i) => table.label[i]) });
  const train = matrix(s.train);
  const churnRate = s.train.reduce((acc, i) => acc + table.label[i], 0) / s.train.length;
  const weighting = opts.classWeight ?? 'none';
  const balanced = weighting === 'balanced' || (weighting === 'auto' && churnRate < 0.2);
  const positiveWeight = balanced ? (1 - churnRate) / churnRate : 1;
  const signs = encodedSigns(pre);
  const constrained = pre.columns.filter((c) => c.kind === 'numeric' && c.risk).length;
  const missingAs = pre.columns.filter((c) => c.kind === 'numeric' && c.missingValue !== undefined).length;
  log(`rows: ${s.train.length} train, ${s.valid.length} valid, ${s.test.length} test; ${pre.columns.length} features -> ${train.d} inputs (${constrained} with a declared risk direction${missingAs ? `, ${missingAs} with a declared meaning of a missing value` : ''}); churn rate ${(churnRate * 100).toFixed(1)}%; churner weight ${positiveWeight.toFixed(2)}`);
  return { pre, matrix, train, valid: matrix(s.valid), signs, churnRate, positiveWeight, weighting };
}

/** A trained candidate's model: network weights, or trees. */
type Trained = { kind: 'network'; weights: NetworkWeights } | { kind: 'gbdt'; model: GbdtModel };
type Fitted = Candidate & { trained: Trained; validLogits: Float64Array; seed: number; signs?: Int8Array };

/** A trained model's log-odds (raw margins: before calibration) for rows of the table. */
function logitsFor(trained: Trained, table: PreparedTable, inputs: Inputs, rows: number[]): Float64Array {
  return trained.kind === 'gbdt' ? gbdtMargins(trained.model, table, rows) : logitsOf(trained.weights, inputs.matrix(rows));
}

/** The GBDT candidate: a small search over tree shape and learning rate, early stopping on the validation rows. */
function fitGbdtCandidate(table: PreparedTable, s: Splits, inputs: Inputs, opts: TrainOptions, log: Log): Fitted {
  const t0 = performance.now();
  const seed = opts.seed + 3000;
  inputs.gbdt ??= gbdtData(table, s.train, inputs.positiveWeight);
  const r = searchGbdt(inputs.gbdt, s.train, s.valid, seed, opts.gbdtSearch, opts.gbdtAveraged);
  for (const t of r.tried) log(`gbdt ${JSON.stringify(t.params)}: validation AUC ${t.validAuc.toFixed(4)}, ${t.rounds} trees`);
  const seconds = (performance.now() - t0) / 1000;
  const kept = r.settings.members.length;
  log(`gbdt: ${kept > 1 ? `mean of the ${kept} best settings, ` : ''}validation AUC ${r.validAuc.toFixed(4)}, ${r.model.trees.length} trees (${Object.keys(inputs.gbdt.monotone).length} monotone features), ${seconds.toFixed(1)}s`);
  return {
    modelType: 'gbdt', validAuc: r.validAuc, validLoss: r.validLoss, bestEpoch: r.model.trees.length, epochsRun: r.roundsRun, bestStep: r.model.trees.length, stepsRun: r.roundsRun,
    seconds, params: r.settings, trained: { kind: 'gbdt', model: r.model }, validLogits: r.validLogits, seed,
  };
}

/** Stage 3: every candidate trained with early stopping on the validation rows. */
async function fitCandidates(table: PreparedTable, s: Splits, inputs: Inputs, opts: TrainOptions, log: Log): Promise<Fitted[]> {
  const types = opts.modelTypes?.length ? opts.modelTypes : MODEL_TYPES;
  const out: Fitted[] = [];
  for (const type of types) {
    if (type === 'gbdt') {
      out.push(fitGbdtCandidate(table, s, inputs, opts, log));
      continue;
    }
    const base = type === 'logistic' ? logisticParams(inputs.train.n, opts.params?.logistic) : mlpParams(inputs.train.n, opts.params?.mlp);
    const params = { ...base, maxEpochs: opts.epochs ?? base.maxEpochs };
    const t0 = performance.now();
    const seed = opts.seed + (type === 'logistic' ? 1000 : 2000); // per type: the same model whatever the candidate list
    // declared risk directions bind the logistic model; an MLP cannot be held to them (serving/README.md, "Scores and explanations")
    const signs = type === 'logistic' ? inputs.signs : undefined;
    const fit = await fitNetwork(inputs.train, inputs.valid, { ...toFitOptions(params, seed, inputs.positiveWeight, signs), progress: opts.progress?.(`train ${type}`) ?? noProgress });
    const validLogits = logitsOf(fit.weights, inputs.valid);
    const validAuc = rocAuc(inputs.valid.y, validLogits);
    const seconds = (performance.now() - t0) / 1000;
    log(`${type}: validation AUC ${validAuc.toFixed(4)}, loss ${fit.bestValidLoss.toFixed(4)}, best step ${fit.bestStep}/${fit.stepsRun} (epoch ${fit.bestEpoch}/${fit.epochsRun}, ${fit.stepsPerEpoch} steps per epoch), ${seconds.toFixed(1)}s`);
    out.push({ modelType: type, validAuc, validLoss: fit.bestValidLoss, bestEpoch: fit.bestEpoch, epochsRun: fit.epochsRun, bestStep: fit.bestStep, stepsRun: fit.stepsRun, seconds, params, trained: { kind: 'network', weights: fit.weights }, validLogits, seed, signs });
  }
  return out.sort((x, y) => MODEL_TYPES.indexOf(x.modelType) - MODEL_TYPES.indexOf(y.modelType)); // simplest first
}

/** Held-out log-odds per candidate: out-of-fold over train + validation rows when cross-fitting, else on the validation rows. */
interface HeldOut { rows: number[]; y: Float32Array; logits: Map<ModelType, Float64Array>; folds: number }

/**
 * Stage 4: cross-fitting (validation carved from train, up to 50,000 rows by default): every
 * candidate gets out-of-fold predictions over all non-test rows; the choice and the calibration use those.
 */
async function crossValidate(table: PreparedTable, s: Splits, inputs: Inputs, candidates: Fitted[], opts: TrainOptions, log: Log): Promise<HeldOut> {
  const allRows = [...s.train, ...s.valid].sort((x, y) => x - y);
  const folds = s.carved ? (opts.calibrationFolds ?? (allRows.length <= 50_000 ? 5 : 0)) : 0;
  if (folds < 2) return { rows: s.valid, y: inputs.valid.y, logits: new Map(candidates.map((c) => [c.modelType, c.validLogits])), folds };
  const y = Float32Array.from(allRows, (r) => table.label[r]);
  const logits = new Map<ModelType, Float64Array>();
  for (const c of candidates) {
    const t0 = performance.now();
    const oof = c.trained.kind === 'gbdt'
      ? crossFitGbdt(inputs.gbdt!, allRows, c.params as GbdtSettings, folds, c.seed)
      : await crossFit({ rows: allRows, label: table.label, matrix: inputs.matrix, params: c.params as ModelParams, steps: Math.max(1, c.bestStep), seed: c.seed, positiveWeight: inputs.positiveWeight, signs: c.signs, folds, progress: opts.progress });
    logits.set(c.modelType, oof);
    c.cvAuc = rocAuc(y, oof);
    c.seconds += (performance.now() - t0) / 1000;
    log(`${c.modelType}: ${folds}-fold cross-validated AUC ${c.cvAuc.toFixed(4)} on ${allRows.length} rows`);
  }
  return { rows: allRows, y, logits, folds };
}

/**
 * The rows the chosen model is refitted on (every non-test row), or null when it keeps its fit on the
 * train part. Without test rows it is never refitted: the validation rows are then the only ones the
 * registered model was not fitted on, where its report and the champion comparison score it.
 */
function refitsOn(s: Splits, held: HeldOut, refit = true): number[] | null {
  if (!refit || s.test.length === 0) return null;
  if (s.carved && held.folds < 2) return null; // a carved validation side without cross-fitting (over 50,000 rows)
  return [...s.train, ...s.valid].sort((x, y) => x - y);
}

/**
 * Stage 5: the one-standard-error choice, Platt calibration on held-out log-odds, and the final
 * weights: refitted on every non-test row (train + validation) for the chosen settings' epochs or
 * trees, after cross-fitting and when the table brings its own (out-of-time) validation rows, as long
 * as test rows stay held out (`refitsOn`); a carved validation without cross-fitting (a table over
 * 50,000 rows) keeps the fit on the train part.
 */
async function chooseAndCalibrate(table: PreparedTable, s: Splits, candidates: Fitted[], held: HeldOut, inputs: Inputs, opts: TrainOptions, log: Log) {
  const choice = chooseModel(candidates.map((c) => ({ modelType: c.modelType, validLogits: held.logits.get(c.modelType)!, validAuc: c.cvAuc ?? c.validAuc })), held.y, opts.seed);
  for (const r of choice.reasons) log(r);
  const chosen = candidates.find((c) => c.modelType === choice.chosen)!;
  const calibration = fitPlatt(held.logits.get(chosen.modelType)!, held.y);
  log(`chosen: ${chosen.modelType}`);
  let trained = chosen.trained;
  const refitRows = refitsOn(s, held, opts.refit);
  if (refitRows) {
    trained = trained.kind === 'gbdt'
      ? { kind: 'gbdt', model: refitGbdt(inputs.gbdt!, refitRows, chosen.params as GbdtSettings) }
      : { kind: 'network', weights: await refit({ rows: refitRows, label: table.label, matrix: inputs.matrix, params: chosen.params as ModelParams, steps: Math.max(1, chosen.bestStep), seed: chosen.seed, positiveWeight: inputs.positiveWeight, signs: chosen.signs, progress: opts.progress }) };
    log(`refitted ${chosen.modelType} on ${refitRows.length} train and validation rows`);
  }
  log(`Platt calibration a=${calibration.a.toFixed(4)} b=${calibration.b.toFixed(4)}`);
  return { chosen, calibration, trained, fittedRows: refitRows?.length ?? s.train.length };
}

/**
 * Stage 6: calibrated metrics on the validation rows, on the out-of-fold log-odds when cross-fitting
 * ran, and on the test rows; and the rows a champion is compared on.
 */
function evaluateChosen(table: PreparedTable, s: Splits, inputs: Inputs, held: HeldOut, chosen: Fitted, calibration: Calibration, trained: Trained, opts: TrainOptions, log: Log) {
  const calibrated = (z: Float64Array) => Float64Array.from(z, (v) => sigmoid(calibration.a * v + calibration.b));
  const segments = (rows: number[]) => (table.context?.segment ? rows.map((i) => table.context!.segment![i]) : undefined);
  const evalOpts = (rows: number[]) => ({ segments: segments(rows), bootstrap: opts.bootstrap ?? 200, seed: opts.seed });
  const metrics: TrainResult['metrics'] = { validation: evaluate(inputs.valid.y, calibrated(chosen.validLogits), evalOpts(s.valid)) };
  if (held.folds >= 2) metrics.cv = evaluate(held.y, calibrated(held.logits.get(chosen.modelType)!), evalOpts(held.rows));
  if (s.test.length > 0) {
    const y = Float32Array.from(s.test, (i) => table.label[i]);
    const pos = y.reduce((acc, v) => acc + v, 0);
    if (pos > 0 && pos < y.length) metrics.test = evaluate(y, calibrated(logitsFor(trained, table, inputs, s.test)), evalOpts(s.test));
    else log(`test split has ${y.length} rows with ${pos} churners: no test metrics`);
  }
  // Candidate and champion are compared on rows neither was fitted on: test rows when there are any.
  const comparison = metrics.test ? { rows: s.test, auc: metrics.test.auc, split: 'test' as const } : { rows: s.valid, auc: rocAuc(inputs.valid.y, chosen.validLogits), split: 'validation' as const };
  return { metrics, comparison };
}

/**
 * Accounts in their first days (`tenure_days` under each bound, the first that applies) are explained
 * against the retained accounts of that age: the artifact's `young_references`.
 */
export const YOUNG_BANDS_DAYS = [30, 90] as const;
/** A band needs at least this many retained training rows; without it, its accounts fall to the next band (or the common reference). */
export const MIN_YOUNG_REFERENCE_ROWS = 30;

/**
 * The references of young accounts: the typical retained training account in its first 30 days and
 * in its first 90. Against the common reference (mostly established accounts), a new account's
 * explanation reads its age as drivers of its own ("Customer for 9 days; typical retained account:
 * 774", "Not a customer 90 days ago"), and one of a few days its missing first invoice.
 */
function youngReferences(table: PreparedTable, s: Splits, pre: Preprocessing, network: boolean): ModelArtifact['young_references'] {
  const tenure = table.columns.find((c) => c.name === 'tenure_days');
  if (tenure?.kind !== 'numeric') return undefined;
  const bands = YOUNG_BANDS_DAYS.flatMap((max) => {
    const rows = s.train.filter((i) => {
      const t = tenure.values[i];
      return table.label[i] === 0 && t !== null && t >= 0 && t < max;
    });
    if (rows.length < MIN_YOUNG_REFERENCE_ROWS) return [];
    const references = groupReferences(table.columns, rows);
    return [{ max_tenure_days: max, rows: rows.length, references, ...(network ? { explanation_reference: Array.from(encodeReference(pre, references)) } : {}) }];
  });
  return bands.length ? bands : undefined;
}

/** Stage 7: the artifact, with its input contract; explanations start from the reference row (each feature's typical retained value). */
function buildArtifact(table: PreparedTable, s: Splits, inputs: Inputs, chosen: Fitted, calibration: Calibration, trained: Trained, backend: string, opts: TrainOptions, excluded: ExcludedFeatures): ModelArtifact {
  const { pre } = inputs;
  const featureSetVersion = table.source.kind === 'database' ? table.source.featureSetVersion : null;
  const young = youngReferences(table, s, pre, trained.kind !== 'gbdt');
  return {
    format: ARTIFACT_FORMAT,
    model_type: chosen.modelType,
    feature_names: pre.columns.map((c) => c.name),
    feature_kinds: Object.fromEntries(pre.columns.map((c) => [c.name, c.kind])),
    feature_families: Object.fromEntries(pre.columns.map((c) => [c.name, c.family])),
    feature_set_version: featureSetVersion,
    label: opts.labelName ?? 'churned',
    preprocessing: pre,
    ...(trained.kind === 'gbdt' ? { gbdt: trained.model, explanation: 'reference' as const } : { network: trained.weights }),
    calibration,
    explanation_reference: trained.kind === 'gbdt' ? [] : Array.from(encodeReference(pre)),
    references: Object.fromEntries(pre.columns.map((c) => [c.name, c.reference])),
    ...(young ? { young_references: young } : {}),
    input_contract: buildContract(table, s.train, pre, featureSetVersion, [...excluded.constant, ...excluded.mostly_missing]),
    training: {
      seed: opts.seed,
      backend,
      rows: { train: s.train.length, valid: s.valid.length, test: s.test.length },
      churn_rate: inputs.churnRate,
      chosen_by: 'validation (or cross-validated) ROC AUC, one-standard-error rule (a more complex model must beat the simpler one by more than the paired bootstrap SE)',
      positive_weight: inputs.positiveWeight,
      params: chosen.params as unknown as Record<string, unknown>,
      best_epoch: chosen.bestEpoch,
      source: table.source.kind === 'csv' ? `csv:${table.source.path.split(/[\\/]/).pop()}` : 'database',
    },
  };
}

/** The warning that held-out figures rest on too few churners to trust (null when they do not). */
function fewChurners(split: 'test' | 'validation', m: EvaluationReport): string | null {
  if (m.positives >= MIN_CHURNERS) return null;
  const ci = m.ci ? ` (AUC ${m.auc.toFixed(3)}, 95% interval ${m.ci.auc.lower.toFixed(2)} to ${m.ci.auc.upper.toFixed(2)})` : '';
  return `the ${split} rows hold only ${m.positives} churner${m.positives === 1 ? '' : 's'}: one account moves every held-out figure a long way${ci}; `
    + 'more accounts or more held-out dates give figures to trust';
}

/**
 * Fits preprocessing on train rows, trains every candidate (logistic regression, MLP) with early
 * stopping on validation rows, chooses by validation AUC with the one-standard-error rule (training/select.ts),
 * calibrates it with Platt scaling (cross-fitted when validation was carved from train, see crossfit.ts),
 * and evaluates on validation (out-of-fold) and test rows.
 */
export async function trainModel(table: PreparedTable, opts: TrainOptions): Promise<TrainResult> {
  const started = performance.now();
  const log = opts.log ?? (() => undefined);
  const backend = await selectBackend(log, opts.backend);
  const s = splitRows(table, opts, log);
  const qa = screenColumns(table, s.train, log);
  table = qa.table;
  const leaks = findLeaks(table, s.train);
  const warnings = leaks.map(describeLeak);
  for (const w of warnings) log(`warning: ${w}`);
  const inputs = prepareInputs(table, s, opts, log);
  const candidates = await fitCandidates(table, s, inputs, opts, log);
  const held = await crossValidate(table, s, inputs, candidates, opts, log);
  const { chosen, calibration, trained, fittedRows } = await chooseAndCalibrate(table, s, candidates, held, inputs, opts, log);
  const { metrics, comparison } = evaluateChosen(table, s, inputs, held, chosen, calibration, trained, opts, log);
  const flat = flattened(calibration) ? `${chosen.modelType} ranks the held-out rows the wrong way round (a calibration slope below zero would reverse every explanation): `
    + `every row gets the held-out churn rate, ${(100 * sigmoid(calibration.b)).toFixed(1)}%, and no feature moves it. The features carry no usable signal on these rows` : null;
  for (const w of [flat, fewChurners(metrics.test ? 'test' : 'validation', metrics.test ?? metrics.validation)]) {
    if (!w) continue;
    log(`warning: ${w}`);
    warnings.push(w);
  }
  const artifact = buildArtifact(table, s, inputs, chosen, calibration, trained, backend, opts, qa.excluded);
  artifact.importance = explainRows(artifact, table, s.test.length ? s.test : held.rows, s.test.length ? 'test' : 'validation');
  log(`explanations: additivity error at most ${artifact.importance.max_additivity_error.toExponential(1)} on ${artifact.importance.rows} ${artifact.importance.split} rows`);
  const params = { model: chosen.params, excluded_features: qa.excluded, ...(warnings.length ? { warnings, leaks } : {}), calibration_folds: held.folds, final_fit_rows: fittedRows, refit: opts.refit ?? true, positive_weight: inputs.positiveWeight, class_weight: inputs.weighting, valid_share: opts.validShare ?? 0.2, min_category_count: opts.minCategoryCount ?? 10, hinge_quantiles: opts.hingeQuantiles ?? [0.5], seed: opts.seed };
  return {
    artifact,
    chosen: chosen.modelType,
    candidates: candidates.map(({ trained: _t, validLogits: _v, seed: _s, signs: _g, ...c }) => c),
    metrics,
    params,
    calibration,
    backend,
    rows: artifact.training.rows,
    splits: { train: s.train, valid: s.valid, test: s.test },
    excluded: qa.excluded,
    leaks,
    warnings,
    comparison,
    seconds: (performance.now() - started) / 1000,
  };
}
