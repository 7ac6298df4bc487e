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
  /** Platt scaling on the log-odds: calibrated = a * logit + b; a below zero would reverse every contribution */
  calibration: z.object({ a: z.number().min(0, 'a negative calibration slope would reverse every explanation'), b: z.number() }),
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
  /**
   * the references of young accounts, youngest band first: an account whose tenure_days is under a
   * band's `max_tenure_days` (the first such band) is explained against the typical retained training
   * account of that age (training/preprocess.ts groupReferences), not against established ones;
   * absent when the model has no tenure_days or training had too few young rows
   */
  young_references: z.array(z.object({
    max_tenure_days: z.number().int().positive(),
    /** retained training rows it was taken from (tenure_days under max_tenure_days) */
    rows: z.number().int().positive(),
    references: z.record(z.string(), z.union([z.number(), z.string()]).nullable()),
    /** its encoding (network models), as `explanation_reference` */
    explanation_reference: z.array(z.number()).optional(),
  })).min(1).optional(),
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
  const bands = a.young_references ?? [];
  if (bands.length && a.feature_kinds.tenure_days !== 'numeric') corrupt('young accounts\' references without a numeric tenure_days feature');
  if (bands.some((b, k) => k > 0 && b.max_tenure_days <= bands[k - 1].max_tenure_days)) corrupt('young accounts\' references out of order (youngest band first)');
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
  for (const b of bands) if (b.explanation_reference?.length !== d) corrupt(`the young accounts' reference (first ${b.max_tenure_days} days) has ${b.explanation_reference?.length ?? 'no'} encoded inputs, the preprocessing produces ${d}`);
  if (a.preprocessing.columns.map((c) => c.name).join('\u0000') !== a.feature_names.join('\u0000')) corrupt('feature_names do not match the preprocessing columns');
  return a;
}

const short = (x: unknown): string => (typeof x === 'number' ? String(Number(x.toPrecision(3))) : String(x));

/**
 * The model's type and main settings in one line, for `churn models show` and the accuracy report:
 * trees, growth, depth or leaves and learning rate for a GBDT; layers, L2 and learning rate for a network.
 */
export function describeSettings(a: ModelArtifact): string {
  const monotone = (m: readonly number[]) => m.filter((x) => x !== 0).length;
  if (a.model_type === 'gbdt' && a.gbdt) {
    const g = a.gbdt;
    const p = g.params;
    const trees = `${g.trees.length} trees`;
    const constraints = monotone(g.monotone) ? `, ${monotone(g.monotone)} of ${g.features.length} features monotone` : '';
    const explained = a.explanation === 'tree_path_dependent' ? 'TreeSHAP (path-dependent)' : `Shapley values against the typical retained account${ofTheirAge(a)}`;
    if (g.source === 'xgboost') return `gradient-boosted trees imported from XGBoost${p.xgboost_version ? ` ${short(p.xgboost_version)}` : ''}: ${trees}${constraints}; explained by ${explained}`;
    const members = Array.isArray(p.members) ? (p.members as { params: Record<string, unknown>; rounds: number }[]) : [{ params: p, rounds: g.trees.length }];
    const setting = (q: Record<string, unknown>) => {
      const shape = q.growth === 'leafwise' ? `leaf-wise up to ${short(q.maxLeaves)} leaves (depth <= ${short(q.maxDepth)})` : `depth-wise to depth ${short(q.maxDepth)}`;
      const sampling = (q.subsample !== undefined && q.subsample !== 1) || (q.colsample !== undefined && q.colsample !== 1)
        ? `, row/column sampling ${short(q.subsample ?? 1)}/${short(q.colsample ?? 1)}` : '';
      return `${shape}, learning rate ${short(q.learningRate)}${sampling}, L2 ${short(q.lambda ?? 1)}, min child weight ${short(q.minChildWeight ?? 1)}`;
    };
    const body = members.length === 1
      ? `${trees}, ${setting(members[0].params)}`
      : `${trees}, the mean of ${members.length} boosted models (${members.map((m) => `${m.rounds} trees ${setting(m.params)}`).join('; ')})`;
    return `gradient-boosted trees: ${body}${constraints}; explained by ${explained}`;
  }
  const p = a.training.params;
  const inputs = a.preprocessing?.encodedNames.length ?? a.feature_names.length;
  const hidden = Array.isArray(p.hidden) && p.hidden.length ? ` hidden layers ${p.hidden.join('x')},` : '';
  const what = a.model_type === 'mlp' ? 'multilayer perceptron' : 'logistic regression';
  return `${what} on ${inputs} model inputs (${a.feature_names.length} features):${hidden} L2 ${short(p.l2)}, learning rate ${short(p.learningRate)}, batch ${short(p.batchSize)}`
    + `; explained against the typical retained account${ofTheirAge(a)}`;
}

/** ", accounts in their first 30 or 90 days against retained accounts of that age" when the artifact has young bands. */
function ofTheirAge(a: ModelArtifact): string {
  const bands = a.young_references?.map((b) => b.max_tenure_days) ?? [];
  if (bands.length === 0) return '';
  const days = bands.length === 1 ? `${bands[0]}` : `${bands.slice(0, -1).join(', ')} or ${bands[bands.length - 1]}`;
  return ` (accounts in their first ${days} days against retained accounts of that age)`;
}
