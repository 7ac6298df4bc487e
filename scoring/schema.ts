import { z } from 'zod';
import { FAMILIES, type Family } from '../features/definitions/schema.ts';

/** The public score shape (interfaces.md), plus `feature_set_version` and `segment`. */
export const DriverSchema = z.object({
  feature: z.string(),
  family: z.string(),
  value: z.union([z.number(), z.string(), z.null()]),
  reference: z.union([z.number(), z.string(), z.null()]),
  contribution: z.number(),
  direction: z.enum(['raises_risk', 'lowers_risk', 'neutral']),
  description: z.string(),
}).meta({ id: 'Driver' });
export type Driver = z.infer<typeof DriverSchema>;

const Component = z.number().int().min(0).max(100);
/** One sub-score per feature family (FAMILIES), 0-100; 50 = like the reference account. */
export const ComponentsSchema = z.object(Object.fromEntries(FAMILIES.map((f) => [f, Component])) as Record<Family, typeof Component>);

/** Where the account stands at the as-of time: a paying customer, on a trial, a former customer, or never one. */
export const AccountStatusSchema = z.enum(['active', 'trial', 'churned', 'never_subscribed']);

export const ScoreSchema = z.object({
  account_id: z.string(),
  as_of: z.string(),
  model_version: z.number().int(),
  feature_set_version: z.string().nullable(),
  segment: z.string(),
  /** only `active` accounts are tiered as live customers (and alert); the others get tier `trial`, `churned` or `never_subscribed` */
  status: AccountStatusSchema.describe('active (a paid subscription covers the as-of time), trial (a trial one does), churned (one did before) or never_subscribed; only active accounts are tiered as customers and raise alerts: the model is trained on paying customers, so a trial gets tier trial and action convert'),
  churn_probability: z.number().min(0).max(1),
  health_score: z.number().int().min(0).max(100),
  tier: z.string(),
  recommended_action: z.string(),
  scorecard_score: z.number().int().min(0).max(100),
  components: ComponentsSchema,
  base_value: z.number(),
  drivers: z.array(DriverSchema),
  /** features the caller left out and that were scored as missing (`POST /v1/predict` with `allow_missing`) */
  imputed: z.array(z.string()).optional().describe('features the instance left out, scored as missing values (POST /v1/predict with allow_missing)'),
}).meta({ id: 'Score' });
export type Score = z.infer<typeof ScoreSchema>;

export const FeatureChangeSchema = z.object({
  feature: z.string(),
  family: z.string(),
  from_value: z.union([z.number(), z.string(), z.null()]),
  to_value: z.union([z.number(), z.string(), z.null()]),
  from_contribution: z.number(),
  to_contribution: z.number(),
  contribution_change: z.number(),
  direction: z.enum(['raises_risk', 'lowers_risk', 'neutral']),
  description: z.string(),
});

export const ChangeResponseSchema = z.object({
  account_id: z.string(),
  from: ScoreSchema,
  to: ScoreSchema,
  health_change: z.number(),
  probability_change: z.number(),
  /** change in log-odds = base_value_change + sum(contribution_change) */
  logit_change: z.number(),
  base_value_change: z.number(),
  /** the two scores come from different model versions: part of the change is the models', not the account's */
  model_changed: z.boolean().describe("true when the two scores come from different model versions: part of the change is then the models' difference, not the account's"),
  changes: z.array(FeatureChangeSchema),
});
