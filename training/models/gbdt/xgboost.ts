import { z } from 'zod';
import { ChurnError, describeIssues } from '../../../core/errors.ts';
import { GBDT_FORMAT, parseGbdtModel, type GbdtFeature, type GbdtModel, type GbdtTree } from './model.ts';

/**
 * Loads an XGBoost model saved with `save_model('model.json')` (binary:logistic or binary:logitraw,
 * gbtree booster) into a GbdtModel: same margins and, through createTreeExplainer, the same
 * contributions as XGBoost's predict(output_margin=True) and pred_contribs=True.
 *
 * XGBoost semantics kept: a numeric split sends x < split_condition left (compared in float32, hence
 * inputPrecision 'float32'); missing values follow default_left; a categorical split sends the
 * categories listed for the node right and every other category (unknown ones included) left, so the
 * children are swapped here (our trees send the listed set left). base_score is a probability for
 * binary:logistic (logit gives the margin; true of XGBoost 1.x and 2.x). All trees are used (a model's
 * best_iteration attribute is not applied).
 */
export interface XgboostImportOptions {
  /** feature names in column order (default: the model's own, else f0, f1, ...) */
  featureNames?: string[];
  /** category names in code order per categorical feature (default: the codes as text) */
  categories?: Record<string, string[]>;
}

const Flag = z.union([z.number(), z.boolean()]).transform((v) => v === true || v === 1);
const XgbTree = z.object({
  left_children: z.array(z.number().int()),
  right_children: z.array(z.number().int()),
  split_indices: z.array(z.number().int().nonnegative()),
  split_conditions: z.array(z.number().nullable()),
  default_left: z.array(Flag),
  sum_hessian: z.array(z.number()),
  base_weights: z.array(z.number().nullable()),
  split_type: z.array(z.number().int()).optional(),
  categories: z.array(z.number().int().nonnegative()).optional(),
  categories_nodes: z.array(z.number().int().nonnegative()).optional(),
  categories_segments: z.array(z.number().int().nonnegative()).optional(),
  categories_sizes: z.array(z.number().int().nonnegative()).optional(),
});
type XgbTree = z.infer<typeof XgbTree>;
const XgbDocument = z.object({
  version: z.array(z.number()).optional(),
  learner: z.object({
    feature_names: z.array(z.string()).optional(),
    feature_types: z.array(z.string()).optional(),
    learner_model_param: z.object({ base_score: z.string(), num_feature: z.string(), num_class: z.string().optional() }),
    objective: z.object({ name: z.string() }),
    gradient_booster: z.object({ name: z.string(), model: z.object({ trees: z.array(XgbTree) }).optional() }),
  }),
});
type XgbDocument = z.infer<typeof XgbDocument>;

const bad = (message: string): never => {
  throw new ChurnError('CHURN_ERR_VALIDATION', `XGBoost model: ${message}`);
};

/** Parses XGBoost's JSON text, which may hold bare NaN / Infinity tokens (read as null). */
export function parseXgboostJson(text: string): unknown {
  let out = '';
  let from = 0;
  let inString = false;
  for (let i = 0; i < text.length; i++) {
    const ch = text[i];
    if (inString) {
      if (ch === '\\') i++;
      else if (ch === '"') inString = false;
      continue;
    }
    if (ch === '"') { inString = true; continue; }
    const token = text.startsWith('NaN', i) ? 'NaN' : text.startsWith('-Infinity', i) ? '-Infinity' : text.startsWith('Infinity', i) ? 'Infinity' : null;
    if (token) {
      out += `${text.slice(from, i)}null`;
      i += token.length - 1;
      from = i + 1;
    }
  }
  out += text.slice(from);
  try {
    return JSON.parse(out);
  } catch (err) {
    return bad(`not JSON: ${(err as Error).message}`);
  }
}

function baseMargin(doc: XgbDocument): number {
  const raw = Number(doc.learner.learner_model_param.base_score.replace(/^\[|\]$/g, ''));
  const objective = doc.learner.objective.name;
  if (!Number.isFinite(raw)) bad(`base_score "${doc.learner.learner_model_param.base_score}" is not a number`);
  if (objective === 'binary:logitraw') return raw;
  if (objective !== 'binary:logistic') bad(`objective ${objective} is not supported (binary:logistic or binary:logitraw)`);
  if (!(raw > 0 && raw < 1)) bad(`base_score ${raw} is not a probability`);
  return Math.log(raw / (1 - raw));
}

function features(doc: XgbDocument, trees: XgbTree[], opts: XgboostImportOptions): GbdtFeature[] {
  const d = Number(doc.learner.learner_model_param.num_feature);
  const names = opts.featureNames ?? doc.learner.feature_names ?? Array.from({ length: d }, (_, j) => `f${j}`);
  if (names.length !== d) bad(`${names.length} feature names for ${d} features`);
  const types = doc.learner.feature_types ?? [];
  return names.map((name, j): GbdtFeature => {
    const type = types[j] ?? 'float';
    if (type !== 'c') {
      if (!['float', 'int', 'i', 'q'].includes(type)) bad(`feature ${name} has unknown type "${type}"`);
      return { name, kind: 'numeric' };
    }
    let maxCode = -1;
    for (const t of trees) {
      (t.categories_nodes ?? []).forEach((node, k) => {
        if (t.split_indices[node] !== j) return;
        const from = t.categories_segments![k];
        for (let i = from; i < from + t.categories_sizes![k]; i++) maxCode = Math.max(maxCode, t.categories![i]);
      });
    }
    const given = opts.categories?.[name];
    if (given && given.length <= maxCode) bad(`feature ${name}: ${given.length} category names, but the trees use code ${maxCode}`);
    return { name, kind: 'categorical', categories: given ?? Array.from({ length: maxCode + 1 }, (_, k) => String(k)) };
  });
}

function convertTree(t: XgbTree, k: number, feats: GbdtFeature[]): GbdtTree {
  const n = t.left_children.length;
  const catSets = new Map<number, number[]>();
  (t.categories_nodes ?? []).forEach((node, i) => {
    const from = t.categories_segments?.[i] ?? bad(`tree ${k}: categories_segments is missing`);
    const size = t.categories_sizes?.[i] ?? bad(`tree ${k}: categories_sizes is missing`);
    catSets.set(node, [...(t.categories ?? []).slice(from, from + size)].sort((a, b) => a - b));
  });
  const out: GbdtTree = { left: [], right: [], feature: [], threshold: [], defaultLeft: [], categories: [], value: [], cover: [] };
  for (let i = 0; i < n; i++) {
    const leaf = t.left_children[i] < 0;
    const cond = t.split_conditions[i];
    const f = t.split_indices[i];
    const categorical = !leaf && (t.split_type?.[i] ?? 0) === 1;
    if (!leaf && f >= feats.length) bad(`tree ${k} node ${i} splits on feature ${f} of ${feats.length}`);
    if (categorical !== (!leaf && feats[f].kind === 'categorical')) bad(`tree ${k} node ${i}: split type does not match the type of feature ${f}`);
    if (cond === null && !categorical) bad(`tree ${k} node ${i} has no split condition`);
    // categorical: XGBoost sends the listed categories right; ours go left, so the children swap
    out.left.push(leaf ? -1 : categorical ? t.right_children[i] : t.left_children[i]);
    out.right.push(leaf ? -1 : categorical ? t.left_children[i] : t.right_children[i]);
    out.feature.push(leaf ? -1 : f);
    out.threshold.push(leaf || categorical ? 0 : Math.fround(cond!));
    out.defaultLeft.push(!leaf && t.default_left[i] !== categorical);
    out.categories.push(categorical ? (catSets.get(i) ?? []) : []);
    out.value.push(leaf ? cond! : (t.base_weights[i] ?? 0));
    out.cover.push(Math.max(0, t.sum_hessian[i]));
  }
  return out;
}

/** Converts a parsed XGBoost JSON document (see parseXgboostJson) into a validated GbdtModel. */
export function gbdtFromXgboost(raw: unknown, opts: XgboostImportOptions = {}): GbdtModel {
  const parsed = XgbDocument.safeParse(raw);
  if (!parsed.success) bad(`not an XGBoost JSON model: ${describeIssues(parsed.error.issues)}`);
  const doc = parsed.data!;
  const booster = doc.learner.gradient_booster;
  if (booster.name !== 'gbtree' || !booster.model) bad(`booster ${booster.name} is not supported (gbtree)`);
  if (Number(doc.learner.learner_model_param.num_class ?? 0) > 1) bad('multi-class models are not supported');
  const trees = booster.model!.trees;
  const feats = features(doc, trees, opts);
  const model: GbdtModel = {
    format: GBDT_FORMAT, objective: 'binary:logistic', baseScore: baseMargin(doc), features: feats,
    monotone: feats.map(() => 0 as const), trees: trees.map((t, k) => convertTree(t, k, feats)),
    inputPrecision: 'float32', source: 'xgboost', bestIteration: null,
    params: { xgboost_version: doc.version?.join('.') ?? null, objective: doc.learner.objective.name, trees: trees.length },
  };
  return parseGbdtModel(model, 'imported XGBoost model');
}
