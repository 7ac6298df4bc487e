import path from 'node:path';
import type { Pool } from '../core/db.ts';
import type { Progress } from '../core/progress.ts';
import { ensureFeatureSet, type Catalog } from '../features/catalog.ts';
import { buildSnapshots } from '../features/materialize.ts';
import { describeSettings } from './artifact.ts';
import { buildTrainingSet, trainingFingerprint, type TrainingSetOptions } from './dataset.ts';
import type { EvaluationReport } from './evaluate.ts';
import { mirrorToMlflow, type TrainingRunLogged } from './mlflow/index.ts';
import { recordFailure, registerAndPromote, registeredParams, type RegisteredRun } from './register-run.ts';
import { gitRevision, type ModelLineage } from './registry/index.ts';
import type { PreparedTable } from './table.ts';
import { trainModel, type TrainOptions, type TrainResult } from './train.ts';

/** Where a table's rows came from, as the registry records it. */
export async function lineageOf(table: PreparedTable): Promise<ModelLineage> {
  const src = table.source;
  return {
    trainingWindow: src.kind === 'database' && src.asOfs.length ? { from: src.asOfs[0], to: src.asOfs[src.asOfs.length - 1] } : null,
    featureSetVersion: src.kind === 'database' ? src.featureSetVersion : null,
    dataFingerprint: trainingFingerprint(table),
    gitRevision: await gitRevision(),
    dataSource: src.kind === 'database' ? 'database' : `csv:${path.basename(src.path)}`,
  };
}

/**
 * The database training set for the current catalogue, building any snapshots it lacks. The stored
 * definitions of the current catalogue's feature set are brought up to date first: training reads
 * from them what the version leaves out (a declared missing side, the wording), which may have
 * changed since the snapshots were built.
 */
export async function databaseTrainingSet(pool: Pool, catalog: Catalog, opts: Omit<TrainingSetOptions, 'featureSetVersion' | 'buildSnapshots'> & { featureSetVersion?: string; snapshotProgress?: Progress }) {
  const featureSetVersion = opts.featureSetVersion ?? catalog.version;
  if (featureSetVersion === catalog.version) await ensureFeatureSet(pool, catalog);
  return buildTrainingSet(pool, {
    ...opts,
    featureSetVersion,
    buildSnapshots: featureSetVersion === catalog.version ? (asOfs) => buildSnapshots(pool, catalog, asOfs, { progress: opts.snapshotProgress }) : undefined,
  });
}

export interface TrainRunOptions {
  train: TrainOptions;
  actor: string;
  /** the database's feature catalogue version (only a version trained on it can become champion) */
  catalogVersion: string;
  /** training-set options recorded with the version (a table from buildTrainingSet records its own, resolved: see register-run.ts) */
  dataset?: Record<string, unknown>;
  mlflowUri?: string;
  log?: (m: string) => void;
}

export interface TrainRun {
  result: TrainResult;
  registered: RegisteredRun;
  mlflow: TrainingRunLogged | null | undefined;
}

const compact = (e: EvaluationReport | undefined) => (e ? { auc: e.auc, pr_auc: e.prAuc, lift10: e.lift10, brier: e.brier, ece: e.ece, n: e.n } : undefined);

/**
 * Trains on a table, registers the version and moves `champion` to it when it is not worse on the same
 * rows (see register-run.ts). A failed training is recorded as a failed run and never touches the champion.
 * When an MLflow URI is given the run is mirrored there too (a failing MLflow never loses the registration).
 */
export async function trainAndRegister(pool: Pool, table: PreparedTable, opts: TrainRunOptions): Promise<TrainRun> {
  const lineage = await lineageOf(table);
  let result: TrainResult;
  try {
    result = await trainModel(table, opts.train);
  } catch (err) {
    return recordFailure(pool, err, lineage, { seed: opts.train.seed, models: opts.train.modelTypes ?? null });
  }
  if (opts.dataset) result.params = { ...result.params, dataset: opts.dataset };
  result.params = registeredParams(table, result);
  const registered = await registerAndPromote(pool, table, result, lineage, { actor: opts.actor, catalogVersion: opts.catalogVersion, log: opts.log });
  let mlflow: TrainingRunLogged | null | undefined;
  if (opts.mlflowUri) {
    mlflow = await mirrorToMlflow(pool, opts.mlflowUri, {
      params: { model_type: result.chosen, ...result.params }, metrics: { validation: compact(result.metrics.validation), cv: compact(result.metrics.cv), test: compact(result.metrics.test) },
      artifactJson: result.artifact, version: registered.version.version, aliases: registered.promotion.promoted ? ['champion'] : [],
      gitRevision: registered.version.gitRevision, runName: `churnlens v${registered.version.version}`,
      tags: { 'churnlens.model_type': result.chosen, 'churnlens.settings': describeSettings(result.artifact) },
    });
  }
  return { result, registered, mlflow };
}
