import { z } from 'zod';
import { AccountScoreSchema, ExplainedScoreSchema } from './accounts.ts';
import { ACCOUNT_SCORE_EXAMPLE, EXPLAINED_SCORE_EXAMPLE } from './examples.ts';
import { AccountIdSchema, AsOfSchema, TopSchema } from './common.ts';

export const BatchBodySchema = z.object({
  account_ids: z.array(AccountIdSchema).min(1).max(1000).describe('1-1,000 account ids'),
  as_of: AsOfSchema.optional().describe('score as of this time (default: the latest UTC midnight)'),
}).strict().meta({ example: { account_ids: ['acc_00042', 'acc_00043'], as_of: '2026-11-01' } });

export const TopQuerySchema = z.object({ top: TopSchema.describe('drivers listed per score: the N largest contributions (1-1000), or `all` (default 5)').meta({ examples: [5] }) }).strict();

/** One instance: feature name -> a finite number, a string of up to 200 characters, a boolean (1/0) or null (missing). */
const VALUE_RULE = 'a feature value is a finite number, a string of up to 200 characters, a boolean or null';

/**
 * One instance, checked by a plain loop: a zod record of unions cost 35 us for an instance of 62
 * features (a third of POST /v1/predict's CPU beside scoring), this 2 us. Its JSON Schema (the
 * OpenAPI document) is declared beside it. The model's own contract checks names and types next.
 */
const InstanceSchema = z.custom<Record<string, string | number | boolean | null>>()
  .superRefine((inst, ctx) => {
    if (typeof inst !== 'object' || inst === null || Array.isArray(inst)) {
      ctx.addIssue({ code: 'custom', message: 'an instance is an object of feature name -> value' });
      return;
    }
    for (const k in inst) {
      if (k.length > 100) ctx.addIssue({ code: 'custom', path: [k], message: 'a feature name has at most 100 characters' });
      const v: unknown = inst[k];
      if (v === null || typeof v === 'boolean' || (typeof v === 'number' && Number.isFinite(v)) || (typeof v === 'string' && v.length <= 200)) continue;
      ctx.addIssue({ code: 'custom', path: [k], message: VALUE_RULE });
    }
  })
  .meta({
    type: 'object',
    propertyNames: { maxLength: 100 },
    additionalProperties: { anyOf: [{ type: 'number' }, { type: 'string', maxLength: 200 }, { type: 'boolean' }, { type: 'null' }] },
    description: 'feature name -> value: a finite number, a string (up to 200 characters), a boolean (1/0) or null (missing)',
  });

/**
 * Body limit of `POST /v1/predict`: 1,000 instances of every feature (64 today) as numbers are about
 * 1.9 MB of JSON; this leaves room for ids, segments and longer numbers. Other routes take 1 MiB.
 */
export const PREDICT_BODY_LIMIT = 4 * 1024 * 1024;

export const PredictBodySchema = z.object({
  instances: z.array(InstanceSchema).min(1).max(1000),
  as_of: AsOfSchema.optional(),
  /** score features an instance leaves out as missing values (each score lists them in `imputed`) instead of refusing the instance */
  allow_missing: z.boolean().default(false).describe('score features an instance leaves out as missing values (listed in each score\'s imputed) instead of refusing the instance'),
}).strict().meta({ example: { instances: [{ id: 'row-1', active_days_28d: 3, seats_used_ratio: 0.4, tickets_90d: 5 }], allow_missing: true } });

export const ScoresResponseSchema = z.object({ scores: z.array(ExplainedScoreSchema) }).meta({ examples: [{ scores: [EXPLAINED_SCORE_EXAMPLE] }] });

/** An account of a batch that could not be scored (the others are scored). */
export const ScoreErrorSchema = z.object({
  account_id: z.string(),
  error: z.enum(['CHURN_ERR_ACCOUNT_NOT_FOUND']),
  message: z.string(),
}).meta({ id: 'ScoreError', examples: [{ account_id: 'acc_99999', error: 'CHURN_ERR_ACCOUNT_NOT_FOUND', message: 'no such account: acc_99999' }] });

export const BatchResponseSchema = z.object({
  /** each with its account's context */
  scores: z.array(AccountScoreSchema),
  /** accounts that do not exist, or did not yet at the as-of time: one entry each, beside the scores of the others */
  errors: z.array(ScoreErrorSchema).describe('accounts that do not exist, or did not yet at the as-of time: one entry each, beside the scores of the others'),
}).meta({ examples: [{ scores: [ACCOUNT_SCORE_EXAMPLE], errors: [{ account_id: 'acc_99999', error: 'CHURN_ERR_ACCOUNT_NOT_FOUND', message: 'no such account: acc_99999' }] }] });
