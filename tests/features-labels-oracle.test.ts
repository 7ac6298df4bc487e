import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { query } from '../core/db.ts';
import { buildLabels, labelStatuses } from '../features/labels.ts';
import type { LabelStatus } from '../features/labels.sql.ts';
import { createTestDatabase, type TestDatabase } from './helpers/db.ts';
import { mulberry32 } from '../core/random.ts';

const DAY = 86_400_000;
const START = Date.UTC(2025, 0, 1);
const AS_OFS = [2, 3, 4, 5, 6, 7, 8].map((m) => new Date(Date.UTC(2025, m, 1)));
const DATA_END = new Date(Date.UTC(2025, 8, 20));

/** status: what the source says at the end of the data ('active' on an ended period: the source still calls it running) */
interface Period { start: number; end: number; trial: boolean; status: 'trialing' | 'active' | 'ended' }
interface Acct { id: string; created: number; periods: Period[] }

const rng = mulberry32;

function histories(n: number, seed: number): Acct[] {
  const r = rng(seed);
  const rs = rng(seed + 1); // the statuses: drawn apart, so the histories stay those of the seed
  const int = (lo: number, hi: number) => lo + Math.floor(r() * (hi - lo + 1));
  return Array.from({ length: n }, (_, i) => {
    const created = START + int(0, 200) * DAY;
    const periods: Period[] = [];
    let t = created;
    const count = int(1, 4);
    for (let k = 0; k < count; k++) {
      const trial = k === 0 && r() < 0.3;
      const len = (trial ? int(7, 21) : int(10, 120)) * DAY;
      const open = k === count - 1 && r() < 0.4;
      // an ended last period that the source still calls active now and then
      const status = trial ? 'trialing' : open || (k === count - 1 && rs() < 0.15) ? 'active' : 'ended';
      periods.push({ start: t, end: open ? Infinity : t + len, trial, status });
      // next period: right at the end (renewal), inside the grace gap, or after it
      t = t + len + [0, 0, int(1, 13), 14, int(15, 40)][int(0, 4)] * DAY;
    }
    return { id: `o_${String(i).padStart(3, '0')}`, created, periods };
  });
}

/** The label rules written directly over one account's periods, independently of the SQL. */
function oracle(a: Acct, T: number, p: { lead: number; horizon: number; grace: number; minTenure: number; dataEnd: number }): { status: LabelStatus; churnedAt: number | null } | undefined {
  if (a.created > T) return undefined;
  // an end after the data end is not known yet; the latest paid period still 'active' has not ended
  const latest = Math.max(...a.periods.filter((x) => !x.trial).map((x) => x.start));
  const paid = a.periods.filter((x) => !x.trial).map((x) => ({ ...x, end: x.end > p.dataEnd || (x.status === 'active' && x.start === latest) ? Infinity : x.end }));
  const containing = paid.filter((x) => x.start <= T && x.end > T);
  if (!containing.length) return { status: 'not_paying', churnedAt: null };
  if (a.created > T - p.minTenure) return { status: 'too_young', churnedAt: null };
  if (T + p.lead + p.horizon + p.grace > p.dataEnd) return { status: 'unknown', churnedAt: null };
  let e = Math.max(...containing.map((x) => x.end));
  for (;;) {
    const next = paid.filter((x) => x.start <= e + p.grace && x.end > e);
    if (!next.length) break;
    e = Math.max(...next.map((x) => x.end));
  }
  if (e < T + p.lead) return { status: 'churned_in_lead', churnedAt: null };
  if (e <= T + p.lead + p.horizon) return { status: 'churned', churnedAt: e };
  return { status: 'retained', churnedAt: null };
}

describe('churn labels against a plain-TypeScript oracle', () => {
  let db: TestDatabase;
  const accounts = histories(120, 11);
  beforeAll(async () => {
    db = await createTestDatabase();
    const subs = accounts.flatMap((a) => a.periods.map((p) => ({ a, p })));
    await query(db.pool, `INSERT INTO source.accounts (account_id, name, segment, plan, created_at)
      SELECT id, id, 'smb', 'pro', created FROM unnest($1::text[], $2::timestamptz[]) AS u(id, created)`, [accounts.map((a) => a.id), accounts.map((a) => new Date(a.created))]);
    await query(db.pool, `INSERT INTO source.subscriptions (subscription_id, account_id, plan, mrr, seats, billing_period, is_trial, started_at, ended_at, status)
      SELECT 'os_' || n, id, 'pro', 10, 1, 'monthly', trial, s, e, status
      FROM unnest($1::text[], $2::boolean[], $3::timestamptz[], $4::timestamptz[], $5::text[]) WITH ORDINALITY AS u(id, trial, s, e, status, n)`, [
      subs.map((x) => x.a.id), subs.map((x) => x.p.trial), subs.map((x) => new Date(x.p.start)), subs.map((x) => (Number.isFinite(x.p.end) ? new Date(x.p.end) : null)), subs.map((x) => x.p.status),
    ]);
  });
  afterAll(async () => {
    await db?.drop();
  });

  for (const leadDays of [0, 15]) {
    it(`gives the oracle's status and churn time for every account and date (lead ${leadDays}d)`, async () => {
      const rows = await labelStatuses(db.pool, { asOfs: AS_OFS, leadDays, horizonDays: 30, graceDays: 14, minTenureDays: 14, dataEnd: DATA_END });
      const got = new Map(rows.map((r) => [`${r.account_id}@${r.as_of.getTime()}`, { status: r.status, churnedAt: r.churned_at?.getTime() ?? null }]));
      const params = { lead: leadDays * DAY, horizon: 30 * DAY, grace: 14 * DAY, minTenure: 14 * DAY, dataEnd: DATA_END.getTime() };
      const want = new Map<string, { status: LabelStatus; churnedAt: number | null }>();
      for (const a of accounts) for (const t of AS_OFS) {
        const o = oracle(a, t.getTime(), params);
        if (o) want.set(`${a.id}@${t.getTime()}`, o);
      }
      expect(Object.fromEntries(got)).toEqual(Object.fromEntries(want));
      // the labels (a cheaper query over paying accounts only) are exactly the churned and retained rows
      const labels = await buildLabels(db.pool, { asOfs: AS_OFS, leadDays, horizonDays: 30, graceDays: 14, minTenureDays: 14, dataEnd: DATA_END });
      const key = (r: { account_id: string; as_of: Date }) => `${r.account_id}@${r.as_of.getTime()}`;
      expect(new Map(labels.map((l) => [key(l), l.churned]))).toEqual(new Map(rows.filter((r) => r.status === 'churned' || r.status === 'retained').map((r) => [key(r), r.status === 'churned'])));
      // some accounts' last period is still 'active' at the end of the data although its end has passed: they are not churners
      const statusBlind = accounts.flatMap((a) => AS_OFS.map((t) => oracle({ ...a, periods: a.periods.map((x) => ({ ...x, status: x.trial ? x.status : 'ended' })) }, t.getTime(), params)));
      const churnedOf = (xs: ({ status: LabelStatus } | undefined)[]) => xs.filter((x) => x?.status === 'churned').length;
      expect(churnedOf(statusBlind)).toBeGreaterThan(churnedOf([...want.values()]));
      // the random histories exercise every status
      expect(new Set([...want.values()].map((w) => w.status))).toEqual(new Set(['churned', 'retained', 'unknown', 'churned_in_lead', 'too_young', 'not_paying'].filter((s) => leadDays > 0 || s !== 'churned_in_lead')));
    });
  }
});
