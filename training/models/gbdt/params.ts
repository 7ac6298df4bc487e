import { z } from 'zod';
import { ChurnError, describeIssues } from '../../../core/errors.ts';

/**
 * Training settings of the histogram GBDT (binary log-loss). Names follow XGBoost/LightGBM where
 * they exist: `maxDepth` (max_depth), `maxLeaves` (max_leaves), `minChildWeight` (min_child_weight,
 * a hessian sum), `lambda` (L2 on leaf weights), `minSplitGain` (gamma / min_split_loss),
 * `subsample` and `colsample` (per tree), `catSmooth`, `maxCatThreshold` and `maxCatToOnehot`.
 */
export const GbdtParams = z.object({
  /** 'depthwise' grows level by level up to maxDepth (XGBoost); 'leafwise' splits the best leaf until maxLeaves (LightGBM), maxDepth still caps it */
  growth: z.enum(['depthwise', 'leafwise']).default('depthwise'),
  maxDepth: z.number().int().min(1).max(16).default(6),
  maxLeaves: z.number().int().min(2).max(4096).default(31),
  learningRate: z.number().positive().max(1).default(0.1),
  /** most boosting rounds (trees) */
  maxRounds: z.number().int().min(1).default(500),
  /** rounds without a validation log-loss improvement before stopping (only with validation rows) */
  earlyStoppingRounds: z.number().int().min(1).default(30),
  minChildWeight: z.number().nonnegative().default(1),
  lambda: z.number().nonnegative().default(1),
  minSplitGain: z.number().nonnegative().default(0),
  /** share of training rows drawn (without replacement, Bernoulli) for each tree */
  subsample: z.number().gt(0).max(1).default(1),
  /** share of features drawn for each tree */
  colsample: z.number().gt(0).max(1).default(1),
  /** added to the hessian when ordering categories by gradient / hessian */
  catSmooth: z.number().nonnegative().default(10),
  /** most categories sent left by one categorical split */
  maxCatThreshold: z.number().int().min(1).max(254).default(32),
  /** up to this many categories present in a node, a categorical split sends one category left (one-vs-rest) */
  maxCatToOnehot: z.number().int().min(1).max(254).default(4),
  seed: z.number().int().default(0),
});
export type GbdtParams = z.infer<typeof GbdtParams>;
export type GbdtParamsInput = z.input<typeof GbdtParams>;

/** Parses partial settings into complete ones; a bad value is CHURN_ERR_VALIDATION. */
export function resolveParams(input: GbdtParamsInput = {}): GbdtParams {
  const parsed = GbdtParams.safeParse(input);
  if (!parsed.success) throw new ChurnError('CHURN_ERR_VALIDATION', `GBDT parameters: ${describeIssues(parsed.error.issues)}`);
  return parsed.data;
}
