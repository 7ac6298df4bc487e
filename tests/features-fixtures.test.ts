import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadCatalog } from '../features/catalog.ts';
import pg from 'pg';
import { selectFeatures } from '../features/materialize.ts';
import { createTestDatabase, type TestDatabase } from './helpers/db.ts';
import { DAY, EVENT_TYPES, loadDataset, type Dataset } from './features-seed.ts';

/*
 * Hand-computed values for every family on a tiny data set. `ago(k)` is k whole days and one hour
 * before T, i.e. on the k-th day back (0 = the last 24 hours). Account A is busy, B signed up 20
 * days before T (after the 28- and 90-day windows started), C never used the product at all; D
 * churned before T and E signs up after T, so neither gets a row. F's second user was active this
 * month and removed five days before T; its fourth is removed after T.
 */
const T = Date.parse('2026-03-01T00:00:00Z');
const ago = (k: number, hours = 1) => new Date(T - k * DAY - hours * 3_600_000);
const at = (ms: number) => new Date(ms);
const H = 3_600_000;

function dataset(): Dataset {
  let id = 1;
  const ev = (account_id: string, user_id: string | null, event_type: string, occurred_at: Date, quantity = 1) => ({ event_id: id++, account_id, user_id, event_type, occurred_at, quantity });
  return {
    eventTypes: EVENT_TYPES,
    accounts: [
      { account_id: 'A', segment: 'mid_market', plan: 'team', created_at: new Date('2025-01-01T00:00:00Z') },
      { account_id: 'B', segment: 'enterprise', plan: 'starter', created_at: at(T - 20 * DAY) },
      { account_id: 'C', segment: 'smb', plan: 'team', created_at: new Date('2025-06-01T00:00:00Z') },
      { account_id: 'D', segment: 'smb', plan: 'team', created_at: new Date('2025-01-01T00:00:00Z') },
      { account_id: 'E', segment: 'smb', plan: 'team', created_at: at(T + DAY) },
      { account_id: 'F', segment: 'smb', plan: 'team', created_at: new Date('2025-01-01T00:00:00Z') },
    ],
    users: [
      { user_id: 'a1', account_id: 'A', created_at: new Date('2025-01-01T00:00:00Z') },
      { user_id: 'a2', account_id: 'A', created_at: new Date('2025-01-01T00:00:00Z') },
      { user_id: 'a3', account_id: 'A', created_at: new Date('2025-01-01T00:00:00Z'), deactivated_at: new Date('2026-02-01T00:00:00Z') },
      { user_id: 'a4', account_id: 'A', created_at: new Date('2026-02-20T00:00:00Z') },
      { user_id: 'a5', account_id: 'A', created_at: at(T + H) },
      { user_id: 'b1', account_id: 'B', created_at: at(T - 20 * DAY) },
      { user_id: 'f1', account_id: 'F', created_at: new Date('2025-01-01T00:00:00Z') },
      { user_id: 'f2', account_id: 'F', created_at: new Date('2025-01-01T00:00:00Z'), deactivated_at: at(T - 5 * DAY) },
      { user_id: 'f3', account_id: 'F', created_at: new Date('2025-01-01T00:00:00Z'), deactivated_at: at(T - 30 * DAY) }, // before the 28 days
      { user_id: 'f4', account_id: 'F', created_at: new Date('2025-01-01T00:00:00Z'), deactivated_at: at(T + 2 * DAY) }, // after T: still provisioned at T
    ],
    subscriptions: [
      { subscription_id: 'A1', account_id: 'A', plan: 'team', mrr: 80, seats: 8, billing_period: 'monthly', started_at: new Date('2025-01-01T00:00:00Z'), ended_at: new Date('2026-01-15T00:00:00Z') },
      { subscription_id: 'A2', account_id: 'A', plan: 'business', mrr: 100, seats: 10, billing_period: 'annual', discount_pct: 10, started_at: new Date('2026-01-15T00:00:00Z') },
      { subscription_id: 'B1', account_id: 'B', plan: 'starter', mrr: 0, seats: 5, billing_period: 'monthly', is_trial: true, started_at: at(T - 20 * DAY) },
      { subscription_id: 'C1', account_id: 'C', plan: 'team', mrr: 50, seats: 2, billing_period: 'monthly', started_at: new Date('2025-06-01T00:00:00Z') },
      { subscription_id: 'D1', account_id: 'D', plan: 'team', mrr: 50, seats: 2, billing_period: 'monthly', started_at: new Date('2025-01-01T00:00:00Z'), ended_at: at(T - 10 * DAY) },
      { subscription_id: 'E1', account_id: 'E', plan: 'team', mrr: 50, seats: 2, billing_period: 'monthly', started_at: at(T + DAY) },
      { subscription_id: 'F1', account_id: 'F', plan: 'team', mrr: 50, seats: 3, billing_period: 'monthly', started_at: new Date('2025-01-01T00:00:00Z') },
    ],
    events: [
      ev('A', 'a1', 'login', ago(0)), ev('A', 'a1', 'login', ago(2)), ev('A', 'a1', 'login', ago(9)), ev('A', 'a1', 'login', ago(39)),
      ev('A', 'a2', 'report_create', ago(4)), ev('A', 'a2', 'report_create', ago(59)),
      ev('A', null, 'api_call', ago(19), 10), ev('A', 'a4', 'comment_add', ago(1)),
      ev('A', 'a1', 'login', at(T)), ev('A', 'a2', 'push_open', at(T + H)), // at or after T: ignored
      ev('B', 'b1', 'login', ago(15)), ev('B', 'b1', 'record_create', ago(12)),
      ev('D', null, 'api_call', ago(3)),
      ev('F', 'f1', 'login', ago(3)), ev('F', 'f2', 'login', ago(10)), ev('F', 'f3', 'login', ago(35)), ev('F', 'f4', 'login', ago(1)),
    ],
    tickets: [
      { ticket_id: 't1', account_id: 'A', opened_at: ago(10), closed_at: ago(8), priority: 'high', csat: 4 },
      { ticket_id: 't2', account_id: 'A', opened_at: ago(40), closed_at: ago(35), priority: 'normal', csat: 2 },
      { ticket_id: 't3', account_id: 'A', opened_at: ago(20), priority: 'urgent', escalated_at: ago(18) },
      { ticket_id: 't4', account_id: 'A', opened_at: ago(100), closed_at: ago(0), priority: 'low', csat: 5 },
      { ticket_id: 't5', account_id: 'A', opened_at: ago(5), closed_at: at(T + DAY), priority: 'normal', csat: 1 },
      { ticket_id: 't6', account_id: 'A', opened_at: ago(3), priority: 'high', escalated_at: at(T + 2 * H) },
    ],
    surveys: [
      { response_id: 's1', account_id: 'A', survey_type: 'nps', score: 9, responded_at: at(T - 200 * DAY) },
      { response_id: 's2', account_id: 'A', survey_type: 'nps', score: 5, responded_at: at(T - 30 * DAY) },
      { response_id: 's3', account_id: 'A', survey_type: 'nps', score: 10, responded_at: at(T + DAY) },
      { response_id: 's4', account_id: 'A', survey_type: 'csat', score: 4, responded_at: at(T - 10 * DAY) },
      { response_id: 's5', account_id: 'A', survey_type: 'csat', score: 2, responded_at: at(T - 170 * DAY) },
      { response_id: 's6', account_id: 'A', survey_type: 'csat', score: 5, responded_at: at(T - 200 * DAY) },
    ],
    invoices: [
      { invoice_id: 'i1', account_id: 'A', issued_at: at(T - 70 * DAY), due_at: at(T - 60 * DAY), paid_at: at(T - 55 * DAY) },
      { invoice_id: 'i2', account_id: 'A', issued_at: at(T - 40 * DAY), due_at: at(T - 30 * DAY), paid_at: at(T - 30 * DAY + 12 * H) },
      { invoice_id: 'i3', account_id: 'A', issued_at: at(T - 10 * DAY), due_at: at(T - 2 * DAY) },
      { invoice_id: 'i4', account_id: 'A', issued_at: at(T - 200 * DAY), due_at: at(T - 190 * DAY), paid_at: at(T - 100 * DAY) },
      { invoice_id: 'i5', account_id: 'A', issued_at: at(T - 5 * DAY), due_at: at(T + 5 * DAY) },
      { invoice_id: 'i6', account_id: 'A', issued_at: at(T - 30 * DAY), due_at: at(T - 20 * DAY), paid_at: at(T + 3 * DAY) },
    ],
    payments: [
      { attempt_id: 'p1', invoice_id: 'i3', account_id: 'A', attempted_at: at(T - 2 * DAY), succeeded: false },
      { attempt_id: 'p2', invoice_id: 'i3', account_id: 'A', attempted_at: at(T - DAY), succeeded: false },
      { attempt_id: 'p3', invoice_id: 'i6', account_id: 'A', attempted_at: at(T - 20 * DAY), succeeded: false },
      { attempt_id: 'p4', invoice_id: 'i1', account_id: 'A', attempted_at: at(T - 55 * DAY), succeeded: true },
      { attempt_id: 'p5', invoice_id: 'i4', account_id: 'A', attempted_at: at(T - 100 * DAY), succeeded: false },
      { attempt_id: 'p6', invoice_id: 'i6', account_id: 'A', attempted_at: at(T + H), succeeded: false },
    ],
  };
}

const EXPECTED: Record<string, Record<string, number | null>> = {
  A: {
    // engagement
    active_users_7d: 3, active_users_28d: 3, active_users_prev_28d: 1, active_users_trend_28d: 2, stickiness_28d: 5 / 28 / 3,
    licensed_users: 3, active_users_per_seat_28d: 0.3, active_user_share_28d: 1, events_per_active_user_28d: 5, // a3, removed as the 28 days began, does not count
    // usage
    active_days_7d: 4, active_days_28d: 6, active_days_prev_28d: 1, active_days_trend_28d: 5, active_days_90d: 8, days_since_last_activity: 0,
    events_7d: 4, events_28d: 15, events_prev_28d: 1, events_per_day_28d: 15 / 28, events_trend_28d: 14,
    longest_inactive_streak_28d: 9, longest_inactive_streak_90d: 30,
    // adoption
    feature_areas_28d: 4, feature_areas_90d: 4, feature_areas_prev_28d: 1, areas_trend_28d: 3, catalog_adoption_share_90d: 0.8,
    areas_per_active_day_28d: 6 / 6, // area-days: login on days 0, 2, 9; report, comment, api on one day each
    key_features_28d: 1, key_features_90d: 1, key_feature_share_90d: 0.5, days_to_first_value: null,
    // support
    tickets_28d: 4, tickets_90d: 5, tickets_prev_28d: 1, tickets_trend_28d: 3, open_tickets: 3, escalated_tickets_90d: 1,
    high_priority_tickets_90d: 3, high_priority_share_90d: 0.6, median_resolution_hours_90d: 120, mean_csat_90d: 11 / 3,
    // commercial
    mrr: 100, mrr_90d_ago: 80, mrr_change_90d: 20, seats: 10, mrr_per_seat: 10, tenure_days: 424, plan_tier: 3, billing_annual: 1, is_trial: 0,
    discount_pct: 10, segment_enterprise: 0, segment_mid_market: 1, days_to_renewal: 320, days_late_mean_180d: 27 / 4, days_late_max_180d: 20, overdue_invoices_180d: 2, failed_payments_90d: 3, // whole days late: i2, paid 12 hours after its due time, counts 0
    // sentiment
    nps_latest: 5, nps_change: -4, nps_detractor: 1, nps_promoter: 0, csat_survey_mean_180d: 3,
  },
  B: {
    active_users_7d: 0, active_users_28d: 1, active_users_trend_28d: null, stickiness_28d: 2 / 28, active_user_share_28d: 1, active_users_per_seat_28d: 0.2,
    active_days_7d: 0, active_days_28d: 2, active_days_90d: 2, days_since_last_activity: 12, events_28d: 2, events_prev_28d: 0, events_trend_28d: null,
    longest_inactive_streak_28d: 12, longest_inactive_streak_90d: 12, // only the 20 days since sign-up count
    feature_areas_28d: 1, areas_per_active_day_28d: 1, key_features_28d: 1, catalog_adoption_share_90d: 0.2, days_to_first_value: 7,
    tickets_90d: 0, open_tickets: 0, high_priority_share_90d: null, median_resolution_hours_90d: null, mean_csat_90d: null,
    mrr: 0, mrr_90d_ago: null, mrr_change_90d: null, mrr_per_seat: 0, tenure_days: 20, days_to_renewal: 8, // a monthly trial started 20 days ago
    plan_tier: 1, is_trial: 1, billing_annual: 0, segment_enterprise: 1,
    days_late_mean_180d: null, overdue_invoices_180d: 0, failed_payments_90d: 0,
    nps_latest: null, nps_change: null, nps_detractor: null, nps_promoter: null, csat_survey_mean_180d: null,
  },
  C: {
    active_users_7d: 0, active_users_28d: 0, stickiness_28d: null, licensed_users: 0, active_user_share_28d: null, events_per_active_user_28d: null, active_users_per_seat_28d: 0,
    active_days_28d: 0, active_days_90d: 0, days_since_last_activity: null, events_28d: 0, events_per_day_28d: 0, events_trend_28d: null,
    longest_inactive_streak_28d: 28, longest_inactive_streak_90d: 90,
    feature_areas_90d: 0, areas_per_active_day_28d: null, catalog_adoption_share_90d: 0, key_features_90d: 0, days_to_first_value: null,
    tickets_28d: 0, open_tickets: 0, escalated_tickets_90d: 0, mean_csat_90d: null,
    mrr: 50, mrr_change_90d: 0, seats: 2, tenure_days: 273, days_to_renewal: 31, // T is a monthly anniversary: the next one plan_tier: 2, segment_enterprise: 0, segment_mid_market: 0,
    days_late_max_180d: null, failed_payments_90d: 0, nps_latest: null, nps_detractor: null,
  },
  F: {
    // three users active in the 28 days, one of them removed since: all of the users provisioned in
    // them were active (over the two provisioned at T, the share was 150%)
    active_users_28d: 3, licensed_users: 2, active_user_share_28d: 1, active_users_per_seat_28d: 1, events_per_active_user_28d: 1,
  },
};

describe('hand-computed feature fixtures', () => {
  let db: TestDatabase;
  const catalog = loadCatalog();
  beforeAll(async () => {
    db = await createTestDatabase();
    await loadDataset(db.pool, dataset());
  });
  afterAll(async () => db?.drop());

  it('gives a row only to accounts with a subscription covering T', async () => {
    const rows = await selectFeatures(db.pool, catalog, [new Date(T)]);
    expect(rows.map((r) => r.account_id).sort()).toEqual(['A', 'B', 'C', 'F']);
  });

  for (const account of Object.keys(EXPECTED)) {
    it(`computes every listed feature of account ${account} as hand-computed`, async () => {
      const [row] = (await selectFeatures(db.pool, catalog, [new Date(T)])).filter((r) => r.account_id === account);
      const got = Object.fromEntries(Object.keys(EXPECTED[account]).map((n) => [n, row.feature_values[catalog.names.indexOf(n)]]));
      for (const [name, want] of Object.entries(EXPECTED[account])) {
        if (want === null) expect(got[name], name).toBeNull();
        else expect(got[name], name).toBeCloseTo(want, 9);
      }
    });
  }

  it('computes the same values whatever the server session\'s TimeZone (calendar months, renewals)', async () => {
    const at = [new Date(T), new Date(T + 13 * 3_600_000), new Date(Date.parse('2026-03-08T07:30:00Z'))]; // the last: the US change to summer time
    const utc = await selectFeatures(db.pool, catalog, at);
    for (const zone of ['America/New_York', 'Pacific/Chatham']) {
      // a client, not a pool: its end() waits until the connection is closed, where a pool's returns at
      // once and the database's drop after the last test could end the session under it (an uncaught 57P01)
      const zoned = new pg.Client({ connectionString: db.url, options: `-c TimeZone=${zone}` });
      await zoned.connect();
      try {
        expect((await zoned.query('SHOW TimeZone')).rows[0].TimeZone).toBe(zone);
        const rows = await selectFeatures(zoned, catalog, at);
        expect(rows.map((r) => [r.account_id, r.as_of.getTime(), r.feature_values]), zone).toEqual(utc.map((r) => [r.account_id, r.as_of.getTime(), r.feature_values]));
      } finally {
        await zoned.end();
      }
    }
  });

  it('covers every feature of the catalogue for the busy account and every family for the others', () => {
    expect(Object.keys(EXPECTED.A).sort()).toEqual([...catalog.names].sort());
    for (const account of ['B', 'C']) {
      const families = new Set(Object.keys(EXPECTED[account]).map((n) => catalog.byName.get(n)!.family));
      expect([...families].sort()).toEqual(['adoption', 'commercial', 'engagement', 'sentiment', 'support', 'usage']);
    }
  });
});
