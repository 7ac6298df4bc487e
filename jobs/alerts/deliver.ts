import { query, type Pool, type Sql } from '../../core/db.ts';
import type { Logger } from '../../core/log.ts';
import type { ServingConfig } from '../../scoring/config.ts';
import { signPayload, SIGNATURE_HEADER } from './sign.ts';

/**
 * Delivers due outbox rows to their webhooks. Rows are claimed with FOR UPDATE SKIP LOCKED and leased
 * for a minute (so replicas never send the same row at once and a crash mid-send only delays it);
 * a 2xx marks the row delivered, anything else (refused connection, timeout, non-2xx) schedules the
 * next attempt after base * 2^attempts seconds, capped at the configured maximum.
 */
const claimDue = (batch: number, maxAttempts: number): Sql => ({
  text: `WITH due AS (
      SELECT outbox_id FROM churn.alert_outbox
      WHERE delivered_at IS NULL AND next_attempt_at <= now() AND attempts < $2
      ORDER BY next_attempt_at, outbox_id LIMIT $1 FOR UPDATE SKIP LOCKED),
    leased AS (
      UPDATE churn.alert_outbox o SET next_attempt_at = now() + interval '60 seconds'
      FROM due WHERE o.outbox_id = due.outbox_id RETURNING o.outbox_id, o.alert_id, o.subscription_id, o.attempts)
    SELECT l.outbox_id, l.attempts, a.alert_id, a.payload, a.created_at, s.url, s.secret
    FROM leased l JOIN churn.alerts a ON a.alert_id = l.alert_id JOIN churn.webhook_subscriptions s ON s.subscription_id = l.subscription_id`,
  values: [batch, maxAttempts],
});

const markDelivered = (id: number, status: number): Sql => ({
  text: `UPDATE churn.alert_outbox SET delivered_at = now(), attempts = attempts + 1, last_status = $2, last_error = NULL WHERE outbox_id = $1`,
  values: [id, status],
});

const markFailed = (id: number, error: string, status: number | null, delaySeconds: number): Sql => ({
  text: `UPDATE churn.alert_outbox SET attempts = attempts + 1, last_error = $2, last_status = $3,
    next_attempt_at = now() + make_interval(secs => $4) WHERE outbox_id = $1`,
  values: [id, error.slice(0, 500), status, delaySeconds],
});

export function backoffSeconds(attempts: number, alerts: ServingConfig['alerts']): number {
  return Math.min(alerts.backoff_max_seconds, alerts.backoff_base_seconds * 2 ** Math.min(attempts, 30));
}

export interface DeliveryResult {
  attempted: number;
  delivered: number;
  failed: number;
}

export async function deliverDue(pool: Pool, alerts: ServingConfig['alerts'], log: Logger, batch = 50): Promise<DeliveryResult> {
  const rows = await query<{ outbox_id: number; attempts: number; alert_id: number; payload: Record<string, unknown>; created_at: Date; url: string; secret: string }>(
    pool, claimDue(batch, alerts.max_attempts));
  let delivered = 0;
  await Promise.all(rows.map(async (r) => {
    const body = JSON.stringify({ ...r.payload, alert_id: r.alert_id, created_at: r.created_at.toISOString() });
    const t = Math.floor(Date.now() / 1000);
    let status: number | null = null;
    try {
      const res = await fetch(r.url, {
        method: 'POST',
        body,
        headers: { 'content-type': 'application/json', [SIGNATURE_HEADER]: signPayload(r.secret, body, t), 'x-churn-delivery': String(r.outbox_id) },
        signal: AbortSignal.timeout(alerts.timeout_ms),
        redirect: 'manual',
      });
      status = res.status;
      await res.arrayBuffer().catch(() => undefined);
      if (res.status < 200 || res.status >= 300) throw new Error(`receiver answered ${res.status}`);
      await query(pool, markDelivered(r.outbox_id, res.status));
      delivered++;
    } catch (err) {
      const cause = (err as { cause?: { code?: string } }).cause?.code;
      const message = `${(err as Error).message}${cause ? ` (${cause})` : ''}`;
      log.warn({ outbox_id: r.outbox_id, url: r.url, attempts: r.attempts + 1, err: message }, 'webhook delivery failed; will retry');
      await query(pool, markFailed(r.outbox_id, message, status, backoffSeconds(r.attempts, alerts)));
    }
  }));
  return { attempted: rows.length, delivered, failed: rows.length - delivered };
}

/** Adds (or re-activates) the configured webhooks as subscriptions; subscriptions are never deleted here. */
export async function syncWebhooks(pool: Pool, webhooks: ServingConfig['webhooks']): Promise<void> {
  if (!webhooks.length) return;
  await query(pool, {
    text: `INSERT INTO churn.webhook_subscriptions (url, secret, active)
      SELECT url, secret, true FROM jsonb_to_recordset($1::jsonb) AS c(url text, secret text)
      ON CONFLICT (url) DO UPDATE SET secret = EXCLUDED.secret, active = true`,
    values: [JSON.stringify(webhooks)],
  });
}
