import { ChurnError } from '../core/errors.ts';
import { rocAuc } from './evaluate.ts';
import { stratifiedFolds } from './crossfit.ts';
import {
  binColumns, compileGbdt, encodeRow, logLoss, marginOfEncoded, rawColumnsFromTable, trainGbdt,
  type BinnedMatrix, type GbdtModel, type GbdtParamsInput,
} from './models/gbdt/index.ts';
import type { PreparedTable } from './table.ts';

/**
 * The gradient-boosted-trees candidate of `trainModel`: the table binned once (cuts from the train
 * rows; every fold and refit reuses the bins), a small search over tree shape and learning rate, and
 * the monotone constraints the feature catalogue declares (`risk`), so no explanation reverses a known
 * direction of risk.
 */
export interface GbdtData {
  table: PreparedTable;
  binned: BinnedMatrix;
  labels: Float64Array;
  /** per row: 1, or the churner weight for churned rows */
  weights: Float64Array;
  monotone: Record<string, 1 | -1>;
  /** the side missing values take at every split, where the catalogue declares what they stand for (-1: with the lowest values) */
  missingSide: Record<string, 1 | -1>;
}

/**
 * The settings searched (each fitted on the train rows with early stopping on the validation rows).
 * Stumps and depth-2 trees suit tables whose risk adds up feature by feature (Telco); deeper and
 * leaf-wise trees find interactions when the data holds them.
 */
export const GBDT_SEARCH: readonly GbdtParamsInput[] = [
  { growth: 'depthwise', maxDepth: 1, learningRate: 0.1 },
  { growth: 'depthwise', maxDepth: 2, learningRate: 0.05 },
  { growth: 'depthwise', maxDepth: 3, learningRate: 0.1 },
  { growth: 'depthwise', maxDepth: 4, learningRate: 0.1, subsample: 0.8, colsample: 0.8 },
  { growth: 'depthwise', maxDepth: 5, learningRate: 0.05 },
  { growth: 'leafwise', maxLeaves: 15, maxDepth: 8, learningRate: 0.05 },
];

/**
 * How many of the best searched settings (by validation AUC) the model averages. One validation fold
 * of a churn table holds a few dozen to a few hundred churners, so the best single setting is mostly
 * chance; the mean margin of the three best is steadier. Measured on held-out test rows (`churn train`
 * pipeline, training seeds 7, 11 and 42): the 2,000-account synthetic export 0.871 for the single best
 * setting in every seed, 0.878-0.886 for the mean of three; Telco 0.836 and 0.835 (stumps win there).
 */
export const GBDT_AVERAGED = 3;

/** Shared settings of every GBDT fit (the searched ones override them). */
const BASE: GbdtParamsInput = { maxRounds: 600, earlyStoppingRounds: 40, minChildWeight: 2, lambda: 1 };

/** One searched setting the model keeps: its complete settings and the rounds early stopping chose. */
export interface GbdtMember {
  params: GbdtParamsInput;
  rounds: number;
  validAuc: number;
}

/** The GBDT candidate's settings: the members whose mean margin is the model's margin. */
export interface GbdtSettings {
  members: GbdtMember[];
}

export function gbdtData(table: PreparedTable, trainRows: readonly number[], positiveWeight: number): GbdtData {
  const monotone: Record<string, 1 | -1> = {};
  const missingSide: Record<string, 1 | -1> = {};
  for (const c of table.columns) {
    if (c.kind !== 'numeric') continue;
    if (c.risk) monotone[c.name] = c.risk === 'increasing' ? 1 : -1;
    if (c.missing) missingSide[c.name] = c.missing === 'lowest' ? -1 : 1;
  }
  const labels = Float64Array.from(table.label);
  return {
    table, labels, monotone, missingSide,
    binned: binColumns(rawColumnsFromTable(table.columns), { rows: [...trainRows] }),
    weights: Float64Array.from(table.label, (y) => (y === 1 ? positiveWeight : 1)),
  };
}

/** The model's margins (log-odds) for rows of the table. */
export function gbdtMargins(model: GbdtModel, table: PreparedTable, rows: readonly number[]): Float64Array {
  const c = compileGbdt(model);
  const x = new Float64Array(table.columns.length);
  const row = new Array<number | string | null>(table.columns.length);
  return Float64Array.from(rows, (i) => {
    for (let j = 0; j < table.columns.length; j++) row[j] = table.columns[j].values[i];
    return marginOfEncoded(c, encodeRow(c, row, x));
  });
}

function fit(d: GbdtData, trainRows: readonly number[], params: GbdtParamsInput, validRows?: readonly number[]) {
  return trainGbdt(d.binned, d.labels, { trainRows: [...trainRows], ...(validRows ? { validRows: [...validRows] } : {}), weights: d.weights, monotone: d.monotone, missingSide: d.missingSide, params });
}

/**
 * One model whose margin is the mean of the models' margins: every tree kept, its node values divided
 * by the number of models, the base score averaged. The models must share features (the same binned
 * table). Still a sum of trees, so TreeSHAP and the reference explanations stay exact.
 */
export function averageGbdt(models: readonly GbdtModel[], members: readonly GbdtMember[]): GbdtModel {
  const features = JSON.stringify(models[0].features);
  if (models.some((m) => JSON.stringify(m.features) !== features)) throw new ChurnError('CHURN_ERR_VALIDATION', 'GBDT models can only be averaged when they have the same features');
  if (models.length === 1) return { ...models[0], params: { members: [...members] } };
  const k = models.length;
  return {
    ...models[0],
    baseScore: models.reduce((s, m) => s + m.baseScore, 0) / k,
    trees: models.flatMap((m) => m.trees.map((t) => ({ ...t, value: t.value.map((v) => v / k) }))),
    params: { members: [...members] },
    bestIteration: null,
  };
}

export interface GbdtSearchResult {
  settings: GbdtSettings;
  /** the members fitted on the train rows, averaged */
  model: GbdtModel;
  /** rounds run over all members (the model keeps each member's best rounds) */
  roundsRun: number;
  validLoss: number;
  validLogits: Float64Array;
  validAuc: number;
  /** every setting tried, with its validation AUC and rounds */
  tried: { params: GbdtParamsInput; validAuc: number; rounds: number }[];
}

/**
 * Fits every searched setting on the train rows with early stopping on the validation rows and
 * averages the GBDT_AVERAGED best by validation AUC (`average`: how many).
 */
export function searchGbdt(d: GbdtData, trainRows: readonly number[], validRows: readonly number[], seed: number, search: readonly GbdtParamsInput[] = GBDT_SEARCH, average = GBDT_AVERAGED): GbdtSearchResult {
  const yValid = Float64Array.from(validRows, (i) => d.labels[i]);
  const fits = search.map((s) => {
    const params = { ...BASE, ...s, seed };
    const f = fit(d, trainRows, params, validRows);
    const validLogits = gbdtMargins(f.model, d.table, validRows);
    return { searched: s, params, f, validLogits, validAuc: rocAuc(yValid, validLogits) };
  });
  const kept = [...fits].sort((a, b) => b.validAuc - a.validAuc).slice(0, Math.max(1, average));
  const members = kept.map((m) => ({ params: m.params, rounds: m.f.bestIteration, validAuc: m.validAuc }));
  const model = averageGbdt(kept.map((m) => m.f.model), members);
  const validLogits = Float64Array.from(validRows, (_, i) => kept.reduce((s, m) => s + m.validLogits[i], 0) / kept.length);
  return {
    settings: { members }, model, validLogits,
    validAuc: rocAuc(yValid, validLogits),
    validLoss: logLoss(yValid, Float64Array.from(validRows, (i) => d.weights[i]), validLogits),
    roundsRun: kept.reduce((s, m) => s + m.f.roundsRun, 0),
    tried: fits.map((m) => ({ params: m.searched, validAuc: m.validAuc, rounds: m.f.bestIteration })),
  };
}

/** Out-of-fold margins over `rows`: per fold, every member refitted (its settings and rounds) on the other folds, their mean margin on the fold. */
export function crossFitGbdt(d: GbdtData, rows: readonly number[], settings: GbdtSettings, folds: number, seed: number): Float64Array {
  const fold = stratifiedFolds([...rows], [...d.table.label], folds, seed ^ 0x2c1b3c6d);
  const out = new Float64Array(rows.length);
  for (let f = 0; f < folds; f++) {
    const held = rows.filter((_, k) => fold[k] === f);
    const m = gbdtMargins(refitGbdt(d, rows.filter((_, k) => fold[k] !== f), settings), d.table, held);
    let i = 0;
    rows.forEach((_, k) => {
      if (fold[k] === f) out[k] = m[i++];
    });
  }
  return out;
}

/** The final model: every member's settings on every row for its rounds, averaged. */
export function refitGbdt(d: GbdtData, rows: readonly number[], settings: GbdtSettings): GbdtModel {
  const models = settings.members.map((m) => fit(d, rows, { ...m.params, maxRounds: Math.max(1, m.rounds) }).model);
  return averageGbdt(models, settings.members);
}
