/**
 * Revenue for the report's summary, in MRR (the currency of source.subscriptions):
 * - at risk now: each customer's latest stored score at or before the report's time, with the MRR of
 *   the subscription covering that time, per tier and recommended action, and the MRR expected to be
 *   lost (MRR times the score's churn probability);
 * - caught: of the churners among the evaluated rows, the MRR (at the row's as-of) of those in the
 *   model's riskiest 10% and 20%.
 * A subscription covers time t when it started before t and had not ended by t; when several do, the
 * latest started (the features' rule, features/compile.ts).
 */
import { z } from 'zod';
import { query, type Queryable, type Sql } from '../../core/db.ts';
import { riskiestRows } from './ranking.ts';

const Money = z.number().nonnegative();
const Count = z.number().int().nonnegative();

export const RevenueAtRiskSchema = z.object({
  /** the report's time: latest stored scores at or before it, subscriptions covering it */
  asOf: z.string(),
  /** as-of of the oldest and newest of the customers' latest scores */
  scoresFrom: z.string().nullable(),
  scoresTo: z.string().nullable(),
  /** customers now (a subscription covers asOf) with a stored score, and their MRR */
  accounts: Count,
  mrr: Money,
  /** the MRR the scores expect to be lost: each customer's MRR times its churn probability (absent in reports written before it) */
  expectedLoss: Money.optional(),
  /** scored accounts that are no longer customers (no subscription covers asOf): left out */
  formerCustomers: Count,
  /** the model versions whose stored scores these are (absent in reports written before it) */
  scoredBy: z.array(z.number().int().positive()).optional(),
  /** riskiest tier first */
  tiers: z.array(z.object({
    tier: z.string(), accounts: Count, mrr: Money, expectedLoss: Money.optional(),
    actions: z.array(z.object({ action: z.string(), accounts: Count, mrr: Money })),
  })),
});
export type RevenueAtRisk = z.infer<typeof RevenueAtRiskSchema>;

export const CaughtRevenueSchema = z.object({
  churners: Count,
  /** MRR of all churners among the evaluated rows */
  churnedMrr: Money,
  top10: z.object({ churners: Count, mrr: Money }),
  top20: z.object({ churners: Count, mrr: Money }),
  /** churners whose MRR at the row's as-of is unknown (counted as 0) */
  missing: Count,
});
export type CaughtRevenue = z.infer<typeof CaughtRevenueSchema>;

/**
 * Per tier and action: customers with a stored score, their MRR; plus scored former customers. Only
 * `version`'s scores when it is given (else every version's), and the versions whose scores they are.
 */
export const revenueByTierQuery = (at: Date, version: number | null = null): Sql => ({
  text: `WITH
-- 1. each account's latest stored score at or before $1, of version $2 when given (one index probe per account)
latest AS (
  SELECT a.account_id, l.as_of, l.tier, l.recommended_action, l.churn_probability, l.model_version
  FROM source.accounts a
  CROSS JOIN LATERAL (SELECT h.as_of, h.tier, h.recommended_action, h.churn_probability, h.model_version FROM churn.score_history h
    WHERE h.account_id = a.account_id AND h.as_of <= $1 AND ($2::int IS NULL OR h.model_version = $2::int) ORDER BY h.as_of DESC, h.score_id DESC LIMIT 1) l),
-- 2. the subscription covering $1, if any
covering AS (
  SELECT DISTINCT ON (s.account_id) s.account_id, s.mrr
  FROM source.subscriptions s
  WHERE s.started_at < $1 AND (s.ended_at IS NULL OR s.ended_at >= $1)
  ORDER BY s.account_id, s.started_at DESC, s.subscription_id DESC)
SELECT l.tier, l.recommended_action, (c.account_id IS NOT NULL) AS customer, count(*)::int AS accounts,
  coalesce(sum(c.mrr), 0)::float8 AS mrr, coalesce(sum(c.mrr * l.churn_probability::numeric), 0)::float8 AS expected_loss,
  min(l.as_of) AS scores_from, max(l.as_of) AS scores_to, array_agg(DISTINCT l.model_version) AS model_versions
FROM latest l LEFT JOIN covering c ON c.account_id = l.account_id
GROUP BY 1, 2, 3`,
  values: [at, version],
});

interface TierActionRow { tier: string; recommended_action: string; customer: boolean; accounts: number; mrr: number; expected_loss: number; scores_from: Date; scores_to: Date; model_versions?: number[] }

/**
 * Revenue at risk from the stored scores (only `version`'s when given); null when no account has
 * such a score at or before `at`.
 */
export async function revenueAtRisk(db: Queryable, at: Date, tierOrder: readonly string[], opts: { version?: number | null } = {}): Promise<RevenueAtRisk | null> {
  const rows = await query<TierActionRow & Record<string, unknown>>(db, revenueByTierQuery(at, opts.version ?? null));
  return summariseRevenue(rows, at, tierOrder);
}

/** Pure: the rows of revenueByTierQuery as tiers (riskiest first: `tierOrder` lists healthiest first). */
export function summariseRevenue(rows: TierActionRow[], at: Date, tierOrder: readonly string[]): RevenueAtRisk | null {
  if (!rows.length) return null;
  const customers = rows.filter((r) => r.customer);
  const tiers = new Map<string, RevenueAtRisk['tiers'][number]>();
  for (const r of customers) {
    const t = tiers.get(r.tier) ?? { tier: r.tier, accounts: 0, mrr: 0, expectedLoss: 0, actions: [] };
    t.accounts += r.accounts;
    t.mrr += r.mrr;
    t.expectedLoss = (t.expectedLoss ?? 0) + r.expected_loss;
    t.actions.push({ action: r.recommended_action, accounts: r.accounts, mrr: r.mrr });
    tiers.set(r.tier, t);
  }
  const rankOf = (tier: string) => {
    const i = tierOrder.indexOf(tier);
    return i < 0 ? -1 : i; // unknown tiers first: never hide what the configuration does not name
  };
  const ordered = [...tiers.values()].sort((a, b) => rankOf(b.tier) - rankOf(a.tier) || a.tier.localeCompare(b.tier));
  for (const t of ordered) t.actions.sort((a, b) => b.accounts - a.accounts || a.action.localeCompare(b.action));
  const times = (customers.length ? customers : rows).flatMap((r) => [r.scores_from.getTime(), r.scores_to.getTime()]);
  return {
    asOf: at.toISOString(),
    scoresFrom: new Date(Math.min(...times)).toISOString(),
    scoresTo: new Date(Math.max(...times)).toISOString(),
    accounts: customers.reduce((s, r) => s + r.accounts, 0),
    mrr: customers.reduce((s, r) => s + r.mrr, 0),
    expectedLoss: customers.reduce((s, r) => s + r.expected_loss, 0),
    formerCustomers: rows.filter((r) => !r.customer).reduce((s, r) => s + r.accounts, 0),
    ...(rows.some((r) => r.model_versions) ? { scoredBy: [...new Set((customers.length ? customers : rows).flatMap((r) => r.model_versions ?? []))].sort((a, b) => a - b) } : {}),
    tiers: ordered,
  };
}

/** MRR of the subscription covering each (account, time) pair, in order; null where none does. */
export const mrrAtQuery = (accountIds: readonly string[], times: readonly Date[]): Sql => ({
  text: `SELECT o.k::int AS k, c.mrr::float8 AS mrr
FROM unnest($1::text[], $2::timestamptz[]) WITH ORDINALITY AS o(account_id, at, k)
LEFT JOIN LATERAL (SELECT s.mrr FROM source.subscriptions s
  WHERE s.account_id = o.account_id AND s.started_at < o.at AND (s.ended_at IS NULL OR s.ended_at >= o.at)
  ORDER BY s.started_at DESC, s.subscription_id DESC LIMIT 1) c ON true
ORDER BY o.k`,
  values: [accountIds, times],
});

export async function mrrAt(db: Queryable, accountIds: readonly string[], times: readonly Date[]): Promise<(number | null)[]> {
  if (!accountIds.length) return [];
  const rows = await query<{ k: number; mrr: number | null }>(db, mrrAtQuery(accountIds, times));
  return rows.map((r) => r.mrr);
}

/** Pure: MRR of the churners, and of those in the riskiest 10% and 20% (the report's deciles). */
export function caughtRevenue(y: ArrayLike<number>, p: ArrayLike<number>, mrr: readonly (number | null)[]): CaughtRevenue {
  const sum = (rows: Iterable<number>) => {
    let churners = 0;
    let total = 0;
    for (const i of rows) {
      if (y[i] !== 1) continue;
      churners++;
      total += mrr[i] ?? 0;
    }
    return { churners, mrr: total };
  };
  const all = sum(Array.from({ length: y.length }, (_, i) => i));
  let missing = 0;
  for (let i = 0; i < y.length; i++) if (y[i] === 1 && mrr[i] === null) missing++;
  return { churners: all.churners, churnedMrr: all.mrr, top10: sum(riskiestRows(y, p, 1)), top20: sum(riskiestRows(y, p, 2)), missing };
}
