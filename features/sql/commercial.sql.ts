import type { KindDef, Window } from '../definitions/schema.ts';
import { daysBefore, daysBetween, inWindow, type SqlBuilder, type Template } from './builder.sql.ts';

/*
 * Contract and money. The current subscription is the population's own row (`p`, the one covering
 * as_of); `so<N>` is the one that covered as_of - N days, as known at as_of (a row's ended_at is
 * only compared with times before as_of, so a later end never shows). Invoices count as paid only
 * if paid_at < as_of; payment attempts only if attempted_at < as_of.
 */
export const subscriptionAttr: Template<KindDef<'subscription_attr'>> = (def, b) => {
  const s = def.offsetDays ? `so${def.offsetDays}` : 'p';
  const col = (c: string) => (s === 'p' ? `p.${c}` : b.col(s as `so${number}`, `s.${c}`));
  switch (def.attr) {
    case 'mrr':
      return `${col('mrr')}::float8`;
    case 'seats':
      return `${col('seats')}::float8`;
    case 'discount_pct':
      return `${col('discount_pct')}::float8`;
    case 'billing_annual':
      return `(${col('billing_period')} = 'annual')::int`;
    case 'is_trial':
      return `${col('is_trial')}::int`;
    case 'days_to_renewal': {
      // whole days until the current subscription's next billing anniversary (yearly for annual
      // billing, monthly otherwise), counted in calendar months from its start (no offset: the schema)
      // (calendar arithmetic in UTC, so the server's TimeZone setting changes nothing)
      const start = "(p.sub_started_at AT TIME ZONE 'UTC')";
      const at = "(p.as_of AT TIME ZONE 'UTC')";
      const step = "CASE WHEN p.billing_period = 'annual' THEN 12 ELSE 1 END";
      const months = `(extract(year FROM age(${at}, ${start})) * 12 + extract(month FROM age(${at}, ${start})))`;
      return `floor(extract(epoch FROM (${start} + ((floor(${months} / ${step}) + 1) * ${step}) * interval '1 month') - ${at}) / 86400)`;
    }
    case 'plan_tier': {
      const tiers = Object.entries(def.planTiers ?? {});
      const names = b.bind(tiers.map(([k]) => k), 'text[]');
      const ranks = b.bind(tiers.map(([, v]) => v), 'float8[]');
      return `(${ranks})[array_position(${names}, ${col('plan')})]`;
    }
  }
};

export const accountAttr: Template<KindDef<'account_attr'>> = (def, b) =>
  `coalesce((p.${def.attr} = ${b.bind(def.equals, 'text')})::int, 0)`;

export const tenure: Template<KindDef<'tenure'>> = () => daysBetween('p.created_at', 'p.as_of');

/** Users provisioned at as_of: created before it and not deactivated before it. */
export const userCount: Template<KindDef<'user_count'>> = (_def, b) => provisionedUsers(b);

/**
 * The share of users active in the window, over the users provisioned at some time in it (created
 * before its end, not deactivated by its start), the users its active users come from. Over those
 * provisioned at as_of, it passed 100% when users active this month were removed since. A share of
 * its own rather than a ratio of two features: the count of users provisioned in the window differs
 * from `user_count` only by the users removed in it, and as a model input of its own an explanation
 * read "25 user accounts provisioned in the last 28 days" as raising the risk.
 */
export const userShare: Template<KindDef<'user_share'>> = (def, b) =>
  `${b.exprOf(def.dependsOn[0])}::float8 / nullif(${provisionedUsers(b, def.window)}, 0)`;

/**
 * Users provisioned at as_of, or at some time in `window`; the users' source holds every user created
 * before as_of and provisioned at some time in the longest window asked for (features/compile.ts).
 */
function provisionedUsers(b: SqlBuilder, window?: Window): string {
  const provisioned = window
    ? `u.created_at < ${daysBefore('p.as_of', window.offsetDays)} AND (u.deactivated_at IS NULL OR u.deactivated_at > ${daysBefore('p.as_of', window.offsetDays + window.days)})`
    : 'u.deactivated_at IS NULL OR u.deactivated_at >= p.as_of';
  return `coalesce(${b.col('usr', `count(*) FILTER (WHERE ${provisioned})`)}, 0)`;
}

/**
 * Whole days past the due time (paid, or still unpaid at as_of): a card charge settled a minute after
 * its due time is on time, not 0.0007 days late. (Fractional days let a model tell instant card payers
 * from invoice payers who pay before the due date, and then explain "paid 0 days late; typical retained
 * account: 0" as a risk.)
 */
const LATE_DAYS = "greatest(0, floor(extract(epoch FROM ((CASE WHEN i.paid_at < p.as_of THEN i.paid_at ELSE p.as_of END) - i.due_at)) / 86400))";

export const invoiceStat: Template<KindDef<'invoice_stat'>> = (def, b) => {
  const due = inWindow('i.due_at', 'p.as_of', def.window);
  switch (def.stat) {
    case 'days_late_mean':
      return b.col('inv', `avg(${LATE_DAYS}) FILTER (WHERE ${due})`);
    case 'days_late_max':
      return b.col('inv', `max(${LATE_DAYS}) FILTER (WHERE ${due})`);
    case 'overdue_count':
      return `coalesce(${b.col('inv', `count(*) FILTER (WHERE ${due} AND NOT coalesce(i.paid_at < p.as_of, false))`)}, 0)`;
  }
};

export const paymentFailures: Template<KindDef<'payment_failures'>> = (def, b) =>
  `coalesce(${b.col('pay', `count(*) FILTER (WHERE NOT a.succeeded AND ${inWindow('a.attempted_at', 'p.as_of', def.window)})`)}, 0)`;
