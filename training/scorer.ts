import { ChurnError } from '../core/errors.ts';
import { parseArtifact, type ModelArtifact } from './artifact.ts';
import { sigmoid } from './calibrate.ts';
import { createExplainer } from './explain.ts';
import { compileGbdt, createReferenceExplainer, createTreeExplainer, encodeRow } from './models/gbdt/index.ts';
import { compileNetwork } from './models/network.ts';
import { encodedWidth, encodeValue } from './preprocess.ts';

export type RawValue = number | string | boolean | null | undefined;

export interface RowScore {
  /** calibrated churn probability */
  probability: number;
  /** calibrated log-odds: log(p / (1 - p)) */
  logit: number;
  /** calibrated log-odds at the explanation reference */
  baseValue: number;
  /** per raw feature (featureNames order), on the calibrated log-odds scale; base + sum = logit */
  contributions: Float64Array;
  /** explained against the young accounts' reference (see Scorer.young) rather than the common one */
  young: boolean;
}

export interface Scorer {
  modelType: ModelArtifact['model_type'];
  featureNames: string[];
  /** family per feature, featureNames order */
  families: string[];
  kinds: ('numeric' | 'text')[];
  /** typical value among retained training rows, featureNames order */
  references: (number | string | null)[];
  /**
   * the young accounts' reference, when the artifact has one: rows whose tenure_days is under
   * `maxTenureDays` are explained against `references` (featureNames order) and `baseValue`
   */
  young: { maxTenureDays: number; references: (number | string | null)[]; baseValue: number } | null;
  baseValue: number;
  /** scores one row of raw values keyed by feature name; absent features count as missing */
  score(row: Record<string, RawValue>): RowScore;
  scoreMany(rows: Record<string, RawValue>[]): RowScore[];
  /** feature names the row lacks entirely (not even null), for callers that want to refuse them */
  missingFeatures(keys: Iterable<string>): string[];
}

/** Whether a row is explained against the young accounts' reference: its tenure_days is under the bound. */
function isYoung(row: Record<string, RawValue>, maxTenureDays: number): boolean {
  const v = row.tenure_days;
  const t = typeof v === 'number' ? v : typeof v === 'string' && v.trim() !== '' ? Number(v) : NaN;
  return t >= 0 && t < maxTenureDays;
}

/** The parts of a scorer that depend only on the artifact's description of its features. */
function describeFeatures(artifact: ModelArtifact, youngBase: number | null) {
  const featureNames = [...artifact.feature_names];
  const yr = artifact.young_reference;
  return {
    modelType: artifact.model_type,
    featureNames,
    families: featureNames.map((f) => artifact.feature_families[f] ?? 'other'),
    kinds: featureNames.map((f) => artifact.feature_kinds[f]),
    references: featureNames.map((f) => artifact.references[f] ?? null),
    young: yr && youngBase !== null ? { maxTenureDays: yr.max_tenure_days, references: featureNames.map((f) => yr.references[f] ?? null), baseValue: youngBase } : null,
    missingFeatures: (keys: Iterable<string>) => {
      const have = new Set(keys);
      return featureNames.filter((f) => !have.has(f));
    },
  };
}

/**
 * A plain-JS scorer (no tensors) for one artifact: preprocessing (networks) or raw values (trees),
 * the model, calibration and exact additive explanations. Buffers are allocated once and reused; each
 * result owns its contributions.
 */
export function createScorer(input: ModelArtifact | unknown): Scorer {
  const artifact = parseArtifact(input);
  return artifact.model_type === 'gbdt' ? treeScorer(artifact) : networkScorer(artifact);
}

/**
 * Gradient-boosted trees: contributions are Shapley values of the margin against the reference row
 * (each feature's typical retained value; training/models/gbdt/reference-shap.ts), or TreeSHAP's
 * path-dependent values for a model imported from XGBoost (what its pred_contribs gives), scaled by
 * the Platt slope so that they add up on the calibrated log-odds scale.
 */
function treeScorer(artifact: ModelArtifact): Scorer {
  const c = compileGbdt(artifact.gbdt);
  const { a, b } = artifact.calibration;
  const d = c.featureNames.length;
  const reference = encodeRow(c, artifact.references, new Float64Array(d));
  const pathDependent = artifact.explanation === 'tree_path_dependent';
  const explainer = pathDependent ? createTreeExplainer(c) : createReferenceExplainer(c, reference);
  const yr = pathDependent ? undefined : artifact.young_reference;
  const youngExplainer = yr ? createReferenceExplainer(c, encodeRow(c, yr.references, new Float64Array(d))) : null;
  const x = new Float64Array(d);
  const phi = new Float64Array(d);
  const baseValue = a * explainer.baseValue + b;
  const youngBase = youngExplainer ? a * youngExplainer.baseValue + b : baseValue;
  const score = (row: Record<string, RawValue>): RowScore => {
    if (row === null || typeof row !== 'object') throw new ChurnError('CHURN_ERR_VALIDATION', 'a row to score must be an object of feature values');
    const young = youngExplainer !== null && isYoung(row, yr!.max_tenure_days);
    const margin = (young ? youngExplainer : explainer).explain(encodeRow(c, row, x), phi);
    const contributions = new Float64Array(d);
    for (let j = 0; j < d; j++) contributions[j] = a * phi[j];
    const logit = a * margin + b;
    return { probability: sigmoid(logit), logit, baseValue: young ? youngBase : baseValue, contributions, young };
  };
  return { ...describeFeatures(artifact, yr ? youngBase : null), baseValue, score, scoreMany: (rows) => rows.map(score) };
}

function networkScorer(artifact: ModelArtifact): Scorer {
  const pre = artifact.preprocessing!;
  const net = compileNetwork(artifact.network!);
  const reference = Float64Array.from(artifact.explanation_reference);
  const explainer = createExplainer(net, reference);
  const yr = artifact.young_reference;
  const youngExplainer = yr ? createExplainer(net, Float64Array.from(yr.explanation_reference!)) : null;
  const { a, b } = artifact.calibration;
  const d = pre.encodedNames.length;
  const x = new Float64Array(d);
  const encoded = new Float64Array(d);
  const offsets: number[] = [];
  let off = 0;
  for (const s of pre.columns) {
    offsets.push(off);
    off += encodedWidth(s);
  }
  const indexes = pre.columns.map((s) => (s.kind === 'text' ? new Map(s.categories.map((c, k) => [c, k])) : undefined));
  const featureNames = [...artifact.feature_names];
  const baseValue = a * explainer.baseValue + b;
  const youngBase = youngExplainer ? a * youngExplainer.baseValue + b : baseValue;

  const score = (row: Record<string, RawValue>): RowScore => {
    if (row === null || typeof row !== 'object') throw new ChurnError('CHURN_ERR_VALIDATION', 'a row to score must be an object of feature values');
    const cols = pre.columns;
    for (let j = 0; j < cols.length; j++) encodeValue(cols[j], row[cols[j].name], x, offsets[j], indexes[j]);
    const young = youngExplainer !== null && isYoung(row, yr!.max_tenure_days);
    const raw = (young ? youngExplainer : explainer).explain(x, encoded);
    const contributions = new Float64Array(featureNames.length);
    for (let k = 0; k < d; k++) contributions[pre.encodedToRaw[k]] += a * encoded[k];
    const logit = a * raw + b;
    return { probability: sigmoid(logit), logit, baseValue: young ? youngBase : baseValue, contributions, young };
  };

  return { ...describeFeatures(artifact, yr ? youngBase : null), baseValue, score, scoreMany: (rows) => rows.map(score) };
}
