import { randomBytes, randomUUID } from 'node:crypto';
import { z } from 'zod';
import { query, withTransaction, type Pool, type Queryable } from '../../core/db.ts';
import { ChurnError } from '../../core/errors.ts';
import { redactUrl } from '../../core/redact.ts';
import { signPayload, SIGNATURE_HEADER } from './sign.ts';

/**
 * Webhook subscriptions managed by hand (`churn webhooks`, /v1/webhooks) beside those of the serving
 * configuration file (synced at start by `syncWebhooks`), and the signed test delivery.
 */

export const WebhookUrlSchema = z.url({ protocol: /^https?$/, error: 'a webhook URL is an http(s) URL' }).max(2000);
// eslint-disable-next-line no-control-regex
export const WebhookSecretSchema = z.string().min(16, 'a webhook secret has at least 16 characters').max(200).regex(/^[^\u0000-\u001f\u007f]+$/, 'a webhook secret has no control characters');

export const NewWebhookSchema = z.object({
  url: WebhookUrlSchema,
  /** the signing secret; generated (`whsec_` and 32 random characters) when left out */
  secret: WebhookSecretSchema.optional(),
  description: z.string().trim().min(1).max(200).optional(),
}).strict();
export type NewWebhook = z.output<typeof NewWebhookSchema>;

export interface WebhookRow {
  subscription_id: number;
  url: string;
  active: boolean;
  /** `config`: from the serving configuration file; `api`: added with the API or `churn webhooks add` */
  source: 'config' | 'api';
  description: string | null;
  created_at: Date;
  removed_at: Date | null;
  /** deliveries waiting to be sent (neither delivered nor dead-lettered) */
  pending: number;
  /** deliveries dead-lettered and not requeued */
  dead: number;
}

const WEBHOOK_COLUMNS = `s.subscription_id, s.url, s.active, s.source, s.description, s.created_at, s.removed_at,
  (SELECT count(*) FROM churn.alert_outbox o WHERE o.subscription_id = s.subscription_id AND o.delivered_at IS NULL AND o.dead_at IS NULL)::int AS pending,
  (SELECT count(*) FROM churn.alert_outbox o WHERE o.subscription_id = s.subscription_id AND o.dead_at IS NOT NULL)::int AS dead`;

/** A new signing secret: `whsec_` and 32 base64url characters (192 random bits). */
export function newWebhookSecret(): string {
  return `whsec_${randomBytes(24).toString('base64url')}`;
}

/** Adds a subscription (source `api`); the secret is returned once. 409 when an active subscription has the URL. */
export async function addWebhook(db: Queryable, input: NewWebhook): Promise<{ webhook: WebhookRow; secret: string }> {
  const secret = input.secret ?? newWebhookSecret();
  const rows = await query<WebhookRow>(db, {
    text: `WITH added AS (
        INSERT INTO churn.webhook_subscriptions (url, secret, active, source, description) VALUES ($1, $2, true, 'api', $3)
        ON CONFLICT (url) WHERE active DO NOTHING RETURNING *)
      SELECT ${WEBHOOK_COLUMNS} FROM added s`,
    values: [input.url, secret, input.description ?? null],
  });
  if (!rows.length) {
    const [held] = await query<{ subscription_id: number }>(db, { text: 'SELECT subscription_id FROM churn.webhook_subscriptions WHERE url = $1 AND active', values: [input.url] });
    throw new ChurnError('CHURN_ERR_WEBHOOK_EXISTS', `subscription ${held?.subscription_id ?? '?'} already delivers to ${displayUrl(input.url)}; remove it first to change its secret`);
  }
  return { webhook: rows[0], secret };
}

/** Subscriptions by id, the active ones (or, with `all`, the removed ones too). */
export async function listWebhooks(db: Queryable, opts: { all?: boolean } = {}): Promise<WebhookRow[]> {
  return query<WebhookRow>(db, {
    text: `SELECT ${WEBHOOK_COLUMNS} FROM churn.webhook_subscriptions s WHERE $1::boolean OR s.active ORDER BY s.subscription_id`,
    values: [opts.all ?? false],
  });
}

/**
 * The active subscription with this id, or of this URL (with `removed`, also a removed one: by URL the
 * active one, else the one removed last); CHURN_ERR_NOT_FOUND otherwise.
 */
export async function findWebhook(db: Queryable, ref: number | string, opts: { removed?: boolean } = {}): Promise<WebhookRow & { secret: string }> {
  const rows = await query<WebhookRow & { secret: string }>(db, {
    text: `SELECT ${WEBHOOK_COLUMNS}, s.secret FROM churn.webhook_subscriptions s
      WHERE ($3::boolean OR s.active) AND (CASE WHEN $1::bigint IS NULL THEN s.url = $2 ELSE s.subscription_id = $1 END)
      ORDER BY s.active DESC, s.subscription_id DESC LIMIT 1`,
    values: typeof ref === 'number' ? [ref, null, opts.removed ?? false] : [null, ref, opts.removed ?? false],
  });
  if (!rows.length) throw new ChurnError('CHURN_ERR_NOT_FOUND', `no ${opts.removed ? '' : 'active '}webhook subscription ${typeof ref === 'number' ? `with id ${ref}` : `for ${ref}`}`);
  return rows[0];
}

/**
 * Removes a subscription: inactive from now on (no new alert is queued for it and none is sent), its
 * undelivered deliveries (pending and dead-lettered) discarded; its delivered ones stay listed. A URL
 * still in the serving configuration file gets a new subscription at the next start.
 */
export async function removeWebhook(pool: Pool, ref: number | string): Promise<{ webhook: WebhookRow; discarded: number }> {
  return withTransaction(pool, async (client) => {
    const { subscription_id: id } = await findWebhook(client, ref);
    await query(client, { text: 'UPDATE churn.webhook_subscriptions SET active = false, removed_at = now() WHERE subscription_id = $1', values: [id] });
    const discarded = await query(client, { text: 'DELETE FROM churn.alert_outbox WHERE subscription_id = $1 AND delivered_at IS NULL RETURNING outbox_id', values: [id] });
    const [webhook] = await query<WebhookRow>(client, { text: `SELECT ${WEBHOOK_COLUMNS} FROM churn.webhook_subscriptions s WHERE s.subscription_id = $1`, values: [id] });
    return { webhook, discarded: discarded.length };
  });
}

/**
 * What went wrong with a POST to a receiver, in words an operator can act on: fetch itself says only
 * "fetch failed", with the reason in its cause (a refused connection, an unknown host, a port fetch
 * never uses such as 1 or 25, a TLS failure), and a timeout says "The operation was aborted".
 */
export function describeDeliveryError(err: unknown, timeoutMs: number): string {
  const e = err as { name?: string; message?: string; cause?: { code?: string; message?: string } };
  if (e?.name === 'TimeoutError') return `no answer within ${timeoutMs} ms`;
  const cause = e?.cause;
  if (!cause) return String(e?.message ?? err);
  const detail = cause.message && cause.message !== cause.code ? cause.message : null;
  const reason = [detail, cause.code && !detail?.includes(cause.code) ? `(${cause.code})` : null].filter(Boolean).join(' ');
  return reason ? `${e.message}: ${reason}` : String(e.message);
}

/** A path segment that reads as a secret: 16 or more letters, digits, `-` or `_`, with both letters and digits (Slack's and Discord's webhook tokens). */
const TOKEN_SEGMENT = /^(?=[^/]*[A-Za-z])(?=[^/]*\d)[A-Za-z0-9_-]{16,}$/;

/**
 * A receiver's URL for logs and terminals, without the secrets receivers put in their URLs, so that
 * log lines and pasted output do not carry them: a password (`https://user:pw@host/...`, basic auth
 * some receivers take) and token-like path segments (`.../services/T0/B0/<token>`) shown as `***`,
 * the values of secret-looking query parameters (`?token=`) as `[REDACTED]`. The host and the rest of
 * the path still say which receiver it is.
 */
export function displayUrl(url: string): string {
  let u: URL;
  try {
    u = new URL(url);
  } catch {
    return redactUrl(url);
  }
  const segments = u.pathname.split('/');
  const masked = segments.map((segment) => (TOKEN_SEGMENT.test(segment) ? '***' : segment));
  if (!u.password && masked.every((segment, i) => segment === segments[i])) return redactUrl(url);
  if (u.password) u.password = '***';
  u.pathname = masked.join('/');
  return redactUrl(u.toString());
}

export interface TestDelivery {
  subscription_id: number;
  url: string;
  /** the receiver answered 2xx */
  delivered: boolean;
  /** its HTTP status, null when it could not be reached */
  status: number | null;
  error: string | null;
  duration_ms: number;
  /** what was sent: the body, and the `x-churn-signature` and `x-churn-delivery` headers */
  body: string;
  signature: string;
  delivery: string;
}

/** A sample alert (`type` `churn.test`) in the shape of a real one, so a receiver sees what it will get. */
export function samplePayload(now: Date): Record<string, unknown> {
  const day = (n: number) => new Date(Date.UTC(now.getUTCFullYear(), now.getUTCMonth(), now.getUTCDate() - n)).toISOString();
  return {
    type: 'churn.test', test: true, account_id: 'acc_test', kind: 'tier_drop', sequence: 0, alert_id: 0, created_at: now.toISOString(),
    from: { as_of: day(1), health_score: 71, tier: 'healthy', model_version: 1 },
    to: { as_of: day(0), health_score: 62, tier: 'at_risk', model_version: 1, churn_probability: 0.21, recommended_action: 'engage' },
  };
}

/**
 * POSTs a signed sample payload to an active subscription, as a delivery round would (same headers,
 * signature, timeout, no redirects), and reports what the receiver answered. Nothing is recorded.
 */
export async function sendTestDelivery(db: Queryable, ref: number | string, opts: { timeoutMs: number }): Promise<TestDelivery> {
  const sub = await findWebhook(db, ref);
  const now = new Date();
  const body = JSON.stringify(samplePayload(now));
  const signature = signPayload(sub.secret, body, Math.floor(now.getTime() / 1000));
  const delivery = `test-${randomUUID()}`;
  const started = performance.now();
  let status: number | null = null;
  let error: string | null = null;
  try {
    const res = await fetch(sub.url, {
      method: 'POST', body, redirect: 'manual', signal: AbortSignal.timeout(opts.timeoutMs),
      headers: { 'content-type': 'application/json', [SIGNATURE_HEADER]: signature, 'x-churn-delivery': delivery },
    });
    status = res.status;
    await res.arrayBuffer().catch(() => undefined);
    if (status < 200 || status >= 300) error = `receiver answered ${status}`;
  } catch (err) {
    error = describeDeliveryError(err, opts.timeoutMs);
  }
  return {
    subscription_id: sub.subscription_id, url: sub.url, delivered: error === null, status, error,
    duration_ms: Math.round(performance.now() - started), body, signature, delivery,
  };
}
