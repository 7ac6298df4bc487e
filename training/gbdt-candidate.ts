import { rocAuc } from './evaluate.ts';
import { stratifiedFolds } from './crossfit.ts';
import {
  binColumns, compileGbdt, encodeRow, marginOfEncoded, rawColumnsFromTable, trainGbdt,
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
}

/**
 * The settings searched (4 fits of each on the train rows, early stopping on the validation rows).
 * Shallow trees with more rounds suit the few-hundred-churner tables churn usually gives; deeper and
 * leaf-wise trees find interactions when the data holds them.
 */
export const GBDT_SEARCH: readonly GbdtParamsInput[] = [
  { growth: 'depthwise', maxDepth: 3, learningRate: 0.1 },
  { growth: 'depthwise', maxDepth: 5, learningRate: 0.05 },
  { growth: 'leafwise', maxLeaves: 15, maxDepth: 8, learningRate: 0.05 },
  { growth: 'depthwise', maxDepth: 4, learningRate: 0.1, subsample: 0.8, colsample: 0.8 },
];

/** Shared settings of every GBDT fit (the searched ones override them). */
const BASE: GbdtParamsInput = { maxRounds: 600, earlyStoppingRounds: 40, minChildWeight: 2, lambda: 1 };

export function gbdtData(table: PreparedTable, trainRows: readonly number[], positiveWeight: number): GbdtData {
  const monotone: Record<string, 1 | -1> = {};
  for (const c of table.columns) if (c.kind === 'numeric' && c.risk) monotone[c.name] = c.risk === 'increasing' ? 1 : -1;
  const labels = Float64Array.from(table.label);
  return {
    table, labels, monotone,
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
  return trainGbdt(d.binned, d.labels, { trainRows: [...trainRows], ...(validRows ? { validRows: [...validRows] } : {}), weights: d.weights, monotone: d.monotone, params });
}

export interface GbdtSearchResult {
  params: GbdtParamsInput;
  model: GbdtModel;
  bestIteration: number;
  roundsRun: number;
  validLoss: number;
  validLogits: Float64Array;
  validAuc: number;
  /** every setting tried, with its validation AUC and rounds */
  tried: { params: GbdtParamsInput; validAuc: number; rounds: number }[];
}

/** Fits every searched setting on the train rows with early stopping on the validation rows; keeps the best validation AUC. */
export function searchGbdt(d: GbdtData, trainRows: readonly number[], validRows: readonly number[], seed: number, search: readonly GbdtParamsInput[] = GBDT_SEARCH): GbdtSearchResult {
  const yValid = Float64Array.from(validRows, (i) => d.labels[i]);
  let best: GbdtSearchResult | null = null;
  const tried: GbdtSearchResult['tried'] = [];
  for (const s of search) {
    const params = { ...BASE, ...s, seed };
    const f = fit(d, trainRows, params, validRows);
    const validLogits = gbdtMargins(f.model, d.table, validRows);
    const validAuc = rocAuc(yValid, validLogits);
    tried.push({ params: s, validAuc, rounds: f.bestIteration });
    if (!best || validAuc > best.validAuc) {
      best = { params, model: f.model, bestIteration: f.bestIteration, roundsRun: f.roundsRun, validLoss: f.bestValidLoss ?? NaN, validLogits, validAuc, tried };
    }
  }
  return best!;
}

/** Out-of-fold margins over `rows`: K models of the chosen settings and round count, each scoring the fold it did not see. */
export function crossFitGbdt(d: GbdtData, rows: readonly number[], params: GbdtParamsInput, rounds: number, folds: number, seed: number): Float64Array {
  const fold = stratifiedFolds([...rows], [...d.table.label], folds, seed ^ 0x2c1b3c6d);
  const out = new Float64Array(rows.length);
  const fixed = { ...params, maxRounds: Math.max(1, rounds) };
  for (let f = 0; f < folds; f++) {
    const held = rows.filter((_, k) => fold[k] === f);
    const m = gbdtMargins(fit(d, rows.filter((_, k) => fold[k] !== f), fixed).model, d.table, held);
    let i = 0;
    rows.forEach((_, k) => {
      if (fold[k] === f) out[k] = m[i++];
    });
  }
  return out;
}

/** The final model: the chosen settings on every row for the chosen number of rounds. */
export function refitGbdt(d: GbdtData, rows: readonly number[], params: GbdtParamsInput, rounds: number): GbdtModel {
  return fit(d, rows, { ...params, maxRounds: Math.max(1, rounds) }).model;
}
