import { z } from 'zod';
import { ScoreSchema } from '../../scoring/schema.ts';
import { AccountIdSchema, AsOfSchema, BoolQuerySchema, TopSchema } from './common.ts';

export const ScoreQuerySchema = z.object({
  as_of: AsOfSchema.optional(),
  explain: BoolQuerySchema.default(true),
  top: TopSchema,
}).strict();

export const ListQuerySchema = z.object({
  tier: z.string().regex(/^[a-z][a-z0-9_]*$/).max(64).optional(),
  limit: z.coerce.number().int().min(1).max(1000).default(100),
  cursor: z.string().max(400).regex(/^[A-Za-z0-9_-]+$/).optional(),
}).strict();

export const ScoreSummarySchema = ScoreSchema.omit({ drivers: true, base_value: true, imputed: true }).extend({ scored_at: z.string() }).meta({ id: 'ScoreSummary' });

export const ListResponseSchema = z.object({
  accounts: z.array(ScoreSummarySchema),
  next_cursor: z.string().nullable(),
});

export const HistoryQuerySchema = z.object({ limit: z.coerce.number().int().min(1).max(1000).default(100) }).strict();

export const HistoryResponseSchema = z.object({ account_id: AccountIdSchema, scores: z.array(ScoreSummarySchema) });

export const ChangeQuerySchema = z.object({ from: AsOfSchema.optional(), to: AsOfSchema.optional() }).strict();
