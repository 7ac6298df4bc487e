import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { query } from '../core/db.ts';
import { DRIVERS, EXPECTED_RANGES, generate, type GenerateResult } from '../features/generate/index.ts';
import { createTestDatabase, type TestDatabase } from './helpers/db.ts';
import { fitLogistic, rocAuc } from './generate-support.ts';

const END = '2026-11-01';
const START = '2025-11-01';

/** Each query counts rows that break one rule; every count must be zero. */
const VIOLATIONS: Record<string, string> = {
  'event outside every subscription period of its account': `SELECT count(*)::int AS n FROM source.events e WHERE NOT EXISTS (
      SELECT 1 FROM source.subscriptions s WHERE s.account_id = e.account_id
        AND s.started_at <= e.occurred_at AND (s.ended_at IS NULL OR e.occurred_at < s.ended_at))`,
  'event before its account was created': `SELECT count(*)::int AS n FROM source.events e JOIN source.accounts a USING (account_id) WHERE e.occurred_at < a.created_at`,
  'event by a user of another account or outside the user\'s tenure': `SELECT count(*)::int AS n FROM source.events e
      LEFT JOIN source.users u ON u.user_id = e.user_id AND u.account_id = e.account_id
      WHERE e.user_id IS NOT NULL AND (u.user_id IS NULL OR e.occurred_at < u.created_at OR e.occurred_at >= u.deactivated_at)`,
  'event of an unknown type': `SELECT count(*)::int AS n FROM source.events e LEFT JOIN source.event_types t USING (event_type) WHERE t.event_type IS NULL`,
  'activity at or after churn': `SELECT count(*)::int AS n FROM churn.synthetic_truth t WHERE t.churned AND (
      EXISTS (SELECT 1 FROM source.events e WHERE e.account_id = t.account_id AND e.occurred_at >= t.churned_at)
      OR EXISTS (SELECT 1 FROM source.support_tickets s WHERE s.account_id = t.account_id AND (s.opened_at >= t.churned_at OR s.closed_at > t.churned_at))
      OR EXISTS (SELECT 1 FROM source.survey_responses s WHERE s.account_id = t.account_id AND s.responded_at >= t.churned_at)
      OR EXISTS (SELECT 1 FROM source.invoices i WHERE i.account_id = t.account_id AND i.issued_at >= t.churned_at)
      OR EXISTS (SELECT 1 FROM source.payment_attempts p WHERE p.account_id = t.account_id AND p.attempted_at >= t.churned_at)
      OR EXISTS (SELECT 1 FROM source.subscriptions s WHERE s.account_id = t.account_id AND (s.ended_at IS NULL OR s.ended_at > t.churned_at)))`,
  'churned account whose last subscription does not end at churn': `SELECT count(*)::int AS n FROM churn.synthetic_truth t
      JOIN LATERAL (SELECT * FROM source.subscriptions s WHERE s.account_id = t.account_id ORDER BY s.started_at DESC LIMIT 1) s ON true
      WHERE t.churned AND (s.ended_at IS DISTINCT FROM t.churned_at OR s.status <> 'canceled' OR s.canceled_at IS NULL OR s.canceled_at > s.ended_at)`,
  'retained account without a running subscription': `SELECT count(*)::int AS n FROM churn.synthetic_truth t WHERE NOT t.churned
      AND NOT EXISTS (SELECT 1 FROM source.subscriptions s WHERE s.account_id = t.account_id AND s.ended_at IS NULL AND s.status IN ('active', 'trialing'))`,
  'gap or overlap between consecutive subscriptions': `SELECT count(*)::int AS n FROM (
      SELECT ended_at, lead(started_at) OVER (PARTITION BY account_id ORDER BY started_at) AS next_start FROM source.subscriptions) s
      WHERE s.next_start IS NOT NULL AND s.ended_at IS DISTINCT FROM s.next_start`,
  'first subscription not starting at account creation': `SELECT count(*)::int AS n FROM source.accounts a
      JOIN LATERAL (SELECT min(started_at) AS first FROM source.subscriptions s WHERE s.account_id = a.account_id) s ON true
      WHERE s.first IS DISTINCT FROM a.created_at`,
  'invoice failed_attempts differing from its failed payment attempts': `SELECT count(*)::int AS n FROM source.invoices i
      WHERE i.failed_attempts <> (SELECT count(*) FROM source.payment_attempts p WHERE p.invoice_id = i.invoice_id AND NOT p.succeeded)`,
  'paid invoice without its successful attempt at paid_at': `SELECT count(*)::int AS n FROM source.invoices i WHERE i.status = 'paid'
      AND NOT EXISTS (SELECT 1 FROM source.payment_attempts p WHERE p.invoice_id = i.invoice_id AND p.succeeded AND p.attempted_at = i.paid_at)`,
  'fact dated at or after the end of the data': `SELECT (SELECT count(*) FROM source.events WHERE occurred_at >= $1)
      + (SELECT count(*) FROM source.users WHERE created_at >= $1 OR deactivated_at >= $1)
      + (SELECT count(*) FROM source.support_tickets WHERE opened_at >= $1 OR closed_at >= $1 OR escalated_at >= $1)
      + (SELECT count(*) FROM source.survey_responses WHERE responded_at >= $1)
      + (SELECT count(*) FROM source.invoices WHERE issued_at >= $1 OR paid_at >= $1)
      + (SELECT count(*) FROM source.payment_attempts WHERE attempted_at >= $1)
      + (SELECT count(*) FROM source.subscriptions WHERE started_at >= $1 OR ended_at >= $1 OR canceled_at >= $1) AS n`,
  'escalation without escalated_at or after closing': `SELECT count(*)::int AS n FROM source.support_tickets
      WHERE escalated <> (escalated_at IS NOT NULL) OR escalated_at > closed_at OR (csat IS NOT NULL AND closed_at IS NULL)`,
};

/**
 * Point-in-time features at monthly observation dates for accounts alive then, and the label
 * "churns within 30 days". Only facts dated before as_of are read.
 */
const OBSERVATIONS = `WITH obs AS (SELECT d AS as_of FROM generate_series('2026-03-01'::timestamptz, '2026-09-01', '1 month') d),
  pop AS (SELECT t.account_id, o.as_of, (t.churned AND t.churned_at < o.as_of + interval '30 days')::int AS y
    FROM churn.synthetic_truth t JOIN source.accounts a USING (account_id) CROSS JOIN obs o
    WHERE a.created_at < o.as_of - interval '30 days' AND (t.churned_at IS NULL OR t.churned_at >= o.as_of))
  SELECT p.y,
    (SELECT count(DISTINCT (e.user_id, e.occurred_at::date)) FROM source.events e WHERE e.account_id = p.account_id AND e.user_id IS NOT NULL
       AND e.occurred_at >= p.as_of - interval '28 days' AND e.occurred_at < p.as_of)::float AS user_days_28d,
    (SELECT count(DISTINCT (e.user_id, e.occurred_at::date)) FROM source.events e WHERE e.account_id = p.account_id AND e.user_id IS NOT NULL
       AND e.occurred_at >= p.as_of - interval '84 days' AND e.occurred_at < p.as_of - interval '28 days')::float AS user_days_prior_56d,
    (SELECT count(DISTINCT t.feature_area) FROM source.events e JOIN source.event_types t USING (event_type) WHERE e.account_id = p.account_id
       AND e.occurred_at >= p.as_of - interval '28 days' AND e.occurred_at < p.as_of)::float AS areas_28d,
    (SELECT count(*) FROM source.support_tickets s WHERE s.account_id = p.account_id AND s.opened_at >= p.as_of - interval '60 days' AND s.opened_at < p.as_of)::float AS tickets_60d,
    (SELECT count(*) FROM source.payment_attempts s WHERE s.account_id = p.account_id AND NOT s.succeeded AND s.attempted_at >= p.as_of - interval '90 days' AND s.attempted_at < p.as_of)::float AS failed_payments_90d,
    (SELECT coalesce(min(score), 8) FROM source.survey_responses s WHERE s.account_id = p.account_id AND s.survey_type = 'nps'
       AND s.responded_at >= p.as_of - interval '90 days' AND s.responded_at < p.as_of)::float AS min_nps_90d,
    (SELECT count(*) FROM source.users u WHERE u.account_id = p.account_id AND u.created_at < p.as_of AND (u.deactivated_at IS NULL OR u.deactivated_at >= p.as_of))::float AS users,
    (SELECT (s.billing_period = 'monthly' OR s.started_at + interval '12 months' < p.as_of + interval '75 days')::int FROM source.subscriptions s
       WHERE s.account_id = p.account_id AND s.started_at < p.as_of ORDER BY s.started_at DESC LIMIT 1)::float AS renewal_due
  FROM pop p ORDER BY p.as_of, p.account_id`;

/**
 * Around each driver's onset (from the ground truth): feature areas per active day in the 28 days
 * before onset and in days 14-42 after it (full signal), and NPS answers in the two campaigns'
 * reach before and after. Support pain is the control: it neither narrows nor goes quiet.
 */
const AROUND_ONSET = `
  WITH s AS (
    SELECT t.account_id, (t.risk->>'driver_onset')::timestamptz AS onset, t.risk->>'driver' AS driver
    FROM churn.synthetic_truth t
    WHERE t.risk->>'driver_onset' IS NOT NULL AND t.risk->>'driver' IN ('shallow_adoption', 'fading_usage', 'support_pain')
      AND (t.risk->>'driver_onset')::timestamptz BETWEEN '2025-12-15' AND '2026-08-01'),
  w AS (
    SELECT s.driver, s.account_id,
      (SELECT count(DISTINCT (t.feature_area, floor(extract(epoch FROM e.occurred_at) / 86400)))::float / nullif(count(DISTINCT floor(extract(epoch FROM e.occurred_at) / 86400)), 0)
         FROM source.events e JOIN source.event_types t USING (event_type)
         WHERE e.account_id = s.account_id AND e.occurred_at >= s.onset - interval '28 days' AND e.occurred_at < s.onset) AS breadth_before,
      (SELECT count(DISTINCT (t.feature_area, floor(extract(epoch FROM e.occurred_at) / 86400)))::float / nullif(count(DISTINCT floor(extract(epoch FROM e.occurred_at) / 86400)), 0)
         FROM source.events e JOIN source.event_types t USING (event_type)
         WHERE e.account_id = s.account_id AND e.occurred_at >= s.onset + interval '14 days' AND e.occurred_at < s.onset + interval '42 days') AS breadth_after,
      (SELECT count(*) FROM source.survey_responses r WHERE r.account_id = s.account_id AND r.survey_type = 'nps' AND r.responded_at >= s.onset - interval '122 days' AND r.responded_at < s.onset)::float AS nps_before,
      (SELECT count(*) FROM source.survey_responses r WHERE r.account_id = s.account_id AND r.survey_type = 'nps' AND r.responded_at >= s.onset + interval '14 days' AND r.responded_at < s.onset + interval '136 days')::float AS nps_after
    FROM s)
  SELECT driver, count(*)::int AS n, avg(breadth_before) AS breadth_before, avg(breadth_after) AS breadth_after, sum(nps_before) AS nps_before, sum(nps_after) AS nps_after
  FROM w WHERE breadth_before IS NOT NULL AND breadth_after IS NOT NULL GROUP BY driver`;

describe('churn generate: a realistic world with a documented churn process', () => {
  let db: TestDatabase;
  let result: GenerateResult;
  beforeAll(async () => {
    db = await createTestDatabase();
    result = await generate(db.pool, { accounts: 600, months: 12, seed: 2026, end: END });
  });
  afterAll(async () => {
    await db?.drop();
  });

  it('keeps the churn rate and the mix of true drivers inside the documented ranges', async () => {
    const rows = await query<{ true_driver: string | null; n: number }>(db.pool,
      'SELECT true_driver, count(*)::int AS n FROM churn.synthetic_truth WHERE churned GROUP BY true_driver');
    const churned = rows.reduce((a, r) => a + r.n, 0);
    const [lo, hi] = EXPECTED_RANGES.churnRate12Months;
    expect(churned / 600).toBeGreaterThanOrEqual(lo);
    expect(churned / 600).toBeLessThanOrEqual(hi);
    for (const driver of [...DRIVERS, 'unexplained'] as const) {
      const share = (rows.find((r) => r.true_driver === driver)?.n ?? 0) / churned;
      const [dlo, dhi] = EXPECTED_RANGES.driverShare[driver];
      expect(share, driver).toBeGreaterThanOrEqual(dlo);
      expect(share, driver).toBeLessThanOrEqual(dhi);
    }
  });

  it('writes one ground-truth row per account, with a driver and date exactly for churned ones', async () => {
    const [r] = await query<{ accounts: number; truth: number; bad: number; seeds: number }>(db.pool, `SELECT
      (SELECT count(*)::int FROM source.accounts) AS accounts,
      (SELECT count(*)::int FROM churn.synthetic_truth t JOIN source.accounts USING (account_id)) AS truth,
      (SELECT count(*)::int FROM churn.synthetic_truth WHERE churned <> (churned_at IS NOT NULL) OR churned <> (true_driver IS NOT NULL)
         OR churned_at < $1 OR churned_at >= $2 OR NOT risk ? 'engagement') AS bad,
      (SELECT count(DISTINCT seed)::int FROM churn.synthetic_truth WHERE seed = 2026) AS seeds`, [START, END]);
    expect(r).toEqual({ accounts: 600, truth: 600, bad: 0, seeds: 1 });
  });

  it('keeps every fact inside its account\'s subscriptions, tenure and the data window', async () => {
    const found: Record<string, number> = {};
    for (const [rule, text] of Object.entries(VIOLATIONS)) {
      const [row] = await query<{ n: number }>(db.pool, text, text.includes('$1') ? [END] : []);
      found[rule] = Number(row.n);
    }
    expect(found).toEqual(Object.fromEntries(Object.keys(VIOLATIONS).map((k) => [k, 0])));
  });

  it('builds a varied world: three segments, trials, renewals, upgrades, downgrades and late payments', async () => {
    const [r] = await query<Record<string, number>>(db.pool, `SELECT
      (SELECT count(DISTINCT segment)::int FROM source.accounts) AS segments,
      (SELECT count(*)::int FROM source.accounts WHERE created_at >= $1) AS signups,
      (SELECT count(*)::int FROM source.subscriptions WHERE is_trial) AS trials,
      (SELECT count(*)::int FROM source.subscriptions WHERE change_type = 'renewal') AS renewals,
      (SELECT count(*)::int FROM source.subscriptions WHERE change_type = 'upgrade') AS upgrades,
      (SELECT count(*)::int FROM source.subscriptions WHERE change_type = 'downgrade') AS downgrades,
      (SELECT count(*)::int FROM source.invoices WHERE paid_at > due_at) AS late,
      (SELECT count(*)::int FROM source.invoices WHERE status = 'uncollectible') AS uncollectible,
      (SELECT count(*)::int FROM source.support_tickets WHERE escalated) AS escalated,
      (SELECT count(DISTINCT survey_type)::int FROM source.survey_responses) AS survey_types,
      (SELECT count(DISTINCT feature_area)::int FROM source.event_types) AS areas,
      (SELECT count(*)::int FROM source.event_types WHERE is_key_feature) AS key_features`, [START]);
    expect(r.segments).toBe(3);
    for (const k of ['signups', 'trials', 'renewals', 'upgrades', 'downgrades', 'late', 'uncollectible', 'escalated']) expect(r[k], k).toBeGreaterThan(0);
    expect(r.survey_types).toBe(2);
    expect(r.areas).toBe(8);
    expect(r.key_features).toBeGreaterThanOrEqual(5);
    // Enterprise accounts are larger and pay more than SMB ones.
    const seg = await query<{ segment: string; seats: number; mrr: number; annual: number }>(db.pool, `SELECT a.segment, avg(s.seats)::float AS seats,
      avg(s.mrr)::float AS mrr, avg((s.billing_period = 'annual')::int)::float AS annual
      FROM source.accounts a JOIN source.subscriptions s USING (account_id) WHERE NOT s.is_trial GROUP BY a.segment`);
    const by = Object.fromEntries(seg.map((s) => [s.segment, s]));
    expect(by.enterprise.seats).toBeGreaterThan(by.mid_market.seats);
    expect(by.mid_market.seats).toBeGreaterThan(by.smb.seats);
    expect(by.enterprise.mrr).toBeGreaterThan(by.smb.mrr * 5);
    expect(by.enterprise.annual).toBeGreaterThan(by.smb.annual);
  });

  it('leaves each driver\'s main trace in its own family: shallow adoption narrows, fading usage goes quiet in surveys', async () => {
    const rows = await query<{ driver: string; n: number; breadth_before: number; breadth_after: number; nps_before: number; nps_after: number }>(db.pool, AROUND_ONSET);
    const by = Object.fromEntries(rows.map((r) => [r.driver, r]));
    for (const d of ['shallow_adoption', 'fading_usage', 'support_pain']) expect(by[d]?.n ?? 0, d).toBeGreaterThanOrEqual(8);
    const narrowing = (d: string) => by[d].breadth_after / by[d].breadth_before;
    const answering = (d: string) => by[d].nps_after / by[d].nps_before;
    expect(narrowing('shallow_adoption')).toBeLessThan(0.8);
    expect(narrowing('support_pain')).toBeGreaterThan(0.9);
    expect(answering('fading_usage')).toBeLessThan(0.6 * answering('support_pain'));
  });

  it('follows a weekday rhythm with a December dip', async () => {
    const [r] = await query<{ weekday: number; weekend: number; december: number; november: number }>(db.pool, `SELECT
      sum(quantity) FILTER (WHERE extract(isodow FROM occurred_at) < 6)::float / 5 AS weekday,
      sum(quantity) FILTER (WHERE extract(isodow FROM occurred_at) >= 6)::float / 2 AS weekend,
      sum(quantity) FILTER (WHERE occurred_at >= '2025-12-22' AND occurred_at < '2025-12-29')::float AS december,
      sum(quantity) FILTER (WHERE occurred_at >= '2025-12-01' AND occurred_at < '2025-12-08')::float AS november
      FROM source.events WHERE user_id IS NOT NULL`);
    expect(r.weekend).toBeLessThan(r.weekday * 0.4);
    expect(r.december).toBeLessThan(r.november * 0.75);
    expect(result.rowCounts.events).toBeGreaterThan(500_000);
  });

  it('leaves a learnable but imperfect signal: a logistic model on point-in-time features predicts 30-day churn', async () => {
    const rows = await query<Record<string, number>>(db.pool, OBSERVATIONS);
    const x = rows.map((r) => {
      const base = [r.user_days_28d / Math.max(1, r.users), Math.log((r.user_days_28d + 1) / (r.user_days_prior_56d / 2 + 1)), r.areas_28d,
        Math.log1p(r.tickets_60d), Math.log1p(r.failed_payments_90d), r.min_nps_90d, Math.log1p(r.users)];
      return [...base, ...base.map((v) => v * r.renewal_due), r.renewal_due];
    });
    const y = rows.map((r) => r.y);
    const train = x.map((_, i) => i).filter((i) => i % 2 === 0);
    const test = x.map((_, i) => i).filter((i) => i % 2 === 1);
    const model = fitLogistic(train.map((i) => x[i]), train.map((i) => y[i]));
    const auc = rocAuc(test.map((i) => model(x[i])), test.map((i) => y[i]));
    expect(test.filter((i) => y[i] === 1).length).toBeGreaterThan(25);
    expect(auc).toBeGreaterThan(0.75);
    expect(auc).toBeLessThan(0.97);
  });
});
