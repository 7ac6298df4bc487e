import { z } from 'zod';
import { ChurnError, describeIssues } from '../core/errors.ts';
import { GbdtModel } from './models/gbdt/model.ts';
import { NetworkWeights } from './models/network.ts';
import { InputContract } from './contract.ts';
import { Preprocessing } from './preprocess.ts';

export const ARTIFACT_FORMAT = 'churnlens-model/1';

/**
 * A trained model as one JSON document: everything needed to score a raw row and explain the score
 * (preprocessing, weights, calibration, the explanation reference), plus a training summary.
 */
export const ModelArtifact = z.object({
  format: z.literal(ARTIFACT_FORMAT),
  model_type: z.enum(['logistic', 'mlp', 'gbdt']),
  /** raw input features in order (what a caller supplies) */
  feature_names: z.array(z.string()).min(1),
  feature_kinds: z.record(z.string(), z.enum(['numeric', 'text'])),
  /** feature -> family (engagement, usage, adoption, support, ...; 'other' when unknown) */
  feature_families: z.record(z.string(), z.string()),
  /** the feature-set hash on the database path; null for a prepared CSV */
  feature_set_version: z.string().nullable(),
  label: z.string(),
  /** how raw values become the network's inputs (network models; a GBDT takes raw values) */
  preprocessing: Preprocessing.optional(),
  network: NetworkWeights.optional(),
  /** the trees of a gradient-boosted model (model_type gbdt) */
  gbdt: GbdtModel.optional(),
  /**
   * how a GBDT's contributions are computed: `reference` (Shapley values against the reference row,
   * the typical retained account, as for every other model; the default) or `tree_path_dependent`
   * (TreeSHAP's path-dependent values, what XGBoost's pred_contribs gives: imported XGBoost models)
   */
  explanation: z.enum(['reference', 'tree_path_dependent']).optional(),
  /** Platt scaling on the log-odds: calibrated = a * logit + b */
  calibration: z.object({ a: z.number(), b: z.number() }),
  /**
   * explanation baseline, one value per encoded input: the encoding of the reference row (each
   * feature's typical retained value), so a contribution says how far the account's value moves the
   * risk from the typical retained account's; artifacts from before 2026-12 hold the training mean
   */
  explanation_reference: z.array(z.number()),
  /** what a row must look like to be scored (training/contract.ts); derived from the preprocessing when absent */
  input_contract: InputContract.optional(),
  /** typical value per raw feature among retained training rows (median, or most common text) */
  references: z.record(z.string(), z.union([z.number(), z.string()]).nullable()),
  training: z.object({
    seed: z.number().int(),
    backend: z.string(),
    rows: z.object({ train: z.number().int(), valid: z.number().int(), test: z.number().int() }),
    churn_rate: z.number(),
    chosen_by: z.string(),
    positive_weight: z.number(),
    params: z.record(z.string(), z.unknown()),
    best_epoch: z.number().int(),
    source: z.string(),
  }),
  /** global view of the explanations on held-out rows: mean |contribution| and mean contribution per feature */
  importance: z.object({
    rows: z.number().int(),
    split: z.string(),
    mean_abs_contribution: z.record(z.string(), z.number()),
    mean_contribution: z.record(z.string(), z.number()),
    /** largest |base + sum(contributions) - logit(p)| seen on those rows */
    max_additivity_error: z.number(),
  }).optional(),
});
export type ModelArtifact = z.infer<typeof ModelArtifact>;

/** Validates an artifact read back from a file or the registry; a malformed one is CHURN_ERR_ARTIFACT_CORRUPT. */
/** The training churn rate recorded in an artifact already accepted by parseArtifact/createScorer. */
export function baseRateOf(artifact: unknown): number {
  return (artifact as ModelArtifact).training.churn_rate;
}

export function parseArtifact(raw: unknown, where = 'model artifact'): ModelArtifact {
  const parsed = ModelArtifact.safeParse(raw);
  if (!parsed.success) throw new ChurnError('CHURN_ERR_ARTIFACT_CORRUPT', `${where} is not a valid ${ARTIFACT_FORMAT} document: ${describeIssues(parsed.error.issues)}`);
  const a = parsed.data;
  const corrupt = (message: string): never => {
    throw new ChurnError('CHURN_ERR_ARTIFACT_CORRUPT', `${where}: ${message}`);
  };
  if (a.model_type === 'gbdt') {
    if (!a.gbdt) corrupt('a gbdt model without its trees');
    if (a.gbdt!.features.map((f) => f.name).join('\u0000') !== a.feature_names.join('\u0000')) corrupt('feature_names do not match the trees\' features');
    return a;
  }
  if (!a.network || !a.preprocessing) return corrupt(`a ${a.model_type} model without its network and preprocessing`);
  const d = a.preprocessing.encodedNames.length;
  if (a.network.layers[0].kernel.length !== d || a.explanation_reference.length !== d) {
    corrupt(`the network expects ${a.network.layers[0].kernel.length} inputs but the preprocessing produces ${d}`);
  }
  if (a.preprocessing.columns.map((c) => c.name).join('\u0000') !== a.feature_names.join('\u0000')) corrupt('feature_names do not match the preprocessing columns');
  return a;
}
