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
  /** which reference the row is explained against: the index of its young band (Scorer.youngBands), or -1 for the common one */
  band: number;
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
   * the young accounts' references, youngest first (empty when the artifact has none): a row whose
   * tenure_days is under a band's `maxTenureDays` (the first such band) is explained against its
   * `references` (featureNames order) and `baseValue`
   */
  youngBands: { maxTenureDays: number; references: (number | string | null)[]; baseValue: number }[];
  baseValue: number;
  /** scores one row of raw values keyed by feature name; absent features count as missing */
  score(row: Record<string, RawValue>): RowScore;
  scoreMany(rows: Record<string, RawValue>[]): RowScore[];
  /** feature names the row lacks entirely (not even null), for callers that want to refuse them */
  missingFeatures(keys: Iterable<string>): string[];
}

/** The young band a row is explained against: the first whose bound its tenure_days is under (-1: none, the common reference). */
function bandOf(row: Record<string, RawValue>, bands: readonly { max_tenure_days: number }[]): number {
  if (bands.length === 0) return -1;
  const v = row.tenure_days;
  const t = typeof v === 'number' ? v : typeof v === 'string' && v.trim() !== '' ? Number(v) : NaN;
  if (!(t >= 0)) return -1;
  return bands.findIndex((b) => t < b.max_tenure_days);
}

/** The parts of a scorer that depend only on the artifact's description of its features. */
function describeFeatures(artifact: ModelArtifact, bands: readonly { max_tenure_days: number; references: ModelArtifact['references'] }[], bandBase: readonly number[]) {
  const featureNames = [...artifact.feature_names];
  return {
    modelType: artifact.model_type,
    featureNames,
    families: featureNames.map((f) => artifact.feature_families[f] ?? 'other'),
    kinds: featureNames.map((f) => artifact.feature_kinds[f]),
    references: featureNames.map((f) => artifact.references[f] ?? null),
    youngBands: bands.map((b, k) => ({ maxTenureDays: b.max_tenure_days, references: featureNames.map((f) => b.references[f] ?? null), baseValue: bandBase[k] })),
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
  const bands = pathDependent ? [] : artifact.young_references ?? [];
  const bandExplainers = bands.map((yb) => createReferenceExplainer(c, encodeRow(c, yb.references, new Float64Array(d))));
  const x = new Float64Array(d);
  const phi = new Float64Array(d);
  const baseValue = a * explainer.baseValue + b;
  const bandBase = bandExplainers.map((e) => a * e.baseValue + b);
  const score = (row: Record<string, RawValue>): RowScore => {
    if (row === null || typeof row !== 'object') throw new ChurnError('CHURN_ERR_VALIDATION', 'a row to score must be an object of feature values');
    const band = bandOf(row, bands);
    const margin = (band >= 0 ? bandExplainers[band] : explainer).explain(encodeRow(c, row, x), phi);
    const contributions = new Float64Array(d);
    for (let j = 0; j < d; j++) contributions[j] = a * phi[j];
    const logit = a * margin + b;
    return { probability: sigmoid(logit), logit, baseValue: band >= 0 ? bandBase[band] : baseValue, contributions, band };
  };
  return { ...describeFeatures(artifact, bands, bandBase), baseValue, score, scoreMany: (rows) => rows.map(score) };
}

function networkScorer(artifact: ModelArtifact): Scorer {
  const pre = artifact.preprocessing!;
  const net = compileNetwork(artifact.network!);
  const reference = Float64Array.from(artifact.explanation_reference);
  const explainer = createExplainer(net, reference);
  const bands = artifact.young_references ?? [];
  const bandExplainers = bands.map((yb) => createExplainer(net, Float64Array.from(yb.explanation_reference!)));
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
  const bandBase = bandExplainers.map((e) => a * e.baseValue + b);

  const score = (row: Record<string, RawValue>): RowScore => {
    if (row === null || typeof row !== 'object') throw new ChurnError('CHURN_ERR_VALIDATION', 'a row to score must be an object of feature values');
    const cols = pre.columns;
    for (let j = 0; j < cols.length; j++) encodeValue(cols[j], row[cols[j].name], x, offsets[j], indexes[j]);
    const band = bandOf(row, bands);
    const raw = (band >= 0 ? bandExplainers[band] : explainer).explain(x, encoded);
    const contributions = new Float64Array(featureNames.length);
    for (let k = 0; k < d; k++) contributions[pre.encodedToRaw[k]] += a * encoded[k];
    const logit = a * raw + b;
    return { probability: sigmoid(logit), logit, baseValue: band >= 0 ? bandBase[band] : baseValue, contributions, band };
  };

  return { ...describeFeatures(artifact, bands, bandBase), baseValue, score, scoreMany: (rows) => rows.map(score) };
}
