import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadCatalog } from '../features/catalog.ts';
import { selectFeatures } from '../features/materialize.ts';
import { createTestDatabase, type TestDatabase } from './helpers/db.ts';
import { DAY, loadDataset, randomDataset, type Dataset } from './features-seed.ts';

/*
 * An independent plain-TypeScript oracle for a representative subset of the features (at least two
 * per family), computed from the same seeded rows, compared with the SQL at several as-of dates
 * (including two times of day, so the statement is compiled for each group).
 */
type Value = number | null;

function oracle(ds: Dataset, accountId: string, T: number): Record<string, Value> {
  const before = (t: Date | null | undefined) => t != null && t.getTime() < T;
  const inWin = (t: Date | null | undefined, off: number, days: number) => t != null && t.getTime() < T - off * DAY && t.getTime() >= T - (off + days) * DAY;
  const r = (t: Date) => Math.ceil((T - t.getTime()) / DAY) - 1; // whole days before T, 0 = the last 24 hours
  const acc = ds.accounts.find((a) => a.account_id === accountId)!;
  const ev = ds.events.filter((e) => e.account_id === accountId && before(e.occurred_at));
  const area = new Map(ds.eventTypes.map((t) => [t.event_type, t]));
  const days = (off: number, n: number) => new Set(ev.filter((e) => inWin(e.occurred_at, off, n)).map((e) => r(e.occurred_at)));
  const users = (off: number, n: number) => new Set(ev.filter((e) => e.user_id && inWin(e.occurred_at, off, n)).map((e) => e.user_id));
  const qty = (off: number, n: number) => ev.filter((e) => inWin(e.occurred_at, off, n)).reduce((s, e) => s + (e.quantity ?? 1), 0);
  const au28 = users(0, 28).size;
  const userDays = new Set(ev.filter((e) => e.user_id && inWin(e.occurred_at, 0, 28)).map((e) => `${e.user_id}|${r(e.occurred_at)}`)).size;
  const active28 = days(0, 28);
  // inactivity counts only the day buckets since sign-up
  const lived = Math.min(28, Math.max(0, Math.ceil((T - acc.created_at.getTime()) / DAY)));
  let gap = 0, run = 0;
  for (let d = 0; d < lived; d++) { run = active28.has(d) ? 0 : run + 1; gap = Math.max(gap, run); }
  const e28 = qty(0, 28), ePrev = qty(28, 28);
  // the 28 days before the last 28 exist only for an account created before they ended
  const hadPrev = acc.created_at.getTime() < T - 28 * DAY;
  const areaDays28 = new Set(ev.filter((e) => inWin(e.occurred_at, 0, 28)).map((e) => `${area.get(e.event_type)!.feature_area}|${r(e.occurred_at)}`)).size;
  const areas90 = new Set(ev.filter((e) => inWin(e.occurred_at, 0, 90)).map((e) => area.get(e.event_type)!.feature_area));
  const key90 = new Set(ev.filter((e) => inWin(e.occurred_at, 0, 90) && area.get(e.event_type)!.is_key_feature).map((e) => area.get(e.event_type)!.feature_area));
  const firstKey = ev.filter((e) => area.get(e.event_type)!.is_key_feature && e.occurred_at >= acc.created_at && e.occurred_at.getTime() < acc.created_at.getTime() + 90 * DAY)
    .map((e) => e.occurred_at.getTime()).sort((a, b) => a - b)[0];
  const tk = ds.tickets.filter((t) => t.account_id === accountId && before(t.opened_at));
  const closed90 = tk.filter((t) => inWin(t.closed_at, 0, 90));
  const hours = closed90.map((t) => (t.closed_at!.getTime() - t.opened_at.getTime()) / 3_600_000).sort((a, b) => a - b);
  const median = hours.length ? (hours.length % 2 ? hours[(hours.length - 1) / 2] : (hours[hours.length / 2 - 1] + hours[hours.length / 2]) / 2) : null;
  const csats = closed90.filter((t) => t.csat != null).map((t) => t.csat!);
  const covering = (t: number) => ds.subscriptions.filter((s) => s.account_id === accountId && s.started_at.getTime() < t && (!s.ended_at || s.ended_at.getTime() >= t))
    .sort((a, b) => b.started_at.getTime() - a.started_at.getTime() || (a.subscription_id < b.subscription_id ? 1 : -1))[0];
  const sub = covering(T);
  const sub90 = covering(T - 90 * DAY);
  const due = ds.invoices.filter((i) => i.account_id === accountId && i.issued_at.getTime() < T && inWin(i.due_at, 0, 180));
  const late = due.map((i) => Math.max(0, Math.floor(((i.paid_at && i.paid_at.getTime() < T ? i.paid_at.getTime() : T) - i.due_at.getTime()) / DAY)));
  const nps = ds.surveys.filter((s) => s.account_id === accountId && s.survey_type === 'nps' && before(s.responded_at))
    .sort((a, b) => b.responded_at.getTime() - a.responded_at.getTime() || (a.response_id < b.response_id ? 1 : -1));
  const lastEvent = ev.length ? Math.max(...ev.map((e) => e.occurred_at.getTime())) : null;
  return {
    active_users_28d: au28,
    stickiness_28d: au28 ? userDays / 28 / au28 : null,
    active_days_28d: active28.size,
    days_since_last_activity: lastEvent === null ? null : r(new Date(lastEvent)),
    events_trend_28d: ePrev ? (e28 - ePrev) / ePrev : null,
    events_prev_28d: hadPrev ? ePrev : null,
    active_users_prev_28d: hadPrev ? users(28, 28).size : null,
    active_days_trend_28d: hadPrev ? active28.size - days(28, 28).size : null,
    longest_inactive_streak_28d: gap,
    feature_areas_90d: areas90.size,
    areas_per_active_day_28d: active28.size ? areaDays28 / active28.size : null,
    key_features_90d: key90.size,
    days_to_first_value: firstKey === undefined ? null : Math.floor((firstKey - acc.created_at.getTime()) / DAY),
    tickets_90d: tk.filter((t) => inWin(t.opened_at, 0, 90)).length,
    tickets_trend_28d: hadPrev ? tk.filter((t) => inWin(t.opened_at, 0, 28)).length - tk.filter((t) => inWin(t.opened_at, 28, 28)).length : null,
    open_tickets: tk.filter((t) => !before(t.closed_at)).length,
    median_resolution_hours_90d: median,
    mean_csat_90d: csats.length ? csats.reduce((a, b) => a + b, 0) / csats.length : null,
    mrr: sub.mrr,
    mrr_change_90d: sub90 ? sub.mrr - sub90.mrr : null,
    billing_annual: sub.billing_period === 'annual' ? 1 : 0,
    days_late_mean_180d: late.length ? late.reduce((a, b) => a + b, 0) / late.length : null,
    failed_payments_90d: ds.payments.filter((p) => p.account_id === accountId && !p.succeeded && inWin(p.attempted_at, 0, 90)).length,
    nps_latest: nps[0]?.score ?? null,
    nps_change: nps.length >= 2 ? nps[0].score - nps[1].score : null,
    nps_detractor: nps.length ? (nps[0].score <= 6 ? 1 : 0) : null,
    tenure_days: Math.floor((T - acc.created_at.getTime()) / DAY),
  };
}

function population(ds: Dataset, T: number): string[] {
  return ds.accounts.filter((a) => a.created_at.getTime() < T && ds.subscriptions.some((s) => s.account_id === a.account_id && s.started_at.getTime() < T && (!s.ended_at || s.ended_at.getTime() >= T)))
    .map((a) => a.account_id).sort();
}

describe('feature SQL against an independent TypeScript oracle', () => {
  let db: TestDatabase;
  const start = new Date('2026-01-01T00:00:00Z');
  const end = new Date('2026-07-01T00:00:00Z');
  const ds = randomDataset(20261123, 30, start, end);
  // a dormant account: signed up a year before the period, a key feature used within its first
  // 90 days, nothing since January, still subscribed (days since last activity beyond the bitmaps)
  const dormant = 'acc_dormant';
  ds.accounts.push({ account_id: dormant, segment: 'smb', plan: 'team', created_at: new Date('2025-01-10T08:00:00Z') });
  ds.subscriptions.push({ subscription_id: `${dormant}_s0`, account_id: dormant, plan: 'team', mrr: 100, seats: 3, billing_period: 'annual', discount_pct: 0, is_trial: false, started_at: new Date('2025-01-10T09:00:00Z'), ended_at: null });
  ds.users.push({ user_id: `${dormant}_u0`, account_id: dormant, created_at: new Date('2025-01-10T08:30:00Z'), deactivated_at: null });
  for (const [at, type] of [['2025-02-20T10:00:00Z', 'record_create'], ['2025-11-03T12:00:00Z', 'login'], ['2026-01-05T17:45:00Z', 'comment_add']] as const) {
    ds.events.push({ event_id: 900_000 + ds.events.length, account_id: dormant, user_id: `${dormant}_u0`, event_type: type, occurred_at: new Date(at), quantity: 1 });
  }
  const catalog = loadCatalog();
  beforeAll(async () => {
    db = await createTestDatabase();
    await loadDataset(db.pool, ds);
  });
  afterAll(async () => db?.drop());

  it('agrees on every checked feature, account and date (two times of day)', async () => {
    const asOfs = ['2026-03-15T06:30:00Z', '2026-04-20T06:30:00Z', '2026-06-30T06:30:00Z', '2026-05-09T13:15:45Z'].map((s) => new Date(s));
    const rows = await selectFeatures(db.pool, catalog, asOfs);
    let checked = 0;
    for (const asOf of asOfs) {
      const T = asOf.getTime();
      const got = rows.filter((x) => x.as_of.getTime() === T);
      expect(got.map((x) => x.account_id).sort()).toEqual(population(ds, T));
      for (const row of got) {
        const want = oracle(ds, row.account_id, T);
        for (const [name, value] of Object.entries(want)) {
          const actual = row.feature_values[catalog.names.indexOf(name)];
          const where = `${name} of ${row.account_id} at ${asOf.toISOString()}`;
          if (value === null) expect(actual, where).toBeNull();
          else expect(actual, where).toBeCloseTo(value, 6);
          checked++;
        }
      }
    }
    expect(checked).toBeGreaterThan(500);
    // the data exercise the interesting cases: empty accounts, NULL and non-NULL values
    const at = rows.map((x) => x.feature_values[catalog.names.indexOf('days_since_last_activity')]);
    expect(at.some((v) => v === null)).toBe(true);
    expect(rows.some((x) => x.feature_values[catalog.names.indexOf('days_to_first_value')] !== null)).toBe(true);
    expect(rows.some((x) => x.feature_values[catalog.names.indexOf('nps_change')] !== null)).toBe(true);
    // accounts created within the last 28 days (no earlier period: NULL) and older ones with a count of 0
    const prev = rows.map((x) => x.feature_values[catalog.names.indexOf('events_prev_28d')]);
    expect(prev.some((v) => v === null)).toBe(true);
    expect(prev.some((v) => v === 0)).toBe(true);
    // ... and both index probes (churn.last_event_before, churn.first_key_days): a last event older
    // than the activity bitmaps reach, and a first value of an account created before that reach
    const bitmapKinds = new Set(['active_days', 'active_users', 'stickiness', 'longest_gap', 'distinct_areas', 'area_breadth']);
    const reach = Math.max(...catalog.features.map((f) => (bitmapKinds.has(f.kind) && 'window' in f && f.window ? f.window.offsetDays + f.window.days : 0)));
    expect(reach).toBeGreaterThan(28);
    expect(at.some((v) => v !== null && v >= reach)).toBe(true);
    const created = new Map(ds.accounts.map((a) => [a.account_id, a.created_at.getTime()]));
    expect(rows.some((x) => created.get(x.account_id)! < x.as_of.getTime() - reach * DAY && x.feature_values[catalog.names.indexOf('days_to_first_value')] !== null)).toBe(true);
  });
});
