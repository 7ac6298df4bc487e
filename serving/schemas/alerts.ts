import { z } from 'zod';
import { instantSchema } from '../../core/time.ts';
import { RedeliverSelectionSchema } from '../../jobs/alerts/redrive.ts';
import { ALERT_KINDS, ALERT_STATES } from '../../jobs/alerts/workflow.ts';
import { AccountIdSchema } from './common.ts';
import { ALERT_EXAMPLE } from './examples.ts';

/** POST /v1/alerts/redeliver: which dead-lettered deliveries to requeue (at least one selector). */
export const RedeliverBodySchema = RedeliverSelectionSchema.meta({
  id: 'RedeliverRequest',
  description: '`{ "all": true }`, or `subscription` (its id or URL) and/or `alert_id`: the dead-lettered deliveries to requeue',
  example: { subscription: 'https://cs.example.com/hooks/churn' },
});

export const RedeliverResponseSchema = z.object({
  requeued: z.number().int().min(0).describe('dead-lettered deliveries put back in the queue (attempts reset, due now)'),
}).meta({ id: 'RedeliverResponse', examples: [{ requeued: 4 }] });

export const AlertListQuerySchema = z.object({
  account_id: AccountIdSchema.optional().describe("only this account's alerts").meta({ examples: ['acc_00042'] }),
  type: z.enum(ALERT_KINDS).optional().describe("only alerts of this kind (the alert's `kind`)").meta({ examples: ['tier_drop'] }),
  state: z.enum(ALERT_STATES).optional().describe('open (neither acknowledged nor snoozed now), acknowledged, or snoozed (until `snoozed_until`)').meta({ examples: ['open'] }),
  limit: z.coerce.number().int().min(1).max(1000).default(100).describe('alerts per page, newest first').meta({ examples: [50] }),
  cursor: z.string().max(40).regex(/^[A-Za-z0-9_-]+$/, 'invalid cursor: pass back next_cursor from a previous page').optional().describe('`next_cursor` of the previous page, with the same filters').meta({ examples: ['MTgxMg'] }),
}).strict();

const ScorePoint = z.object({
  as_of: z.string().nullable().describe('as-of time of the stored score'),
  health_score: z.number().int(),
  tier: z.string(),
});

export const AlertSchema = z.object({
  alert_id: z.number().int(),
  account_id: z.string(),
  account_name: z.string().nullable(),
  kind: z.enum(ALERT_KINDS).describe('tier_drop: fell into a worse tier (past the dead band); score_drop: health fell by `drop_points` or more'),
  sequence: z.number().int().describe("the account's alert number (1, 2, 3, ...), as in the webhook payload"),
  created_at: z.string(),
  state: z.enum(ALERT_STATES),
  from: ScorePoint.describe('the previous stored score'),
  to: ScorePoint.describe('the stored score that raised the alert'),
  acknowledged_at: z.string().nullable(),
  acknowledged_by: z.string().nullable().describe('the API key that acknowledged it'),
  snoozed_until: z.string().nullable().describe('the latest snooze (past once it ran out)'),
  snoozed_by: z.string().nullable(),
}).meta({ id: 'Alert', description: 'an alert with what people did with it', examples: [ALERT_EXAMPLE] });

export const AlertListResponseSchema = z.object({
  alerts: z.array(AlertSchema),
  next_cursor: z.string().nullable().describe('pass it as `cursor` for the next page; null on the last'),
}).meta({ examples: [{ alerts: [ALERT_EXAMPLE], next_cursor: 'MTgxMg' }] });

export const AlertParamsSchema = z.object({
  id: z.string().regex(/^\d{1,15}$/, 'an alert id is a positive integer').transform(Number).describe('the alert id').meta({ example: '1812' }),
}).strict();

/** The longest snooze. */
export const MAX_SNOOZE_DAYS = 366;

export const SnoozeBodySchema = z.object({
  until: instantSchema({ future: true }).describe(`until when: a date (00:00 UTC) or a timestamp with a zone, in the next ${MAX_SNOOZE_DAYS} days`),
}).strict().meta({ example: { until: '2026-11-09T09:00:00Z' } });

export const AlertResponseSchema = AlertSchema;
