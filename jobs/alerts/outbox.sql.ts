import type { Sql } from '../../core/db.ts';

/**
 * The outbox's queries (churn.alert_outbox, migrations 005 and 014). A row is pending (neither
 * delivered nor dead), delivered, or dead-lettered; a pending row being sent is leased to one round.
 */

/**
 * Claims due rows for one delivery round, at most one per (subscription, account): the head of each
 * line, i.e. its oldest pending alert by sequence number, when it is due and not leased.
 * 1. heads of every line of an active subscription ($3, $4: only the line of that subscription and
 *    account); a removed subscription's rows are never sent (removing it discards them, and this
 *    also passes over any a concurrent alert detection queued meanwhile);
 * 2. those due and not leased, locked with SKIP LOCKED (the conditions on `o` are re-checked on the
 *    latest row version, so a row another replica has just leased or delivered is passed over);
 * 3. leased to this round ($5) for $2 seconds.
 */
export const claimHeads = (opts: { limit: number; leaseSeconds: number; token: string; line?: { subscriptionId: number; accountId: string } }): Sql => ({
  text: `WITH heads AS (
      SELECT DISTINCT ON (o.subscription_id, a.account_id) o.outbox_id
      FROM churn.alert_outbox o JOIN churn.alerts a ON a.alert_id = o.alert_id
        JOIN churn.webhook_subscriptions ws ON ws.subscription_id = o.subscription_id AND ws.active
      WHERE o.delivered_at IS NULL AND o.dead_at IS NULL
        AND ($3::bigint IS NULL OR (o.subscription_id = $3 AND a.account_id = $4::text))
      ORDER BY o.subscription_id, a.account_id, a.sequence, o.outbox_id),
    due AS (
      SELECT o.outbox_id FROM churn.alert_outbox o JOIN heads h ON h.outbox_id = o.outbox_id
      WHERE o.delivered_at IS NULL AND o.dead_at IS NULL AND o.next_attempt_at <= now()
        AND (o.leased_until IS NULL OR o.leased_until <= now())
      ORDER BY o.next_attempt_at, o.outbox_id LIMIT $1 FOR UPDATE OF o SKIP LOCKED),
    leased AS (
      UPDATE churn.alert_outbox o SET leased_until = now() + make_interval(secs => $2), lease_token = $5::uuid
      FROM due WHERE o.outbox_id = due.outbox_id RETURNING o.outbox_id, o.alert_id, o.subscription_id, o.attempts)
    SELECT l.outbox_id, l.attempts, l.subscription_id, a.alert_id, a.account_id, a.sequence, a.payload, a.created_at, s.url, s.secret
    FROM leased l JOIN churn.alerts a ON a.alert_id = l.alert_id JOIN churn.webhook_subscriptions s ON s.subscription_id = l.subscription_id
    ORDER BY a.sequence`,
  values: [opts.limit, opts.leaseSeconds, opts.line?.subscriptionId ?? null, opts.line?.accountId ?? null, opts.token],
});

export interface ClaimedRow {
  outbox_id: number;
  attempts: number;
  subscription_id: number;
  alert_id: number;
  account_id: string;
  sequence: number;
  payload: Record<string, unknown>;
  created_at: Date;
  url: string;
  secret: string;
}

/** Delivered, whoever holds the lease now (the receiver has it; a later failure must not undo that). */
export const markDelivered = (id: number, status: number): Sql => ({
  text: `UPDATE churn.alert_outbox SET delivered_at = coalesce(delivered_at, now()), dead_at = NULL, attempts = attempts + 1,
      last_status = $2, last_error = NULL, leased_until = NULL, lease_token = NULL
    WHERE outbox_id = $1`,
  values: [id, status],
});

/** A failed attempt, recorded only while this round holds the lease: retried after `delaySeconds`, or dead-lettered at `maxAttempts`. */
export const markFailed = (opts: { id: number; token: string; error: string; status: number | null; delaySeconds: number; maxAttempts: number }): Sql => ({
  text: `UPDATE churn.alert_outbox SET attempts = attempts + 1, last_error = $2, last_status = $3,
      next_attempt_at = now() + make_interval(secs => $4),
      dead_at = CASE WHEN attempts + 1 >= $5 THEN now() END, leased_until = NULL, lease_token = NULL
    WHERE outbox_id = $1 AND lease_token = $6::uuid AND delivered_at IS NULL
    RETURNING attempts, dead_at IS NOT NULL AS dead`,
  values: [opts.id, opts.error.slice(0, 500), opts.status, opts.delaySeconds, opts.maxAttempts, opts.token],
});

/** Dead-letters pending rows that already had `maxAttempts` attempts (rows from before dead letters, or a lowered setting). */
export const sweepExhausted = (maxAttempts: number): Sql => ({
  text: `UPDATE churn.alert_outbox SET dead_at = now(), last_error = coalesce(last_error, 'no attempts left')
    WHERE delivered_at IS NULL AND dead_at IS NULL AND attempts >= $1 AND (leased_until IS NULL OR leased_until <= now())
    RETURNING outbox_id, alert_id, subscription_id, attempts, last_error`,
  values: [maxAttempts],
});

/** What a re-drive selects: every dead row, or those of one subscription and/or one alert. */
export interface DeadSelector {
  all?: boolean;
  subscriptionId?: number;
  alertId?: number;
}

/** Requeues dead rows: pending again, attempts reset, due now (the last error is kept until the next attempt). */
export const requeueDead = (s: DeadSelector): Sql => ({
  text: `UPDATE churn.alert_outbox SET dead_at = NULL, attempts = 0, next_attempt_at = now(), leased_until = NULL, lease_token = NULL
    WHERE dead_at IS NOT NULL AND ($1::bigint IS NULL OR subscription_id = $1) AND ($2::bigint IS NULL OR alert_id = $2)
    RETURNING outbox_id`,
  values: [s.subscriptionId ?? null, s.alertId ?? null],
});

export const countDead = (): Sql => ({ text: 'SELECT count(*)::int AS n FROM churn.alert_outbox WHERE dead_at IS NOT NULL' });

/** Outbox rows, newest first, with their alert and subscription; `dead` keeps the dead-lettered ones only, `subscriptionId` those of one subscription. */
export const listDeliveries = (opts: { dead: boolean; limit: number; subscriptionId?: number }): Sql => ({
  text: `SELECT o.outbox_id, o.alert_id, a.account_id, a.sequence, a.kind, a.created_at, s.subscription_id, s.url, o.attempts,
      o.delivered_at, o.dead_at, o.next_attempt_at, o.last_status, o.last_error
    FROM churn.alert_outbox o JOIN churn.alerts a ON a.alert_id = o.alert_id JOIN churn.webhook_subscriptions s ON s.subscription_id = o.subscription_id
    WHERE (NOT $1::boolean OR o.dead_at IS NOT NULL) AND ($3::bigint IS NULL OR o.subscription_id = $3)
    ORDER BY o.outbox_id DESC LIMIT $2`,
  values: [opts.dead, opts.limit, opts.subscriptionId ?? null],
});
