import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import { ChurnError } from '../../core/errors.ts';
import { registerAlertGauges } from '../../jobs/alerts/metrics.ts';
import { redeliverDead } from '../../jobs/alerts/redrive.ts';
import { acknowledgeAlert, listAlerts, snoozeAlert, type AlertRow } from '../../jobs/alerts/workflow.ts';
import { requireScope } from '../auth.ts';
import type { AppDeps } from '../deps.ts';
import {
  AlertListQuerySchema, AlertListResponseSchema, AlertParamsSchema, AlertResponseSchema, MAX_SNOOZE_DAYS, RedeliverBodySchema, RedeliverResponseSchema, SnoozeBodySchema,
} from '../schemas/alerts.ts';
import { ErrorSchema, errorResponses } from '../schemas/errors.ts';

const iso = (d: Date | null) => (d ? d.toISOString() : null);

function alertOut(r: AlertRow) {
  return {
    alert_id: r.alert_id, account_id: r.account_id, account_name: r.account_name, kind: r.kind, sequence: r.sequence,
    created_at: r.created_at.toISOString(), state: r.state,
    from: { as_of: r.from_as_of, health_score: r.from_health, tier: r.from_tier }, to: { as_of: r.to_as_of, health_score: r.to_health, tier: r.to_tier },
    acknowledged_at: iso(r.acknowledged_at), acknowledged_by: r.acknowledged_by, snoozed_until: iso(r.snoozed_until), snoozed_by: r.snoozed_by,
  };
}

function decodeCursor(cursor: string): number {
  const id = Number(Buffer.from(cursor, 'base64url').toString('utf8'));
  if (!Number.isSafeInteger(id) || id < 1) throw new ChurnError('CHURN_ERR_VALIDATION', 'invalid cursor: pass back next_cursor from a previous page');
  return id;
}

const DAY_MS = 86_400_000;

/**
 * Alerts: the list with what people did with each (read keys), acknowledge and snooze (read keys:
 * a CS workflow step, recorded with the key's name), and the re-drive of dead-lettered webhook
 * deliveries (admin; its gauge on /metrics).
 */
export function alertRoutes(deps: AppDeps): FastifyPluginAsyncZod {
  const admin = requireScope(deps.auth, 'models:admin');
  const read = requireScope(deps.auth, 'score:read');
  const security = [{ bearer: [] }];
  registerAlertGauges(deps.metrics.registry, deps.pool, { onError: (err) => deps.log.debug({ err }, 'dead-letter gauge unavailable') });
  return async (app) => {
    app.get('/alerts', {
      onRequest: read,
      schema: {
        operationId: 'listAlerts', tags: ['alerts'], summary: 'Alerts, newest first, filtered by account, kind and state', security,
        querystring: AlertListQuerySchema, response: { 200: AlertListResponseSchema, ...errorResponses },
      },
    }, async (req) => {
      const q = req.query;
      const rows = await listAlerts(deps.pool, { accountId: q.account_id, kind: q.type, state: q.state, beforeId: q.cursor ? decodeCursor(q.cursor) : undefined, limit: q.limit + 1 });
      const page = rows.slice(0, q.limit);
      const last = page[page.length - 1];
      return { alerts: page.map(alertOut), next_cursor: rows.length > q.limit && last ? Buffer.from(String(last.alert_id)).toString('base64url') : null };
    });

    app.post('/alerts/:id/ack', {
      onRequest: read,
      schema: {
        operationId: 'acknowledgeAlert', tags: ['alerts'], summary: 'Acknowledges an alert (for good; acknowledging again changes nothing)', security,
        params: AlertParamsSchema, response: { 200: AlertResponseSchema, ...errorResponses },
      },
    }, async (req) => {
      const r = await acknowledgeAlert(deps.pool, req.params.id, req.principal?.name ?? 'unknown');
      req.log.info({ alert_id: r.alert_id, by: r.acknowledged_by }, 'alert acknowledged');
      return alertOut(r);
    });

    app.post('/alerts/:id/snooze', {
      onRequest: read,
      schema: {
        operationId: 'snoozeAlert', tags: ['alerts'], summary: `Snoozes an alert until a time (at most ${MAX_SNOOZE_DAYS} days ahead; a later snooze replaces it); an acknowledged alert cannot be snoozed (409)`, security,
        params: AlertParamsSchema, body: SnoozeBodySchema, response: { 200: AlertResponseSchema, 409: ErrorSchema, ...errorResponses },
      },
    }, async (req) => {
      const { until } = req.body;
      const now = Date.now();
      if (until.getTime() <= now) throw new ChurnError('CHURN_ERR_VALIDATION', `invalid body: until: ${until.toISOString()} has passed; snooze until a later time`);
      if (until.getTime() > now + MAX_SNOOZE_DAYS * DAY_MS) throw new ChurnError('CHURN_ERR_VALIDATION', `invalid body: until: at most ${MAX_SNOOZE_DAYS} days ahead`);
      const r = await snoozeAlert(deps.pool, req.params.id, until, req.principal?.name ?? 'unknown');
      req.log.info({ alert_id: r.alert_id, until: r.snoozed_until, by: r.snoozed_by }, 'alert snoozed');
      return alertOut(r);
    });

    app.post('/alerts/redeliver', {
      onRequest: admin,
      schema: {
        operationId: 'redeliverAlerts', tags: ['alerts'], summary: 'Requeues dead-lettered webhook deliveries (attempts reset, sent by the next delivery round)', security,
        body: RedeliverBodySchema, response: { 200: RedeliverResponseSchema, ...errorResponses },
      },
    }, async (req) => {
      const r = await redeliverDead(deps.pool, req.body);
      req.log.info({ selection: req.body, requeued: r.requeued, by: req.principal?.name }, 'dead-lettered webhook deliveries requeued');
      return r;
    });
  };
}
