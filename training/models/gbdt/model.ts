import { z } from 'zod';
import { ChurnError, describeIssues } from '../../../core/errors.ts';

export const GBDT_FORMAT = 'churnlens-gbdt/1';

/**
 * One tree as flat arrays indexed by node (node 0 is the root). A leaf has `left = right = -1` and
 * `feature = -1`. At an internal node on a numeric feature the row goes left when `x < threshold`;
 * on a categorical feature it goes left when its category (an index into the feature's `categories`)
 * is in `categories[node]`. Any other category (one unseen in training, or too rare to get its own
 * bin) goes right. A missing value goes left when `defaultLeft[node]`. `value` is the node's
 * contribution to the margin (log-odds) for leaves, and the weight it would have as a leaf for
 * internal nodes; `cover` is the hessian sum of the training rows that reached the node.
 */
export const GbdtTree = z.object({
  left: z.array(z.number().int().min(-1)),
  right: z.array(z.number().int().min(-1)),
  feature: z.array(z.number().int().min(-1)),
  threshold: z.array(z.number()),
  defaultLeft: z.array(z.boolean()),
  /** category indices sent left, per node; [] for numeric nodes and leaves */
  categories: z.array(z.array(z.number().int().nonnegative())),
  value: z.array(z.number()),
  cover: z.array(z.number().nonnegative()),
});
export type GbdtTree = z.infer<typeof GbdtTree>;

export const GbdtFeature = z.discriminatedUnion('kind', [
  z.object({ name: z.string(), kind: z.literal('numeric') }),
  /** `categories[k]` is the category with index k in the trees' category sets */
  z.object({ name: z.string(), kind: z.literal('categorical'), categories: z.array(z.string()) }),
]);
export type GbdtFeature = z.infer<typeof GbdtFeature>;

export const GbdtModel = z.object({
  format: z.literal(GBDT_FORMAT),
  objective: z.literal('binary:logistic'),
  /** the margin (log-odds) before any tree: the weighted prior log-odds of the training rows */
  baseScore: z.number(),
  features: z.array(GbdtFeature).min(1),
  /** per feature: +1 risk never decreases with the value, -1 never increases, 0 free */
  monotone: z.array(z.union([z.literal(-1), z.literal(0), z.literal(1)])),
  trees: z.array(GbdtTree),
  /**
   * 'float32' when numeric inputs are rounded to 32-bit floats before the comparisons (models imported
   * from XGBoost, which compares in float32); 'float64' for models trained here
   */
  inputPrecision: z.enum(['float64', 'float32']),
  /** where the trees came from and the settings used ('xgboost' for imported models) */
  source: z.enum(['churnlens', 'xgboost']),
  params: z.record(z.string(), z.unknown()),
  /** boosting rounds kept (the best validation round when early stopping was on) */
  bestIteration: z.number().int().nonnegative().nullable(),
});
export type GbdtModel = z.infer<typeof GbdtModel>;

function corrupt(where: string, message: string): never {
  throw new ChurnError('CHURN_ERR_ARTIFACT_CORRUPT', `${where}: ${message}`);
}

/** Checks one tree's arrays against each other and the features: lengths, indices, reachability. */
function checkTree(t: GbdtTree, features: GbdtFeature[], where: string): void {
  const n = t.left.length;
  if (n === 0) corrupt(where, 'a tree has no nodes');
  for (const [name, arr] of Object.entries(t)) if (arr.length !== n) corrupt(where, `${name} has ${arr.length} entries, left has ${n}`);
  const seen = new Uint8Array(n);
  const stack = [0];
  while (stack.length) {
    const i = stack.pop()!;
    if (seen[i]) corrupt(where, `node ${i} is reached twice`);
    seen[i] = 1;
    const l = t.left[i];
    const r = t.right[i];
    if ((l < 0) !== (r < 0)) corrupt(where, `node ${i} has one child`);
    if (l < 0) continue;
    if (l >= n || r >= n) corrupt(where, `node ${i} has a child out of range`);
    const f = features[t.feature[i]];
    if (!f) corrupt(where, `node ${i} splits on feature ${t.feature[i]}, the model has ${features.length}`);
    if (f.kind === 'categorical') {
      if (t.categories[i].some((c) => c >= f.categories.length)) corrupt(where, `node ${i} names a category beyond the ${f.categories.length} of ${f.name}`);
    } else if (Number.isNaN(t.threshold[i])) corrupt(where, `node ${i} has no threshold`);
    stack.push(l, r);
  }
}

/** Validates a GBDT model read from JSON; a malformed one is CHURN_ERR_ARTIFACT_CORRUPT. */
export function parseGbdtModel(raw: unknown, where = 'GBDT model'): GbdtModel {
  const parsed = GbdtModel.safeParse(raw);
  if (!parsed.success) corrupt(where, `not a valid ${GBDT_FORMAT} document: ${describeIssues(parsed.error.issues)}`);
  const m = parsed.data;
  if (m.monotone.length !== m.features.length) corrupt(where, `monotone has ${m.monotone.length} entries for ${m.features.length} features`);
  m.features.forEach((f, j) => {
    if (f.kind === 'categorical' && m.monotone[j] !== 0) corrupt(where, `categorical feature ${f.name} cannot be monotone`);
  });
  m.trees.forEach((t, k) => checkTree(t, m.features, `${where}, tree ${k}`));
  return m;
}
