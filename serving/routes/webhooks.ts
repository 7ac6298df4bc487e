import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import { deliveryState, listAlertDeliveries, type DeliveryRow } from '../../jobs/alerts/redrive.ts';
import { addWebhook, displayUrl, findWebhook, listWebhooks, removeWebhook, sendTestDelivery, type WebhookRow } from '../../jobs/alerts/webhooks.ts';
import { requireScope } from '../auth.ts';
import { servingLimits, type AppDeps } from '../deps.ts';
import { ErrorSchema, errorResponses } from '../schemas/errors.ts';
import {
  CreatedWebhookSchema, CreateWebhookBodySchema, DeliveriesQuerySchema, DeliveriesResponseSchema, RemovedWebhookSchema, TestDeliverySchema,
  WebhookListQuerySchema, WebhookListResponseSchema, WebhookParamsSchema,
} from '../schemas/webhooks.ts';

const iso = (d: Date | null) => (d ? d.toISOString() : null);

export function webhookOut(w: WebhookRow) {
  return {
    id: w.subscription_id, url: w.url, active: w.active, source: w.source, description: w.description, created_at: w.created_at.toISOString(),
    removed_at: iso(w.removed_at), pending: w.pending, dead: w.dead,
  };
}

function deliveryOut(r: DeliveryRow) {
  return {
    delivery_id: r.outbox_id, alert_id: r.alert_id, account_id: r.account_id, sequence: r.sequence, kind: r.kind, state: deliveryState(r), attempts: r.attempts,
    created_at: r.created_at.toISOString(), delivered_at: iso(r.delivered_at), dead_at: iso(r.dead_at), next_attempt_at: r.next_attempt_at.toISOString(),
    last_status: r.last_status, last_error: r.last_error,
  };
}

/**
 * Webhook subscriptions (admin scope): list, add (the secret shown once), remove, a signed test
 * delivery, and a subscription's deliveries. Subscriptions of the serving configuration file are
 * listed too (source `config`) and still synced at start.
 */
export function webhookRoutes(deps: AppDeps): FastifyPluginAsyncZod {
  const admin = requireScope(deps.auth, 'models:admin');
  const security = [{ bearer: [] }];
  const tags = ['webhooks'];
  // a test delivery waits for the receiver up to `alerts.timeout_ms`
  const testDeadlineMs = Math.max(servingLimits(deps).requestTimeoutMs, deps.config.alerts.timeout_ms + 2000);
  return async (app) => {
    app.get('/webhooks', {
      onRequest: admin,
      schema: { operationId: 'listWebhooks', tags, summary: 'Webhook subscriptions (API and configuration file), with their pending and dead-lettered deliveries', security,
        querystring: WebhookListQuerySchema, response: { 200: WebhookListResponseSchema, ...errorResponses } },
    }, async (req) => ({ webhooks: (await listWebhooks(deps.pool, { all: req.query.all })).map(webhookOut) }));

    app.post('/webhooks', {
      onRequest: admin,
      schema: { operationId: 'createWebhook', tags, summary: 'Adds a webhook subscription; answers its signing secret, shown this once (409 when an active subscription has the URL)', security,
        body: CreateWebhookBodySchema, response: { 201: CreatedWebhookSchema, 409: ErrorSchema, ...errorResponses } },
    }, async (req, reply) => {
      const { webhook, secret } = await addWebhook(deps.pool, req.body);
      req.log.info({ subscription_id: webhook.subscription_id, url: displayUrl(webhook.url), by: req.principal?.name }, 'webhook subscription added');
      return reply.code(201).send({ webhook: webhookOut(webhook), secret });
    });

    app.delete('/webhooks/:id', {
      onRequest: admin,
      schema: { operationId: 'deleteWebhook', tags, summary: 'Removes a webhook subscription: nothing more is sent to it, its undelivered deliveries are discarded', security,
        params: WebhookParamsSchema, response: { 200: RemovedWebhookSchema, ...errorResponses } },
    }, async (req) => {
      const r = await removeWebhook(deps.pool, req.params.id);
      req.log.info({ subscription_id: req.params.id, discarded: r.discarded, by: req.principal?.name }, 'webhook subscription removed');
      return { webhook: webhookOut(r.webhook), discarded: r.discarded };
    });

    app.post('/webhooks/:id/test', {
      onRequest: admin,
      config: { deadlineMs: testDeadlineMs },
      schema: { operationId: 'testWebhook', tags, summary: 'Sends a signed sample payload (type churn.test) to the subscription now and answers what was sent and what the receiver said', security,
        params: WebhookParamsSchema, response: { 200: TestDeliverySchema, ...errorResponses } },
    }, async (req) => {
      const r = await sendTestDelivery(deps.pool, req.params.id, { timeoutMs: deps.config.alerts.timeout_ms });
      req.log.info({ subscription_id: r.subscription_id, delivered: r.delivered, status: r.status, error: r.error }, 'webhook test delivery sent');
      const { subscription_id: id, ...rest } = r;
      return { id, ...rest };
    });

    app.get('/webhooks/:id/deliveries', {
      onRequest: admin,
      schema: { operationId: 'listWebhookDeliveries', tags, summary: "A subscription's deliveries of alerts (removed subscriptions too), newest first, with their state, attempts and last error", security,
        params: WebhookParamsSchema, querystring: DeliveriesQuerySchema, response: { 200: DeliveriesResponseSchema, ...errorResponses } },
    }, async (req) => {
      const sub = await findWebhook(deps.pool, req.params.id, { removed: true });
      const rows = await listAlertDeliveries(deps.pool, { dead: req.query.dead, limit: req.query.limit, subscriptionId: sub.subscription_id });
      return { deliveries: rows.map(deliveryOut) };
    });
  };
}
