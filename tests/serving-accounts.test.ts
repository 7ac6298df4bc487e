import { writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DEFAULT_SERVING_CONFIG } from '../scoring/config.ts';
import { tierOf } from '../scoring/health.ts';
import { ingestFile } from '../features/ingest/ingest.ts';
import { day, DAY_MS, storeDay } from './helpers/alerts.ts';
import { insertAccounts, insertSubscriptions, startLightApp, type LightApp, type SubscriptionFixture } from './helpers/light-app.ts';
import { bearer } from './serving-fixture.ts';

/**
 * Account views against hand-built rows: accounts, subscription periods and stored scores placed
 * around today, and an independent plain-code oracle of every field, filter, sort and total.
 */
const config = DEFAULT_SERVING_CONFIG;
const T0 = new Date(Math.floor(Date.now() / DAY_MS) * DAY_MS); // today, 00:00 UTC

interface Fixture {
  id: string;
  name: string;
  segment: string;
  plan: string;
  owner: string | null;
  subs: Omit<SubscriptionFixture, 'id' | 'account'>[];
  /** stored scores: days before T0 -> health */
  scores: Record<number, number>;
}

const FIXTURES: Fixture[] = [
  { id: 'acc_a', name: 'Alpha', segment: 'enterprise', plan: 'enterprise', owner: 'dana', subs: [{ plan: 'enterprise', mrr: 4000, billing: 'annual', start: day(T0, -300) }], scores: { 30: 70, 7: 62, 0: 50 } },
  { id: 'acc_b', name: 'Beta', segment: 'smb', plan: 'starter', owner: 'eli', subs: [{ plan: 'team', mrr: 300.5, billing: 'monthly', start: day(T0, -40) }], scores: { 6: 75, 0: 80 } },
  { id: 'acc_c', name: 'Gamma', segment: 'mid_market', plan: 'team', owner: null, subs: [{ plan: 'team', mrr: 900, billing: 'monthly', start: day(T0, -400), end: day(T0, -20) }], scores: { 21: 30 } },
  { id: 'acc_d', name: 'Delta', segment: 'enterprise', plan: 'business', owner: 'dana', subs: [{ plan: 'business', mrr: 2500, billing: 'annual', start: day(T0, -355), end: day(T0, 10) }], scores: { 29: 65, 8: 45, 5: 40, 0: 35 } },
  { id: 'acc_e', name: 'Epsilon', segment: 'smb', plan: 'starter', owner: 'eli', subs: [{ plan: 'starter', mrr: 150, billing: 'monthly', start: day(T0, -95) }], scores: { 0: 65 } },
  { id: 'acc_f', name: 'Phi', segment: 'smb', plan: 'starter', owner: null, subs: [], scores: { 0: 55 } },
  { id: 'acc_g', name: 'Unscored', segment: 'smb', plan: 'starter', owner: 'dana', subs: [{ plan: 'starter', mrr: 99, billing: 'monthly', start: day(T0, -10) }], scores: {} },
  // the same churn probability as acc_a: the account id breaks the tie
  // on a trial now: not tiered as a customer, whatever its stored score says
  { id: 'acc_t', name: 'Theta', segment: 'smb', plan: 'starter', owner: 'eli', subs: [{ plan: 'starter', mrr: 0, billing: 'monthly', start: day(T0, -20), trial: true }], scores: { 0: 92 } },
  { id: 'acc_h', name: 'Eta', segment: 'enterprise', plan: 'enterprise', owner: 'dana', subs: [{ plan: 'enterprise', mrr: 4000, billing: 'annual', start: day(T0, -200) }], scores: { 33: 58, 0: 50 } },
];

// ---- the oracle ----

function addMonths(d: Date, months: number): Date {
  const y = d.getUTCFullYear();
  const m = d.getUTCMonth() + months;
  const last = new Date(Date.UTC(y, m + 1, 0)).getUTCDate();
  return new Date(Date.UTC(y, m, Math.min(d.getUTCDate(), last), d.getUTCHours(), d.getUTCMinutes(), d.getUTCSeconds()));
}

/** The period in force now and its renewal: its end, else the first billing boundary after now. */
function inForce(f: Fixture, now: number) {
  const s = f.subs.filter((x) => x.start.getTime() <= now && (!x.end || x.end.getTime() > now)).sort((a, b) => b.start.getTime() - a.start.getTime())[0];
  if (!s) return null;
  let renewal = s.end ?? null;
  for (let k = 1; !renewal || renewal.getTime() <= now; k++) renewal = s.end ?? addMonths(s.start, k * (s.billing === 'annual' ? 12 : 1));
  return { plan: s.plan, mrr: s.mrr, renewal, trial: s.trial === true };
}

/** Health of the stored score nearest to `days` before the latest, within half the window. */
function trend(f: Fixture, days: number): number | null {
  const latest = Math.min(...Object.keys(f.scores).map(Number));
  const target = latest + days;
  const near = Object.keys(f.scores).map(Number).filter((d) => Math.abs(d - target) <= days / 2).sort((a, b) => Math.abs(a - target) - Math.abs(b - target) || b - a)[0];
  return near === undefined ? null : f.scores[latest] - f.scores[near];
}

function expected(f: Fixture) {
  const now = Date.now();
  const cur = inForce(f, now);
  const status = cur ? (cur.trial ? 'trial' : 'active') : f.subs.some((s) => s.start.getTime() <= now) ? 'churned' : 'never_subscribed';
  const latest = Math.min(...Object.keys(f.scores).map(Number));
  const health = f.scores[latest];
  return {
    account_id: f.id, health_score: health, churn_probability: (100 - health) / 100, status, tier: status === 'active' ? tierOf(health, config.tiers).tier.name : status,
    as_of: day(T0, -latest).toISOString(),
    account: {
      name: f.name, segment: f.segment, plan: cur?.plan ?? f.plan, mrr: cur?.mrr ?? null, renewal_date: cur?.renewal.toISOString() ?? null, owner: f.owner,
      change_7d: trend(f, 7), change_30d: trend(f, 30),
    },
  };
}
type Expected = ReturnType<typeof expected>;
const SCORED = FIXTURES.filter((f) => Object.keys(f.scores).length).map(expected);

const KEYS: Record<string, (e: Expected) => number | null> = {
  risk: (e) => e.churn_probability,
  change_7d: (e) => e.account.change_7d,
  change_30d: (e) => e.account.change_30d,
  mrr: (e) => e.account.mrr,
  renewal_date: (e) => (e.account.renewal_date ? Date.parse(e.account.renewal_date) : null),
};
const NATURAL: Record<string, 'asc' | 'desc'> = { risk: 'desc', change_7d: 'asc', change_30d: 'asc', mrr: 'desc', renewal_date: 'asc' };

/** Nulls last; then the key, then the account id, both in the direction asked. */
function oracleOrder(rows: Expected[], sort: string, order: 'asc' | 'desc'): string[] {
  const sign = order === 'asc' ? 1 : -1;
  return [...rows].sort((a, b) => {
    const x = KEYS[sort](a);
    const y = KEYS[sort](b);
    // customers with a value, customers without one, then accounts that are not customers now
    const group = (e: Expected, v: number | null) => (e.status !== 'active' ? 2 : v === null ? 1 : 0);
    if (group(a, x) !== group(b, y)) return group(a, x) - group(b, y);
    if (x !== null && y !== null && x !== y) return sign * (x - y);
    return sign * (a.account_id < b.account_id ? -1 : 1);
  }).map((r) => r.account_id);
}

describe('account views: context, filters, sorts and totals', () => {
  let h: LightApp;
  beforeAll(async () => {
    h = await startLightApp();
    await insertAccounts(h.db.pool, FIXTURES.map((f) => ({ ...f, createdAt: day(T0, -500) })));
    await insertSubscriptions(h.db.pool, FIXTURES.flatMap((f) => f.subs.map((s, i) => ({ ...s, id: `${f.id}_s${i}`, account: f.id }))));
    // stored as daily runs would: oldest first, each an hour after its as-of
    for (const back of [...new Set(FIXTURES.flatMap((f) => Object.keys(f.scores).map(Number)))].sort((a, b) => b - a)) {
      const healths = Object.fromEntries(FIXTURES.filter((f) => f.scores[back] !== undefined).map((f) => [f.id, f.scores[back]]));
      await storeDay(h.db.pool, config, day(T0, -back), healths);
    }
  });
  afterAll(async () => {
    await h?.close();
  });

  const list = async (qs: string, key = h.readKey) => {
    const res = await h.app.inject({ url: `/v1/accounts?${qs}`, headers: bearer(key) });
    expect(res.statusCode, res.body).toBe(200);
    return res.json() as { accounts: (Expected & { tier_segment: string; segment: string })[]; next_cursor: string | null };
  };
  /** Every page of a list, `limit` at a time. */
  const all = async (qs: string, limit = 2) => {
    const out: Expected[] = [];
    let cursor: string | null = null;
    do {
      const page = await list(`${qs}&limit=${limit}${cursor ? `&cursor=${cursor}` : ''}`);
      expect(page.accounts.length).toBeLessThanOrEqual(limit);
      out.push(...page.accounts);
      cursor = page.next_cursor;
    } while (cursor);
    return out;
  };

  it('gives every listed account its context: name, data segment, plan, MRR, renewal date, owner and 7- and 30-day change', async () => {
    const { accounts } = await list('limit=100');
    expect(accounts.map((a) => a.account_id).sort()).toEqual(SCORED.map((e) => e.account_id).sort());
    for (const a of accounts) {
      const e = SCORED.find((x) => x.account_id === a.account_id)!;
      expect(a).toMatchObject({ health_score: e.health_score, status: e.status, tier: e.tier, as_of: e.as_of });
      expect(a.account).toEqual(e.account);
      // the score's segment is its tier-segment, named apart from the account's own
      expect(a.segment).toBe(config.default_segment);
      expect(a.tier_segment).toBe(a.segment);
    }
    // the fixture covers each case: a drop, a rise, nearest-of-two, no score in the window, churned, never subscribed, a trial
    expect(SCORED.map((e) => [e.account_id, e.account.change_7d, e.account.change_30d])).toEqual([
      ['acc_a', -12, -20], ['acc_b', 5, null], ['acc_c', null, null], ['acc_d', -10, -30], ['acc_e', null, null], ['acc_f', null, null], ['acc_t', null, null], ['acc_h', null, -8],
    ]);
    expect(accounts.find((a) => a.account_id === 'acc_t')).toMatchObject({ status: 'trial', tier: 'trial', recommended_action: 'convert', health_score: 92 });
  });

  it('sorts by risk, trend, MRR and renewal date in either direction, nulls last and accounts that are not customers after all customers, across cursor pages without repeats', async () => {
    for (const sort of Object.keys(KEYS)) {
      for (const order of ['asc', 'desc'] as const) {
        const qs = `sort=${sort}${order === NATURAL[sort] ? '' : `&order=${order}`}`;
        const ids = (await all(qs)).map((a) => a.account_id);
        expect(ids, qs).toEqual(oracleOrder(SCORED, sort, order));
      }
    }
    // the default is riskiest first, and a cursor of the list before sorts existed ([p, id]) still pages it
    expect((await all('')).map((a) => a.account_id)).toEqual(oracleOrder(SCORED, 'risk', 'desc'));
    const first = oracleOrder(SCORED, 'risk', 'desc')[0];
    const legacy = Buffer.from(JSON.stringify([SCORED.find((e) => e.account_id === first)!.churn_probability, first])).toString('base64url');
    expect((await list(`cursor=${legacy}`)).accounts.map((a) => a.account_id)).toEqual(oracleOrder(SCORED, 'risk', 'desc').slice(1));
  });

  it('filters by tier, data segment, owner, renewal within N days and MRR, alone and together', async () => {
    const now = Date.now();
    const cases: [string, (e: Expected) => boolean][] = [
      ['tier=at_risk', (e) => e.tier === 'at_risk'],
      ['tier=churned', (e) => e.tier === 'churned'],
      ['tier=trial', (e) => e.tier === 'trial'],
      ['segment=enterprise', (e) => e.account.segment === 'enterprise'],
      ['owner=dana', (e) => e.account.owner === 'dana'],
      ['renewal_within_days=30', (e) => e.account.renewal_date !== null && Date.parse(e.account.renewal_date) >= now && Date.parse(e.account.renewal_date) < now + 30 * DAY_MS],
      ['mrr_min=300', (e) => e.account.mrr !== null && e.account.mrr >= 300],
      ['mrr_min=200&mrr_max=3000', (e) => e.account.mrr !== null && e.account.mrr >= 200 && e.account.mrr <= 3000],
      ['segment=enterprise&owner=dana&tier=critical', (e) => e.account.segment === 'enterprise' && e.account.owner === 'dana' && e.tier === 'critical'],
    ];
    for (const [qs, keep] of cases) {
      const want = oracleOrder(SCORED.filter(keep), 'change_7d', 'asc');
      expect(want.length, `${qs} selects something`).toBeGreaterThan(0);
      expect(want.length, `${qs} leaves something out`).toBeLessThan(SCORED.length);
      expect((await all(`${qs}&sort=change_7d`, 1)).map((a) => a.account_id), qs).toEqual(want);
    }
  });

  it('refuses a tier filter that names no tier (a misspelt tier is a 400 listing the tiers, not an empty list)', async () => {
    const res = await h.app.inject({ url: '/v1/accounts?tier=atrisk', headers: bearer(h.readKey) });
    expect(res.statusCode, res.body).toBe(400);
    expect(res.json().error).toBe('CHURN_ERR_VALIDATION');
    expect(res.json().message).toBe('unknown tier "atrisk": the tiers are healthy, at_risk, critical, trial, churned, never_subscribed');
    // a known tier that no account of the other filters is in: an empty list
    expect(SCORED.some((e) => e.tier === 'churned' && e.account.segment === 'enterprise')).toBe(false);
    const empty = await h.app.inject({ url: '/v1/accounts?tier=churned&segment=enterprise', headers: bearer(h.readKey) });
    expect(empty.statusCode, empty.body).toBe(200);
    expect(empty.json().accounts).toEqual([]);
    // and a segment no account has, in the list and the totals alike (it was an empty 200: "no account there")
    const segments = [...new Set(FIXTURES.map((f) => f.segment))].sort().join(', ');
    for (const url of ['/v1/accounts?segment=entreprise', '/v1/accounts/summary?segment=entreprise']) {
      const wrong = await h.app.inject({ url, headers: bearer(h.readKey) });
      expect(wrong.statusCode, wrong.body).toBe(400);
      expect(wrong.json().message).toBe(`unknown segment "entreprise": the accounts' segments are ${segments}`);
    }
    // a tier of an earlier configuration that stored scores still carry stays a filter
    const pool = h.db.pool;
    const setTier = (scoreId: string, tier: string) => pool.query('UPDATE churn.score_history SET tier = $2 WHERE score_id = $1', [scoreId, tier]);
    const gold = async () => {
      const res = await h.app.inject({ url: '/v1/accounts?tier=gold', headers: bearer(h.readKey) });
      expect(res.statusCode, res.body).toBe(200);
      return res.json().accounts.map((a: { account_id: string }) => a.account_id);
    };
    const stored = (await pool.query<{ score_id: string; tier: string }>("SELECT score_id::text, tier FROM churn.score_history WHERE account_id = 'acc_b' ORDER BY as_of DESC, score_id DESC")).rows;
    expect(stored.length).toBe(2);
    try {
      await setTier(stored[0].score_id, 'gold'); // acc_b's latest score
      expect(await gold()).toEqual(['acc_b']);
      await setTier(stored[0].score_id, stored[0].tier);
      await setTier(stored[1].score_id, 'gold'); // only an older score: no account in it now, but a tier scores carry
      expect(await gold()).toEqual([]);
    } finally {
      for (const r of stored) await setTier(r.score_id, r.tier);
    }
  });

  it('totals accounts, MRR and the MRR expected to be lost per tier, configured tiers first, with the filters', async () => {
    for (const qs of ['', 'segment=enterprise', 'owner=eli']) {
      const res = await h.app.inject({ url: `/v1/accounts/summary?${qs}`, headers: bearer(h.readKey) });
      expect(res.statusCode, res.body).toBe(200);
      const body = res.json() as { tiers: { tier: string; accounts: number; revenue_at_risk: number; mrr: number; expected_mrr_loss: number }[]; total: { accounts: number; mrr: number; expected_mrr_loss: number } };
      const rows = SCORED.filter((e) => (qs === 'segment=enterprise' ? e.account.segment === 'enterprise' : qs === 'owner=eli' ? e.account.owner === 'eli' : true));
      const extra = [...new Set(rows.map((e) => e.tier).filter((t) => !config.tiers.some((c) => c.name === t)))].sort();
      expect(body.tiers.map((t) => t.tier)).toEqual([...config.tiers.map((t) => t.name), ...extra]);
      for (const t of body.tiers) {
        const inTier = rows.filter((e) => e.tier === t.tier);
        const mrr = inTier.reduce((n, e) => n + (e.account.mrr ?? 0), 0);
        // a customer's MRR weighed by its churn probability; churned and never-subscribed accounts lose nothing more
        const loss = Math.round(inTier.reduce((n, e) => n + (e.status === 'active' ? (e.account.mrr ?? 0) * e.churn_probability : 0), 0) * 100) / 100;
        expect(t, `${qs} ${t.tier}`).toEqual({ tier: t.tier, accounts: inTier.length, revenue_at_risk: mrr, mrr, expected_mrr_loss: loss });
      }
      const lossAll = body.tiers.reduce((n, t) => n + t.expected_mrr_loss, 0);
      expect(body.total).toEqual({ accounts: rows.length, mrr: rows.reduce((n, e) => n + (e.account.mrr ?? 0), 0), expected_mrr_loss: Math.round(lossAll * 100) / 100 });
      if (qs === '') expect(body.total.expected_mrr_loss).toBeGreaterThan(0);
    }
  });

  it('gives history the account with its trend and each stored score its tier-segment', async () => {
    const res = await h.app.inject({ url: '/v1/accounts/acc_d/history', headers: bearer(h.readKey) });
    expect(res.statusCode).toBe(200);
    const body = res.json();
    expect(body.account).toEqual(expected(FIXTURES.find((f) => f.id === 'acc_d')!).account);
    expect(body.scores.map((s: { health_score: number }) => s.health_score)).toEqual([35, 40, 45, 65]);
    expect(body.scores.every((s: { tier_segment: string; segment: string }) => s.tier_segment === s.segment)).toBe(true);
    // an account without stored scores: its context, no trend
    const unscored = (await h.app.inject({ url: '/v1/accounts/acc_g/history', headers: bearer(h.readKey) })).json();
    expect(unscored).toMatchObject({ scores: [], account: { name: 'Unscored', mrr: 99, change_7d: null, change_30d: null } });
    expect((await h.app.inject({ url: '/v1/accounts/acc_nope/history', headers: bearer(h.readKey) })).json().error).toBe('CHURN_ERR_ACCOUNT_NOT_FOUND');
  });

  it('compares a trend only with scores of the same model version: after a champion change it waits for the new model\'s history', async () => {
    const pool = h.db.pool;
    const trends = async (id: string) => {
      const listed = (await h.app.inject({ url: '/v1/accounts?limit=1000', headers: bearer(h.readKey) })).json().accounts.find((a: { account_id: string }) => a.account_id === id);
      const history = (await h.app.inject({ url: `/v1/accounts/${id}/history`, headers: bearer(h.readKey) })).json();
      expect(history.account.change_7d).toBe(listed.account.change_7d);
      expect(history.account.change_30d).toBe(listed.account.change_30d);
      return [listed.account.change_7d, listed.account.change_30d];
    };
    expect(await trends('acc_a')).toEqual([-12, -20]); // scores at 30, 7 and 0 days: 70, 62, 50
    const [latest] = (await pool.query<{ score_id: string }>("SELECT score_id::text FROM churn.score_history WHERE account_id = 'acc_a' ORDER BY as_of DESC, score_id DESC LIMIT 1")).rows;
    try {
      await pool.query('UPDATE churn.score_history SET model_version = 2 WHERE score_id = $1', [latest.score_id]);
      expect(await trends('acc_a')).toEqual([null, null]); // today's score is model 2's first
      await pool.query("UPDATE churn.score_history SET model_version = 2 WHERE account_id = 'acc_a'");
      expect(await trends('acc_a')).toEqual([-12, -20]); // every score of model 2
    } finally {
      await pool.query("UPDATE churn.score_history SET model_version = 1 WHERE account_id = 'acc_a'");
    }
  });

  it('refuses a cursor of another sort, a forged cursor, mrr_min over mrr_max and unknown sorts with a 400', async () => {
    const risk = await list('limit=1');
    for (const qs of [`sort=mrr&cursor=${risk.next_cursor}`, `order=asc&cursor=${risk.next_cursor}`, 'cursor=bm90LWpzb24', `cursor=${Buffer.from('["risk","desc",0,0.5,"a\\u0001b"]').toString('base64url')}`,
      'mrr_min=10&mrr_max=5', 'sort=name', 'order=up', 'renewal_within_days=-1']) {
      const res = await h.app.inject({ url: `/v1/accounts?${qs}`, headers: bearer(h.readKey) });
      expect(res.statusCode, qs).toBe(400);
      expect(res.json().error).toBe('CHURN_ERR_VALIDATION');
    }
  });

  it('takes an owner from `churn ingest accounts` and shows it in the list', async () => {
    const file = path.join(os.tmpdir(), `owners-${process.pid}.csv`);
    await writeFile(file, `account_id,name,segment,plan,created_at,owner\nacc_b,Beta,smb,starter,${day(T0, -500).toISOString()},frank\nacc_i,Iota,smb,starter,${day(T0, -500).toISOString()},\n`);
    await ingestFile(h.db.pool, 'accounts', file);
    const { accounts } = await list('owner=frank');
    expect(accounts.map((a) => [a.account_id, a.account.owner])).toEqual([['acc_b', 'frank']]);
    const [row] = (await h.db.pool.query("SELECT owner FROM source.accounts WHERE account_id = 'acc_i'")).rows;
    expect(row.owner).toBeNull(); // blank: no owner
  });
});
