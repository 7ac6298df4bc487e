import { randomUUID } from 'node:crypto';
import { query, type Pool } from '../../core/db.ts';
import { ChurnError } from '../../core/errors.ts';
import type { Logger } from '../../core/log.ts';
import type { ServingConfig } from '../../scoring/config.ts';
import { claimHeads, markDelivered, markFailed, sweepExhausted, type ClaimedRow } from './outbox.sql.ts';
import { signPayload, SIGNATURE_HEADER } from './sign.ts';
import { describeDeliveryError, displayUrl } from './webhooks.ts';

/**
 * Delivers due outbox rows to their webhooks (guarantees: docs/operations.md, "Alerts and webhooks").
 * - Order: each (subscription, account) is a line served oldest sequence number first; a round
 *   claims the head of each due line, and after a delivery goes on with that line's next alert, so
 *   an alert is never sent while an older one of its line is pending. Dead-lettered alerts leave the
 *   line (they do not hold back newer ones).
 * - Leases: a claimed row is leased to the round (longer than the request timeout), so no other
 *   replica sends it meanwhile; a crash mid-send only delays it until the lease ends.
 * - A 2xx marks the row delivered (retried if the database hiccups, so a received alert is recorded);
 *   anything else schedules the next attempt after base * 2^attempts seconds (capped), and after
 *   `max_attempts` failed attempts the row is dead-lettered: kept, with its last error, until a
 *   re-drive (`churn alerts redeliver`, POST /v1/alerts/redeliver) requeues it.
 */

export function backoffSeconds(attempts: number, alerts: ServingConfig['alerts']): number {
  return Math.min(alerts.backoff_max_seconds, alerts.backoff_base_seconds * 2 ** Math.min(attempts, 30));
}

/** How long a claimed row stays leased: the request timeout plus a minute for recording the outcome. */
export function leaseSeconds(alerts: ServingConfig['alerts']): number {
  return Math.ceil(alerts.timeout_ms / 1000) + 60;
}

export interface DeliveryResult {
  attempted: number;
  delivered: number;
  failed: number;
}

export interface DeliverOptions {
  /** lines (subscription, account) claimed at once, and alerts sent per line in one round (default 50) */
  batch?: number;
  /** true once the caller is shutting down: no further POST is started (those in flight finish and are recorded) */
  stopping?: () => boolean;
}

/** One delivery round: dead-letters exhausted rows, then serves the due lines (each in order) concurrently. */
export async function deliverDue(pool: Pool, alerts: ServingConfig['alerts'], log: Logger, options: number | DeliverOptions = {}): Promise<DeliveryResult> {
  const opts = typeof options === 'number' ? { batch: options } : options;
  const stopping = opts.stopping ?? (() => false);
  const token = randomUUID();
  for (const r of await query<{ outbox_id: number; alert_id: number; subscription_id: number; attempts: number; last_error: string }>(pool, sweepExhausted(alerts.max_attempts))) {
    log.warn({ ...r }, 'webhook delivery dead-lettered: no attempts left (churn alerts redeliver requeues it)');
  }
  if (stopping()) return { attempted: 0, delivered: 0, failed: 0 };
  const batch = opts.batch ?? 50;
  const heads = await query<ClaimedRow>(pool, claimHeads({ limit: batch, leaseSeconds: leaseSeconds(alerts), token }));
  const result: DeliveryResult = { attempted: 0, delivered: 0, failed: 0 };
  // Every line runs to its end (never Promise.all: a failed line must not let the round end while others are mid-send).
  const lines = await Promise.allSettled(heads.map(async (head) => {
    // The line: this head, then (while deliveries succeed) its next alerts, one at a time, at most `batch` per round.
    for (let row: ClaimedRow | undefined = head, n = 1; row; n++) {
      result.attempted++;
      if (!(await deliverOne(pool, alerts, log, row, token))) {
        result.failed++;
        return;
      }
      result.delivered++;
      if (stopping() || n >= batch) return;
      [row] = await query<ClaimedRow>(pool, claimHeads({ limit: 1, leaseSeconds: leaseSeconds(alerts), token, line: { subscriptionId: row.subscription_id, accountId: row.account_id } }));
    }
  }));
  const failed = lines.find((l): l is PromiseRejectedResult => l.status === 'rejected');
  if (failed) throw failed.reason;
  return result;
}

/** POSTs one row and records the outcome; true when the receiver took it. */
async function deliverOne(pool: Pool, alerts: ServingConfig['alerts'], log: Logger, r: ClaimedRow, token: string): Promise<boolean> {
  const body = JSON.stringify({ ...r.payload, alert_id: r.alert_id, sequence: r.sequence, created_at: r.created_at.toISOString() });
  let status: number | null = null;
  try {
    const t = Math.floor(Date.now() / 1000);
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
  } catch (err) {
    const message = describeDeliveryError(err, alerts.timeout_ms);
    const [marked] = await query<{ attempts: number; dead: boolean }>(pool, markFailed({
      id: r.outbox_id, token, error: message, status, delaySeconds: backoffSeconds(r.attempts, alerts), maxAttempts: alerts.max_attempts,
    }));
    const where = { outbox_id: r.outbox_id, alert_id: r.alert_id, url: displayUrl(r.url), attempts: r.attempts + 1, err: message };
    if (!marked) log.warn(where, 'webhook delivery failed; another round holds it now');
    else if (marked.dead) log.warn({ ...where, max_attempts: alerts.max_attempts }, 'webhook delivery failed; dead-lettered after max_attempts (churn alerts redeliver requeues it)');
    else log.warn({ ...where, retry_in_s: backoffSeconds(r.attempts, alerts) }, 'webhook delivery failed; will retry');
    return false;
  }
  await recordDelivered(pool, log, r, status);
  return true;
}

/**
 * The receiver has the alert: record it, retrying a few times over about 3 s if the database
 * hiccups, so the row is not sent again; if it still fails, the lease runs out and the alert is sent
 * once more (at least once).
 */
async function recordDelivered(pool: Pool, log: Logger, r: ClaimedRow, status: number): Promise<void> {
  for (let attempt = 0; ; attempt++) {
    try {
      await query(pool, markDelivered(r.outbox_id, status));
      return;
    } catch (err) {
      if (attempt >= 4) {
        log.error({ err, outbox_id: r.outbox_id }, 'webhook delivered but not recorded; it will be sent again when its lease ends');
        return;
      }
      await new Promise((resolve) => setTimeout(resolve, 200 * 2 ** attempt));
    }
  }
}

/**
 * Adds the configured webhooks as subscriptions (source `config`), or updates the secret of the active
 * configured subscription of that URL; subscriptions are never removed here. A configured URL whose
 * subscription was removed (`churn webhooks remove`, DELETE /v1/webhooks/:id) gets a new subscription:
 * the file still names it. A configured URL that is an active subscription made through the API is a
 * CHURN_ERR_CONFIG (the API likewise refuses a URL the file names): taking it over would replace the
 * secret its receiver verifies with.
 */
export async function syncWebhooks(pool: Pool, webhooks: ServingConfig['webhooks']): Promise<void> {
  if (!webhooks.length) return;
  const taken = await query<{ subscription_id: string; url: string }>(pool, {
    text: `SELECT subscription_id, url FROM churn.webhook_subscriptions WHERE active AND source = 'api' AND url = ANY ($1::text[]) ORDER BY subscription_id`,
    values: [webhooks.map((w) => w.url)],
  });
  if (taken.length) {
    const [t] = taken;
    throw new ChurnError('CHURN_ERR_CONFIG', `the serving configuration's webhook ${t.url} is also subscription ${t.subscription_id}, made through the API with its own secret: `
      + `remove one of them (\`churn webhooks remove ${t.subscription_id}\`, or the entry in CHURN_SERVING_CONFIG)`);
  }
  await query(pool, {
    text: `INSERT INTO churn.webhook_subscriptions (url, secret, active, source)
      SELECT url, secret, true, 'config' FROM jsonb_to_recordset($1::jsonb) AS c(url text, secret text)
      ON CONFLICT (url) WHERE active DO UPDATE SET secret = EXCLUDED.secret WHERE churn.webhook_subscriptions.source = 'config'`,
    values: [JSON.stringify(webhooks)],
  });
}
