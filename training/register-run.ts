import { createHash } from 'node:crypto';
import { z } from 'zod';
import type { Pool } from '../core/db.ts';
import { ChurnError, isChurnError } from '../core/errors.ts';
import { datasetRecordOf } from './dataset.ts';
import type { TrainResult } from './train.ts';
import type { PreparedTable } from './table.ts';
import { rocAuc } from './evaluate.ts';
import { createScorer } from './scorer.ts';
import { loadModel, promote, recordFailedRun, registerModel, type ModelLineage, type ModelVersion, type PromotionResult } from './registry/index.ts';

export interface RegisteredRun {
  version: ModelVersion;
  promotion: PromotionResult;
  championAuc: number | null;
}

/** One row of a prepared table as raw values keyed by feature name (what the scorer takes). */
export function tableRow(table: PreparedTable, i: number): Record<string, number | string | null> {
  const row: Record<string, number | string | null> = {};
  for (const c of table.columns) row[c.name] = c.values[i];
  return row;
}

/** The rows a version is evaluated on: the test rows when the table has any, else the validation rows. */
export function heldOutRows(table: PreparedTable): { rows: number[]; side: 'test' | 'validation'; trainRows: number[] } {
  const of = (s: string) => table.split.flatMap((v, i) => (v === s ? [i] : []));
  const test = of('test');
  const rows = test.length ? test : of('valid');
  if (!rows.length) throw new ChurnError('CHURN_ERR_NOT_ENOUGH_DATA', 'the table has no held-out rows (split `valid` or `test`) to evaluate the model on');
  return { rows, side: test.length ? 'test' : 'validation', trainRows: of('train') };
}

/** sha256 over the ids and labels of `rows` (in order): the same rows with the same labels, the same fingerprint. */
export function rowsFingerprint(table: PreparedTable, rows: number[]): string {
  const h = createHash('sha256');
  for (const i of rows) h.update(`${JSON.stringify(table.ids[i])}\t${table.label[i]}\n`);
  return h.digest('hex');
}

/** What the registry records about the evaluated rows: how many, their churners and fingerprint, overall and per observation date. */
export const EvaluationRecordSchema = z.object({
  side: z.enum(['test', 'validation']),
  rows: z.number().int().min(0),
  churned: z.number().int().min(0),
  fingerprint: z.string().min(1),
  asOfs: z.array(z.object({ asOf: z.string(), rows: z.number().int().min(0), churned: z.number().int().min(0), fingerprint: z.string().min(1) })),
});
export type EvaluationRecord = z.infer<typeof EvaluationRecordSchema>;

export function evaluationRecord(table: PreparedTable, held: { rows: number[]; side: 'test' | 'validation' }): EvaluationRecord {
  const asOf = table.context?.asOf;
  const byDate = new Map<string, number[]>();
  if (asOf) for (const i of held.rows) byDate.set(asOf[i], [...(byDate.get(asOf[i]) ?? []), i]);
  const churned = (rows: number[]) => rows.reduce((s, i) => s + table.label[i], 0);
  return {
    side: held.side, rows: held.rows.length, churned: churned(held.rows), fingerprint: rowsFingerprint(table, held.rows),
    asOfs: [...byDate.entries()].sort(([a], [b]) => a.localeCompare(b)).map(([d, rows]) => ({ asOf: d, rows: rows.length, churned: churned(rows), fingerprint: rowsFingerprint(table, rows) })),
  };
}

/**
 * The parameters a version is registered with: the training parameters, the training set's record
 * (every option that decides its rows, resolved: see dataset.ts) and the evaluated rows' record, so a
 * report can rebuild exactly those rows or say what changed.
 */
export function registeredParams(table: PreparedTable, result: TrainResult): Record<string, unknown> {
  const record = datasetRecordOf(table);
  const given = result.params.dataset && typeof result.params.dataset === 'object' ? (result.params.dataset as Record<string, unknown>) : {};
  const held = table.split.some((s) => s === 'test' || s === 'valid') ? evaluationRecord(table, heldOutRows(table)) : null;
  return { ...result.params, ...(record || Object.keys(given).length ? { dataset: { ...given, ...record } } : {}), ...(held ? { evaluation: held } : {}) };
}

/**
 * The version holding `alias` (the champion) and its AUC on the rows the candidate is compared on
 * (TrainResult.comparison): null when the alias is free; auc null when it cannot score these rows
 * (other features).
 */
async function holderScore(pool: Pool, alias: string, table: PreparedTable, rows: number[], log: (m: string) => void): Promise<{ version: number; auc: number | null } | null> {
  let loaded;
  try {
    loaded = await loadModel(pool, alias);
  } catch (err) {
    if (isChurnError(err) && err.code === 'CHURN_ERR_MODEL_NOT_FOUND') return null;
    throw err;
  }
  try {
    const scorer = createScorer(loaded.artifact);
    const missing = scorer.missingFeatures(table.columns.map((c) => c.name));
    if (missing.length) {
      log(`${alias} v${loaded.meta.version} uses features this table lacks (${missing.slice(0, 3).join(', ')}): not comparable`);
      return { version: loaded.meta.version, auc: null };
    }
    const p = rows.map((i) => scorer.score(tableRow(table, i)).probability);
    return { version: loaded.meta.version, auc: rocAuc(rows.map((i) => table.label[i]), p) };
  } catch (err) {
    log(`${alias} v${loaded.meta.version} could not be scored on these rows: ${(err as Error).message}`);
    return { version: loaded.meta.version, auc: null };
  }
}

/**
 * Registers a trained model and moves `champion` to it under the promotion rule (registry/promotion.ts):
 * trained on the current feature catalogue, and not worse than the current champion on the same
 * held-out rows (both scored here), or no champion yet. A version the rule refuses stays registered
 * without the alias, saying why. Nothing here runs for a failed training: see recordFailure.
 */
export async function registerAndPromote(pool: Pool, table: PreparedTable, result: TrainResult, lineage: ModelLineage, opts: { actor: string; catalogVersion: string; log?: (m: string) => void; alias?: string }): Promise<RegisteredRun> {
  const log = opts.log ?? (() => undefined);
  const version = await registerModel(pool, {
    ...lineage,
    modelType: result.chosen,
    artifact: result.artifact,
    params: registeredParams(table, result),
    metrics: { validation: result.metrics.validation, ...(result.metrics.cv ? { cv: result.metrics.cv } : {}), ...(result.metrics.test ? { test: result.metrics.test } : {}), candidates: result.candidates, backend: result.backend, seconds: result.seconds },
  });
  const alias = opts.alias ?? 'champion';
  const champ = await holderScore(pool, alias, table, result.comparison.rows, log);
  const promotion = await promote(pool, {
    ref: version.version, alias, actor: opts.actor, catalogVersion: opts.catalogVersion,
    sameRows: { metric: `${result.comparison.split} AUC`, candidate: result.comparison.auc, holder: champ?.auc ?? null, holderVersion: champ?.version ?? null },
  }).catch((err: unknown): PromotionResult => {
    // not trained on the catalogue, or not comparable with the champion: registered, not promoted
    if (isChurnError(err) && (err.code === 'CHURN_ERR_FEATURE_MISMATCH' || err.code === 'CHURN_ERR_NOT_COMPARABLE')) {
      return { promoted: false, decision: 'not_comparable', reason: err.message, fromVersion: champ?.version ?? null, toVersion: version.version };
    }
    throw err;
  });
  return { version, promotion, championAuc: champ?.auc ?? null };
}

/** Records a failed training run in the registry (aliases untouched) and rethrows as CHURN_ERR_TRAINING_FAILED. */
export async function recordFailure(pool: Pool, err: unknown, lineage: Partial<ModelLineage>, params: Record<string, unknown>): Promise<never> {
  const message = (err as Error)?.message ?? String(err);
  await recordFailedRun(pool, { ...lineage, modelType: 'unknown', params, error: message }).catch(() => undefined);
  if (isChurnError(err) && err.code !== 'CHURN_ERR_INTERNAL') throw err;
  throw new ChurnError('CHURN_ERR_TRAINING_FAILED', `training failed; the champion is untouched: ${message}`, { cause: err });
}
