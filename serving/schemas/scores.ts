import { z } from 'zod';
import { ScoreSchema } from '../../scoring/schema.ts';
import { AccountIdSchema, AsOfSchema, TopSchema } from './common.ts';

export const BatchBodySchema = z.object({
  account_ids: z.array(AccountIdSchema).min(1).max(1000),
  as_of: AsOfSchema.optional(),
}).strict();

export const TopQuerySchema = z.object({ top: TopSchema }).strict();

/** One instance: feature name -> a finite number, a string of up to 200 characters, a boolean (1/0) or null (missing). */
const InstanceSchema = z.record(
  z.string().max(100, 'a feature name has at most 100 characters'),
  z.union([z.number().finite(), z.string().max(200), z.boolean(), z.null()], { error: 'a feature value is a finite number, a string of up to 200 characters, a boolean or null' }),
).describe('feature name -> value: a finite number, a string (up to 200 characters), a boolean (1/0) or null (missing)');

/**
 * Body limit of `POST /v1/predict`: 1,000 instances of every feature (63 today) as numbers are about
 * 1.9 MB of JSON; this leaves room for ids, segments and longer numbers. Other routes take 1 MiB.
 */
export const PREDICT_BODY_LIMIT = 4 * 1024 * 1024;

export const PredictBodySchema = z.object({
  instances: z.array(InstanceSchema).min(1).max(1000),
  as_of: AsOfSchema.optional(),
  /** score features an instance leaves out as missing values (each score lists them in `imputed`) instead of refusing the instance */
  allow_missing: z.boolean().default(false),
}).strict();

export const ScoresResponseSchema = z.object({ scores: z.array(ScoreSchema) });

/** An account of a batch that could not be scored (the others are scored). */
export const ScoreErrorSchema = z.object({
  account_id: z.string(),
  error: z.enum(['CHURN_ERR_ACCOUNT_NOT_FOUND']),
  message: z.string(),
}).meta({ id: 'ScoreError' });

export const BatchResponseSchema = z.object({
  scores: z.array(ScoreSchema),
  /** accounts that do not exist, or did not yet at the as-of time: one entry each, beside the scores of the others */
  errors: z.array(ScoreErrorSchema),
});
