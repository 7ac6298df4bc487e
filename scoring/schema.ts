import { z } from 'zod';

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

export const ComponentsSchema = z.object({
  engagement: z.number().int().min(0).max(100),
  usage: z.number().int().min(0).max(100),
  adoption: z.number().int().min(0).max(100),
  support: z.number().int().min(0).max(100),
  commercial: z.number().int().min(0).max(100),
  sentiment: z.number().int().min(0).max(100),
});

export const ScoreSchema = z.object({
  account_id: z.string(),
  as_of: z.string(),
  model_version: z.number().int(),
  feature_set_version: z.string().nullable(),
  segment: z.string(),
  churn_probability: z.number().min(0).max(1),
  health_score: z.number().int().min(0).max(100),
  tier: z.string(),
  recommended_action: z.string(),
  scorecard_score: z.number().int().min(0).max(100),
  components: ComponentsSchema,
  base_value: z.number(),
  drivers: z.array(DriverSchema),
}).meta({ id: 'Score' });
export type Score = z.infer<typeof ScoreSchema>;

export const ErrorSchema = z.object({
  error: z.string(),
  message: z.string(),
  request_id: z.string(),
}).meta({ id: 'Error' });

/** Error responses every /v1 route documents. */
export const errorResponses = {
  400: ErrorSchema, 401: ErrorSchema, 403: ErrorSchema, 404: ErrorSchema, 413: ErrorSchema, 429: ErrorSchema, 503: ErrorSchema,
};
