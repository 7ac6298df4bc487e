import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { query } from '../core/db.ts';
import { day, storeDay } from './helpers/alerts.ts';
import { AS_OF, bearer, startHarness, type ServingHarness } from './serving-fixture.ts';

interface Sub { plan: string; mrr: number; billing_period: string; started_at: Date; ended_at: Date | null }

function addMonths(d: Date, months: number): Date {
  const m = d.getUTCMonth() + months;
  const last = new Date(Date.UTC(d.getUTCFullYear(), m + 1, 0)).getUTCDate();
  return new Date(Date.UTC(d.getUTCFullYear(), m, Math.min(d.getUTCDate(), last), d.getUTCHours(), d.getUTCMinutes(), d.getUTCSeconds(), d.getUTCMilliseconds()));
}

/** The account's context at `at`, read and computed apart from the API: its row, and the period in force with its renewal. */
async function oracle(h: ServingHarness, id: string, at: Date) {
  const [acc] = await query<{ name: string; segment: string; plan: string; owner: string | null }>(h.db.pool, 'SELECT name, segment, plan, owner FROM source.accounts WHERE account_id = $1', [id]);
  const subs = await query<Sub>(h.db.pool, 'SELECT plan, mrr, billing_period, started_at, ended_at FROM source.subscriptions WHERE account_id = $1', [id]);
  const cur = subs.filter((s) => s.started_at <= at && (!s.ended_at || s.ended_at > at)).sort((a, b) => b.started_at.getTime() - a.started_at.getTime())[0];
  let renewal: Date | null = cur?.ended_at ?? null;
  for (let k = 1; cur && !renewal; k++) {
    const next = addMonths(cur.started_at, k * (cur.billing_period === 'annual' ? 12 : 1));
    if (next > at) renewal = next;
  }
  return { name: acc.name, segment: acc.segment, plan: cur?.plan ?? acc.plan, mrr: cur ? cur.mrr : null, renewal_date: renewal?.toISOString() ?? null, owner: acc.owner };
}

describe('scores computed now carry their account context', () => {
  let h: ServingHarness;
  let id: string;
  beforeAll(async () => {
    h = await startHarness({ accounts: 60 });
    id = h.accountIds[0];
    await query(h.db.pool, "UPDATE source.accounts SET owner = 'dana@cs.example.com' WHERE account_id = $1", [id]);
    // stored scores 30 and 7 days before AS_OF (health 90 and 20), and one 2 days before (not within 3.5 days of either day)
    await storeDay(h.db.pool, h.config, day(AS_OF, -30), { [id]: 90 });
    await storeDay(h.db.pool, h.config, day(AS_OF, -7), { [id]: 20 });
    await storeDay(h.db.pool, h.config, day(AS_OF, -2), { [id]: 55 });
  });
  afterAll(async () => {
    await h?.close();
  });

  it('GET /v1/accounts/:id/score: name, data segment, plan, MRR and renewal at the as-of time, owner, and the change against the stored scores 7 and 30 days before', async () => {
    const res = await h.app.inject({ url: `/v1/accounts/${id}/score?as_of=${AS_OF.toISOString()}`, headers: bearer(h.readKey) });
    expect(res.statusCode, res.body).toBe(200);
    const s = res.json();
    expect(s.account).toEqual({ ...(await oracle(h, id, AS_OF)), change_7d: s.health_score - 20, change_30d: s.health_score - 90 });
    expect(s.account.owner).toBe('dana@cs.example.com');
    expect(s.tier_segment).toBe(s.segment);
    // the additive contract is untouched
    expect(s.drivers.length).toBeGreaterThan(0);
    // another account: no stored scores, so no trend
    const other = (await h.app.inject({ url: `/v1/accounts/${h.accountIds[1]}/score?as_of=${AS_OF.toISOString()}`, headers: bearer(h.readKey) })).json();
    expect(other.account).toEqual({ ...(await oracle(h, h.accountIds[1], AS_OF)), change_7d: null, change_30d: null });
  });

  it('POST /v1/scores gives each score the same context as the single-account route', async () => {
    const ids = h.accountIds.slice(0, 5);
    const res = await h.app.inject({ method: 'POST', url: '/v1/scores', headers: bearer(h.readKey), payload: { account_ids: [...ids, 'acc_missing'], as_of: AS_OF.toISOString() } });
    expect(res.statusCode, res.body).toBe(200);
    const body = res.json();
    expect(body.errors.map((e: { account_id: string }) => e.account_id)).toEqual(['acc_missing']);
    for (const s of body.scores) {
      const one = (await h.app.inject({ url: `/v1/accounts/${s.account_id}/score?as_of=${AS_OF.toISOString()}`, headers: bearer(h.readKey) })).json();
      expect(s.account).toEqual(one.account);
      expect(s.tier_segment).toBe(s.segment);
    }
  });

  it('POST /v1/predict and the score change carry tier_segment (predict has no account to describe)', async () => {
    const one = (await h.app.inject({ url: `/v1/accounts/${id}/score?as_of=${AS_OF.toISOString()}&top=all`, headers: bearer(h.readKey) })).json();
    const instance = Object.fromEntries(one.drivers.map((d: { feature: string; value: unknown }) => [d.feature, d.value]));
    const predicted = (await h.app.inject({ method: 'POST', url: '/v1/predict', headers: bearer(h.readKey), payload: { instances: [instance] } })).json();
    expect(predicted.scores[0].tier_segment).toBe(predicted.scores[0].segment);
    expect(predicted.scores[0]).not.toHaveProperty('account');
    const change = (await h.app.inject({ url: `/v1/accounts/${id}/score-change`, headers: bearer(h.readKey) })).json();
    expect([change.from.tier_segment, change.to.tier_segment]).toEqual([change.from.segment, change.to.segment]);
  });
});
