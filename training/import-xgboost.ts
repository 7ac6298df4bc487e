import path from 'node:path';
import type { Pool } from '../core/db.ts';
import { ChurnError } from '../core/errors.ts';
import type { Catalog } from '../features/catalog.ts';
import { ARTIFACT_FORMAT, parseArtifact, type ModelArtifact } from './artifact.ts';
import { sigmoid } from './calibrate.ts';
import { contractOf } from './contract.ts';
import { gbdtFromXgboost, parseXgboostJson } from './models/gbdt/index.ts';
import { gitRevision, registerModel, sha256Hex, type ModelVersion } from './registry/index.ts';

export interface XgboostImport {
  /** the model file's name (recorded as its source) */
  file: string;
  text: string;
  /** feature names in column order (default: the model's own) */
  featureNames?: string[];
  /** category names in code order per categorical feature */
  categories?: Record<string, string[]>;
  /** the training churn rate (the health mapping is anchored on it); default: the model's base score as a probability */
  baseRate?: number;
  /**
   * the feature catalogue the features come from: `auto` (the current catalogue when every feature
   * of the model is one of its features, else none), or none
   */
  featureSet?: 'auto' | 'none';
}

/**
 * A model trained with XGBoost in Python (saved with `save_model('model.json')`) as a Churnlens
 * artifact: the same trees (`binary:logistic`, numeric and categorical splits) and the same
 * explanations as XGBoost's `pred_contribs` (path-dependent TreeSHAP on the margin). Its margins are
 * XGBoost's log-odds, so calibration is the identity.
 */
export function xgboostArtifact(input: XgboostImport, catalog: Catalog): ModelArtifact {
  const model = gbdtFromXgboost(parseXgboostJson(input.text), { featureNames: input.featureNames, categories: input.categories });
  const names = model.features.map((f) => f.name);
  const fromCatalogue = names.every((n) => catalog.byName.has(n));
  const featureSetVersion = input.featureSet !== 'none' && fromCatalogue && names.length === catalog.names.length ? catalog.version : null;
  const baseRate = input.baseRate ?? sigmoid(model.baseScore);
  if (!(baseRate > 0 && baseRate < 1)) throw new ChurnError('CHURN_ERR_VALIDATION', `the base rate must lie strictly between 0 and 1, got ${baseRate}`);
  const families = Object.fromEntries(names.map((n) => [n, catalog.byName.get(n)?.family ?? 'other']));
  const draft = {
    format: ARTIFACT_FORMAT, model_type: 'gbdt' as const, feature_names: names,
    feature_kinds: Object.fromEntries(model.features.map((f) => [f.name, f.kind === 'categorical' ? 'text' as const : 'numeric' as const])),
    feature_families: families, feature_set_version: featureSetVersion, label: 'churned', gbdt: model, explanation: 'tree_path_dependent' as const,
    calibration: { a: 1, b: 0 }, explanation_reference: [], references: Object.fromEntries(names.map((n) => [n, null])),
    training: {
      seed: 0, backend: 'xgboost', rows: { train: 0, valid: 0, test: 0 }, churn_rate: baseRate, chosen_by: 'imported from XGBoost',
      positive_weight: 1, params: model.params, best_epoch: model.trees.length, source: `xgboost:${path.basename(input.file)}`,
    },
  };
  return parseArtifact({ ...draft, input_contract: contractOf(draft) }, `imported XGBoost model ${input.file}`);
}

/** Registers an imported XGBoost model as a new version (no alias: promote it like any other). */
export async function importXgboostModel(pool: Pool, input: XgboostImport, catalog: Catalog): Promise<ModelVersion> {
  const artifact = xgboostArtifact(input, catalog);
  return registerModel(pool, {
    modelType: 'gbdt', artifact, params: { imported_from: 'xgboost', ...artifact.gbdt!.params }, metrics: {},
    trainingWindow: null, featureSetVersion: artifact.feature_set_version, dataFingerprint: sha256Hex(input.text),
    gitRevision: await gitRevision(), dataSource: artifact.training.source,
  });
}
