import { z } from 'zod';
import { NewWebhookSchema } from '../../jobs/alerts/webhooks.ts';
import { BoolQuerySchema } from './common.ts';
import { WEBHOOK_EXAMPLE } from './examples.ts';

export const WebhookSchema = z.object({
  id: z.number().int().describe('the subscription id'),
  url: z.string(),
  active: z.boolean().describe('false once removed'),
  source: z.enum(['config', 'api']).describe('config: from the serving configuration file (synced at start); api: added with POST /v1/webhooks or `churn webhooks add`'),
  description: z.string().nullable(),
  created_at: z.string(),
  removed_at: z.string().nullable(),
  pending: z.number().int().describe('deliveries waiting to be sent'),
  dead: z.number().int().describe('deliveries dead-lettered and not requeued (POST /v1/alerts/redeliver)'),
}).meta({ id: 'Webhook', description: 'a webhook subscription (its secret is never shown again after creation)', examples: [WEBHOOK_EXAMPLE] });

export const WebhookListQuerySchema = z.object({
  all: BoolQuerySchema.default(false).describe('true: removed subscriptions too').meta({ example: 'false' }),
}).strict();

export const WebhookListResponseSchema = z.object({ webhooks: z.array(WebhookSchema) }).meta({ examples: [{ webhooks: [WEBHOOK_EXAMPLE] }] });

export const CreateWebhookBodySchema = NewWebhookSchema.describe('the receiver; the signing secret is generated unless given (16-200 characters)')
  .meta({ examples: [{ url: 'https://cs.example.com/hooks/churn', description: 'CS platform' }] });

export const CreatedWebhookSchema = z.object({
  webhook: WebhookSchema,
  secret: z.string().describe('the signing secret: shown once, here; keep it with the receiver'),
}).meta({ examples: [{ webhook: WEBHOOK_EXAMPLE, secret: 'whsec_9PqVJ3kq0b6yY1m2Zb4sXo8hLr5tWc7a' }] });

export const WebhookParamsSchema = z.object({
  id: z.string().regex(/^\d{1,15}$/, 'a webhook id is a positive integer').transform(Number).describe('the subscription id').meta({ example: '12' }),
}).strict();

export const RemovedWebhookSchema = z.object({
  webhook: WebhookSchema,
  discarded: z.number().int().describe('its undelivered deliveries (pending or dead-lettered), discarded'),
}).meta({ examples: [{ webhook: { ...WEBHOOK_EXAMPLE, active: false, removed_at: '2026-11-20T10:00:00.000Z' }, discarded: 2 }] });

const TEST_BODY = '{"type":"churn.test","test":true,"account_id":"acc_test","kind":"tier_drop","sequence":0,"alert_id":0,"created_at":"2026-11-20T10:00:00.000Z",...}';

export const TestDeliverySchema = z.object({
  id: z.number().int().describe('the subscription id'),
  url: z.string(),
  delivered: z.boolean().describe('the receiver answered 2xx'),
  status: z.number().int().nullable().describe('its HTTP status; null when it could not be reached'),
  error: z.string().nullable(),
  duration_ms: z.number().int(),
  body: z.string().describe('the JSON body sent: a sample alert with `type` `churn.test`'),
  signature: z.string().describe('the `x-churn-signature` header sent: t=<unix seconds>,v1=<hex HMAC-SHA256 of "t.body">'),
  delivery: z.string().describe('the `x-churn-delivery` header sent (test-<uuid>)'),
}).meta({
  examples: [{ id: 12, url: 'https://cs.example.com/hooks/churn', delivered: true, status: 204, error: null, duration_ms: 38, body: TEST_BODY,
    signature: 't=1795687200,v1=5d41402abc4b2a76b9719d911017c5925d41402abc4b2a76b9719d911017c592', delivery: 'test-0b1f3c52-9f4e-4d0e-8a55-3f0c2d1e7b66' }],
});

export const DeliveriesQuerySchema = z.object({
  dead: BoolQuerySchema.default(false).describe('true: dead-lettered deliveries only').meta({ example: 'false' }),
  limit: z.coerce.number().int().min(1).max(1000).default(50).describe('deliveries, newest first').meta({ examples: [50] }),
}).strict();

const DeliverySchema = z.object({
  delivery_id: z.number().int().describe('the `x-churn-delivery` header of its POSTs'),
  alert_id: z.number().int(),
  account_id: z.string(),
  sequence: z.number().int(),
  kind: z.string(),
  state: z.enum(['pending', 'delivered', 'dead']),
  attempts: z.number().int(),
  created_at: z.string().describe('when the alert was raised'),
  delivered_at: z.string().nullable(),
  dead_at: z.string().nullable(),
  next_attempt_at: z.string(),
  last_status: z.number().int().nullable(),
  last_error: z.string().nullable(),
});

export const DeliveriesResponseSchema = z.object({ deliveries: z.array(DeliverySchema) }).meta({
  examples: [{ deliveries: [{ delivery_id: 5521, alert_id: 1812, account_id: 'acc_00042', sequence: 3, kind: 'tier_drop', state: 'delivered', attempts: 1,
    created_at: '2026-11-02T06:00:03.120Z', delivered_at: '2026-11-02T06:00:03.480Z', dead_at: null, next_attempt_at: '2026-11-02T06:00:03.120Z', last_status: 204, last_error: null }] }],
});
