import { z } from 'zod';
import { ScoreSchema } from './score.ts';
import { AccountIdSchema, AsOfSchema, TopSchema } from './common.ts';

export const BatchBodySchema = z.object({
  account_ids: z.array(AccountIdSchema).min(1).max(1000),
  as_of: AsOfSchema.optional(),
}).strict();

export const TopQuerySchema = z.object({ top: TopSchema }).strict();

type FeatureValue = number | string | boolean | null;
const isFeatureValue = (v: unknown): v is FeatureValue =>
  v === null || typeof v === 'boolean' || (typeof v === 'number' && Number.isFinite(v)) || (typeof v === 'string' && v.length <= 200);

/**
 * One instance: feature name -> value (a finite number, a string of up to 200 characters, a boolean
 * counted as 1/0, or null for missing). Checked in one pass (this is the hot path of /v1/predict).
 */
const InstanceSchema = z.any().superRefine((rec, ctx) => {
  if (rec === null || typeof rec !== 'object' || Array.isArray(rec)) {
    ctx.addIssue({ code: 'custom', message: 'an instance is an object of feature name -> value' });
    return;
  }
  for (const k in rec) {
    if (k.length > 100) ctx.addIssue({ code: 'custom', path: [k.slice(0, 100)], message: 'a feature name has at most 100 characters' });
    else if (!isFeatureValue(rec[k])) ctx.addIssue({ code: 'custom', path: [k], message: 'a feature value is a finite number, a string of up to 200 characters, a boolean or null' });
  }
}).transform((rec) => rec as Record<string, FeatureValue>).meta({
  type: 'object',
  additionalProperties: { anyOf: [{ type: 'number' }, { type: 'string', maxLength: 200 }, { type: 'boolean' }, { type: 'null' }] },
  description: 'feature name -> value: a finite number, a string (up to 200 characters), a boolean (1/0) or null (missing)',
});

export const PredictBodySchema = z.object({
  instances: z.array(InstanceSchema).min(1).max(1000),
  as_of: AsOfSchema.optional(),
}).strict();

export const ScoresResponseSchema = z.object({ scores: z.array(ScoreSchema) });
