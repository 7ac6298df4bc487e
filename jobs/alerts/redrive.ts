import { z } from 'zod';
import { query, type Queryable } from '../../core/db.ts';
import { ChurnError } from '../../core/errors.ts';
import { countDead, listDeliveries, requeueDead } from './outbox.sql.ts';

/** Re-drive of dead-lettered deliveries and a small listing, shared by `churn alerts` and /v1/alerts. */

/** A subscription by id (digits) or by its URL. */
export const SubscriptionRefSchema = z.union([
  z.number().int().min(1).max(Number.MAX_SAFE_INTEGER),
  z.string().regex(/^\d{1,18}$/, 'a subscription id is a positive integer').transform(Number),
  z.url({ protocol: /^https?$/, error: 'a subscription is its id or its http(s) URL' }),
]);

/** What to requeue: every dead delivery (`all`), or those of a subscription and/or an alert; at least one. */
export const RedeliverSelectionSchema = z.object({
  all: z.boolean().default(false),
  subscription: SubscriptionRefSchema.optional(),
  alert_id: z.number().int().min(1).max(Number.MAX_SAFE_INTEGER).optional(),
}).strict().refine((s) => s.all || s.subscription !== undefined || s.alert_id !== undefined, 'choose what to requeue: all, a subscription or an alert')
  .refine((s) => !(s.all && (s.subscription !== undefined || s.alert_id !== undefined)), '`all` cannot be combined with a subscription or an alert');
export type RedeliverSelection = z.output<typeof RedeliverSelectionSchema>;

async function subscriptionId(db: Queryable, ref: string | number): Promise<number> {
  const rows = await query<{ subscription_id: number }>(db, {
    // by URL: its active subscription, else the one removed last
    text: typeof ref === 'number' ? 'SELECT subscription_id FROM churn.webhook_subscriptions WHERE subscription_id = $1'
      : 'SELECT subscription_id FROM churn.webhook_subscriptions WHERE url = $1 ORDER BY active DESC, subscription_id DESC LIMIT 1',
    values: [ref],
  });
  if (!rows.length) throw new ChurnError('CHURN_ERR_NOT_FOUND', `no webhook subscription ${typeof ref === 'number' ? `with id ${ref}` : `for ${ref}`}`);
  return rows[0].subscription_id;
}

/**
 * Requeues dead-lettered deliveries (attempts reset, due now); the next delivery round sends them.
 * A named subscription or alert that does not exist is an error; one with nothing dead requeues 0.
 */
export async function redeliverDead(db: Queryable, selection: RedeliverSelection): Promise<{ requeued: number }> {
  const subId = selection.subscription === undefined ? undefined : await subscriptionId(db, selection.subscription);
  if (selection.alert_id !== undefined) {
    const found = await query(db, { text: 'SELECT 1 FROM churn.alerts WHERE alert_id = $1', values: [selection.alert_id] });
    if (!found.length) throw new ChurnError('CHURN_ERR_NOT_FOUND', `no alert with id ${selection.alert_id}`);
  }
  const rows = await query(db, requeueDead({ subscriptionId: subId, alertId: selection.alert_id }));
  return { requeued: rows.length };
}

export async function deadDeliveries(db: Queryable): Promise<number> {
  return (await query<{ n: number }>(db, countDead()))[0].n;
}

export interface DeliveryRow {
  outbox_id: number;
  alert_id: number;
  account_id: string;
  sequence: number;
  kind: string;
  created_at: Date;
  subscription_id: number;
  url: string;
  attempts: number;
  delivered_at: Date | null;
  dead_at: Date | null;
  next_attempt_at: Date;
  last_status: number | null;
  last_error: string | null;
}

export function deliveryState(r: Pick<DeliveryRow, 'delivered_at' | 'dead_at'>): 'delivered' | 'dead' | 'pending' {
  return r.delivered_at ? 'delivered' : r.dead_at ? 'dead' : 'pending';
}

/** The newest deliveries (or dead-lettered ones only; or one subscription's), newest first. */
export async function listAlertDeliveries(db: Queryable, opts: { dead: boolean; limit: number; subscriptionId?: number }): Promise<DeliveryRow[]> {
  return query<DeliveryRow>(db, listDeliveries(opts));
}
