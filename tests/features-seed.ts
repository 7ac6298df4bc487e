/**
 * Small hand-made and seeded-random source rows for the feature tests: plain objects, loaded with
 * one parameterised INSERT per table, and kept in memory so an independent oracle can read them.
 */
import type { Pool } from '../core/db.ts';
import { mulberry32 } from '../core/random.ts';

export const DAY = 86_400_000;

export interface Dataset {
  eventTypes: { event_type: string; feature_area: string; is_key_feature: boolean }[];
  accounts: { account_id: string; segment: string; plan: string; created_at: Date }[];
  users: { user_id: string; account_id: string; created_at: Date; deactivated_at?: Date | null }[];
  subscriptions: { subscription_id: string; account_id: string; plan: string; mrr: number; seats: number; billing_period: 'monthly' | 'annual'; discount_pct?: number; is_trial?: boolean; started_at: Date; ended_at?: Date | null; canceled_at?: Date | null; status?: string }[];
  events: { event_id: number; account_id: string; user_id: string | null; event_type: string; occurred_at: Date; quantity?: number }[];
  tickets: { ticket_id: string; account_id: string; opened_at: Date; closed_at?: Date | null; priority: string; escalated_at?: Date | null; csat?: number | null; status?: string }[];
  surveys: { response_id: string; account_id: string; survey_type: 'nps' | 'csat'; score: number; responded_at: Date }[];
  invoices: { invoice_id: string; account_id: string; issued_at: Date; due_at: Date; paid_at?: Date | null; amount?: number; status?: string }[];
  payments: { attempt_id: string; invoice_id: string; account_id: string; attempted_at: Date; succeeded: boolean }[];
}

export const EVENT_TYPES: Dataset['eventTypes'] = [
  { event_type: 'login', feature_area: 'core', is_key_feature: false },
  { event_type: 'record_create', feature_area: 'core', is_key_feature: true },
  { event_type: 'report_create', feature_area: 'reports', is_key_feature: true },
  { event_type: 'comment_add', feature_area: 'collaboration', is_key_feature: false },
  { event_type: 'api_call', feature_area: 'integrations', is_key_feature: false },
  { event_type: 'push_open', feature_area: 'mobile', is_key_feature: false },
];

async function insert(pool: Pool, table: string, cols: string[], rows: unknown[][]): Promise<void> {
  for (let i = 0; i < rows.length; i += 500) {
    const chunk = rows.slice(i, i + 500);
    const values: unknown[] = [];
    const tuples = chunk.map((r) => `(${r.map((v) => { values.push(v); return `$${values.length}`; }).join(', ')})`);
    await pool.query(`INSERT INTO source.${table} (${cols.join(', ')}) VALUES ${tuples.join(', ')}`, values);
  }
}

/** Empties every source table. */
export async function clearSource(pool: Pool): Promise<void> {
  await pool.query('TRUNCATE source.payment_attempts, source.invoices, source.survey_responses, source.support_tickets, source.events, source.subscriptions, source.users, source.accounts, source.event_types CASCADE');
}

export async function loadDataset(pool: Pool, ds: Dataset): Promise<void> {
  await insert(pool, 'event_types', ['event_type', 'feature_area', 'is_key_feature'], ds.eventTypes.map((e) => [e.event_type, e.feature_area, e.is_key_feature]));
  await insert(pool, 'accounts', ['account_id', 'name', 'segment', 'plan', 'created_at'], ds.accounts.map((a) => [a.account_id, a.account_id, a.segment, a.plan, a.created_at]));
  await insert(pool, 'users', ['user_id', 'account_id', 'created_at', 'deactivated_at'], ds.users.map((u) => [u.user_id, u.account_id, u.created_at, u.deactivated_at ?? null]));
  await insert(pool, 'subscriptions', ['subscription_id', 'account_id', 'plan', 'mrr', 'seats', 'billing_period', 'discount_pct', 'is_trial', 'started_at', 'ended_at', 'canceled_at', 'status'],
    ds.subscriptions.map((s) => [s.subscription_id, s.account_id, s.plan, s.mrr, s.seats, s.billing_period, s.discount_pct ?? 0, s.is_trial ?? false, s.started_at, s.ended_at ?? null, s.canceled_at ?? null, s.status ?? (s.ended_at ? 'ended' : 'active')]));
  await insert(pool, 'events', ['event_id', 'account_id', 'user_id', 'event_type', 'occurred_at', 'quantity'],
    ds.events.map((e) => [e.event_id, e.account_id, e.user_id, e.event_type, e.occurred_at, e.quantity ?? 1]));
  await insert(pool, 'support_tickets', ['ticket_id', 'account_id', 'opened_at', 'closed_at', 'priority', 'status', 'escalated', 'escalated_at', 'csat'],
    ds.tickets.map((t) => [t.ticket_id, t.account_id, t.opened_at, t.closed_at ?? null, t.priority, t.status ?? (t.closed_at ? 'closed' : 'open'), Boolean(t.escalated_at), t.escalated_at ?? null, t.csat ?? null]));
  await insert(pool, 'survey_responses', ['response_id', 'account_id', 'survey_type', 'score', 'responded_at'], ds.surveys.map((s) => [s.response_id, s.account_id, s.survey_type, s.score, s.responded_at]));
  await insert(pool, 'invoices', ['invoice_id', 'account_id', 'issued_at', 'due_at', 'paid_at', 'amount', 'status'],
    ds.invoices.map((i) => [i.invoice_id, i.account_id, i.issued_at, i.due_at, i.paid_at ?? null, i.amount ?? 100, i.status ?? (i.paid_at ? 'paid' : 'open')]));
  await insert(pool, 'payment_attempts', ['attempt_id', 'invoice_id', 'account_id', 'attempted_at', 'succeeded'], ds.payments.map((p) => [p.attempt_id, p.invoice_id, p.account_id, p.attempted_at, p.succeeded]));
}

export const rng = mulberry32;

/**
 * A random but reproducible data set of `n` accounts whose facts fall in [start, end): accounts
 * created before and inside the period, renewals and plan changes, users coming and going, events
 * at any time of day (some without a user), tickets, surveys, invoices and payment attempts.
 */
export function randomDataset(seed: number, n: number, start: Date, end: Date): Dataset {
  const r = rng(seed);
  const pick = <T>(xs: readonly T[]): T => xs[Math.floor(r() * xs.length)];
  const at = (from: number, to: number) => new Date(from + Math.floor(r() * Math.max(1, to - from)));
  const s0 = start.getTime();
  const e0 = end.getTime();
  const ds: Dataset = { eventTypes: EVENT_TYPES, accounts: [], users: [], subscriptions: [], events: [], tickets: [], surveys: [], invoices: [], payments: [] };
  let eventId = 1;
  for (let i = 0; i < n; i++) {
    const id = `acc_${String(i).padStart(3, '0')}`;
    const created = i % 3 === 0 ? at(s0 + 20 * DAY, e0 - 30 * DAY) : at(s0 - 400 * DAY, s0);
    ds.accounts.push({ account_id: id, segment: pick(['smb', 'mid_market', 'enterprise']), plan: 'team', created_at: created });
    // a chain of subscriptions; some end (churn) before the end of the period
    let t = created.getTime() + Math.floor(r() * 3 * DAY);
    let k = 0;
    while (t < e0) {
      const len = (30 + Math.floor(r() * 150)) * DAY;
      const ends = t + len < e0 || r() < 0.2;
      const endAt = t + len;
      ds.subscriptions.push({ subscription_id: `${id}_s${k}`, account_id: id, plan: pick(['starter', 'team', 'business', 'enterprise']), mrr: 20 + Math.floor(r() * 500), seats: 1 + Math.floor(r() * 20),
        billing_period: pick(['monthly', 'annual'] as const), discount_pct: pick([0, 0, 10, 25]), is_trial: k === 0 && r() < 0.3, started_at: new Date(t), ended_at: ends ? new Date(endAt) : null });
      if (r() < 0.12) break; // churned: no renewal
      t = endAt;
      k++;
      if (!ends) break;
    }
    const users = Array.from({ length: 1 + Math.floor(r() * 4) }, (_, u) => ({ user_id: `${id}_u${u}`, account_id: id, created_at: at(created.getTime(), e0 - 10 * DAY), deactivated_at: null as Date | null }));
    for (const u of users) if (r() < 0.2) u.deactivated_at = at(Math.max(u.created_at.getTime(), e0 - 90 * DAY), e0);
    ds.users.push(...users);
    const nEvents = i % 5 === 4 ? 0 : 20 + Math.floor(r() * 120); // some accounts never use the product
    for (let j = 0; j < nEvents; j++) {
      const u = r() < 0.15 ? null : pick(users).user_id;
      ds.events.push({ event_id: eventId++, account_id: id, user_id: u, event_type: u === null ? 'api_call' : pick(['login', 'login', 'record_create', 'report_create', 'comment_add', 'push_open']), occurred_at: at(Math.max(s0, created.getTime()), e0), quantity: 1 + Math.floor(r() * 3) });
    }
    for (let j = 0; j < Math.floor(r() * 8); j++) {
      const opened = at(s0, e0);
      const closed = r() < 0.75 ? new Date(opened.getTime() + Math.floor(r() * 20 * DAY)) : null;
      ds.tickets.push({ ticket_id: `${id}_t${j}`, account_id: id, opened_at: opened, closed_at: closed, priority: pick(['low', 'normal', 'high', 'urgent']),
        escalated_at: r() < 0.3 ? new Date(opened.getTime() + Math.floor(r() * 5 * DAY)) : null, csat: closed && r() < 0.7 ? 1 + Math.floor(r() * 5) : null });
    }
    for (let j = 0; j < Math.floor(r() * 5); j++) {
      const type = pick(['nps', 'nps', 'csat'] as const);
      ds.surveys.push({ response_id: `${id}_r${j}`, account_id: id, survey_type: type, score: type === 'nps' ? Math.floor(r() * 11) : 1 + Math.floor(r() * 5), responded_at: at(s0, e0) });
    }
    for (let j = 0; j < Math.floor(r() * 7); j++) {
      const issued = at(s0, e0);
      const due = new Date(issued.getTime() + (7 + Math.floor(r() * 20)) * DAY);
      const paid = r() < 0.8 ? new Date(due.getTime() + Math.floor((r() - 0.5) * 30 * DAY)) : null;
      const inv = `${id}_i${j}`;
      ds.invoices.push({ invoice_id: inv, account_id: id, issued_at: issued, due_at: due, paid_at: paid && paid >= issued ? paid : null });
      for (let a = 0; a < Math.floor(r() * 3); a++) ds.payments.push({ attempt_id: `${inv}_a${a}`, invoice_id: inv, account_id: id, attempted_at: at(issued.getTime(), issued.getTime() + 40 * DAY), succeeded: r() < 0.4 });
    }
  }
  return ds;
}
