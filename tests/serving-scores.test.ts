import os from 'node:os';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { query } from '../core/db.ts';
import { describeFeature } from '../features/describe-value.ts';
import type { ModelArtifact } from '../training/artifact.ts';
import { createOnlineReader, readFeatures } from '../features/online.ts';
import { healthScore, resolveSegment, tierOf } from '../scoring/health.ts';
import { baseRateOf } from '../training/artifact.ts';
import { ScoreSchema, type Score } from '../scoring/schema.ts';
import { bearer, startHarness, AS_OF, type ServingHarness } from './serving-fixture.ts';

const logit = (p: number) => Math.log(p / (1 - p));

function expectAdditive(s: Score): void {
  const sum = s.drivers.reduce((acc, d) => acc + d.contribution, 0);
  expect(Math.abs(s.base_value + sum - logit(s.churn_probability))).toBeLessThan(1e-3);
}

describe('scores', () => {
  let h: ServingHarness;
  beforeAll(async () => {
    h = await startHarness();
  });
  afterAll(async () => {
    await h?.close();
  });

  it('answers health and readiness without a key', async () => {
    expect((await h.app.inject({ url: '/healthz' })).json()).toEqual({ status: 'ok' });
    const ready = await h.app.inject({ url: '/readyz' });
    expect(ready.statusCode).toBe(200);
    expect(ready.json()).toEqual({ ready: true, database: true, model_problem: null, model_version: h.champion });
  });

  it('returns the contract shape with every feature when top=all, and the contributions add up to the log-odds', async () => {
    let youngSeen = 0;
    for (const id of h.accountIds) {
      const res = await h.app.inject({ url: `/v1/accounts/${id}/score?as_of=${AS_OF.toISOString()}&top=all`, headers: bearer(h.readKey) });
      expect(res.statusCode).toBe(200);
      const s = ScoreSchema.parse(res.json());
      expect(s.account_id).toBe(id);
      expect(s.model_version).toBe(h.champion);
      expect(s.drivers).toHaveLength(h.catalog.names.length);
      expectAdditive(s);
      expect(s.health_score).toBe(healthScore(s.churn_probability, h.config.health, baseRateOf(h.artifact)));
      if (s.status === 'trial') expect([s.tier, s.recommended_action]).toEqual(['trial', 'convert']); // not tiered as a customer
      else {
        expect(['healthy', 'at_risk', 'critical']).toContain(s.tier);
        expect({ healthy: 'expand', at_risk: 'engage', critical: 'rescue' }[s.tier]).toBe(s.recommended_action);
      }
      const mags = s.drivers.map((d) => Math.abs(d.contribution));
      expect([...mags].sort((a, b) => b - a)).toEqual(mags);
      // an account in its first 90 days is explained against the young retained accounts
      const tenure = s.drivers.find((d) => d.feature === 'tenure_days')!.value as number | null;
      const band = (h.artifact as ModelArtifact).young_references?.find((b) => tenure !== null && tenure < b.max_tenure_days);
      const who = band ? `typical retained account in its first ${band.max_tenure_days} days` : undefined;
      if (who) youngSeen++;
      for (const d of s.drivers) {
        expect(d.family).toBe(h.catalog.byName.get(d.feature)!.family);
        expect(d.description).toBe(describeFeature(h.catalog.byName.get(d.feature)!, d.value as number | null, d.reference as number | null, who));
        if (d.reference !== null) expect(d.description).toContain(`; ${who ?? 'typical retained account'}: `);
        expect(d.direction).toBe(d.contribution > 0 ? 'raises_risk' : d.contribution < 0 ? 'lowers_risk' : 'neutral');
      }
    }
    // both kinds of account were checked
    expect(youngSeen).toBeGreaterThan(0);
    expect(youngSeen).toBeLessThan(h.accountIds.length);
  });

  it('limits drivers to five by default and to N with top=N, and omits them with explain=false', async () => {
    const id = h.accountIds[0];
    const def = (await h.app.inject({ url: `/v1/accounts/${id}/score`, headers: bearer(h.readKey) })).json();
    expect(def.drivers).toHaveLength(5);
    const three = (await h.app.inject({ url: `/v1/accounts/${id}/score?top=3`, headers: bearer(h.readKey) })).json();
    expect(three.drivers).toHaveLength(3);
    const none = (await h.app.inject({ url: `/v1/accounts/${id}/score?explain=false`, headers: bearer(h.readKey) })).json();
    expect(none.drivers).toEqual([]);
    expect(none.churn_probability).toBe(def.churn_probability);
  });

  it('scores a batch with the same numbers as one at a time, and every batch score is additive', async () => {
    const ids = h.accountIds.slice(0, 20);
    const res = await h.app.inject({ method: 'POST', url: '/v1/scores?top=all', headers: bearer(h.readKey), payload: { account_ids: ids, as_of: AS_OF.toISOString() } });
    expect(res.statusCode).toBe(200);
    const scores = res.json().scores as Score[];
    expect(scores.map((s) => s.account_id)).toEqual(ids);
    scores.forEach(expectAdditive);
    const one = (await h.app.inject({ url: `/v1/accounts/${ids[4]}/score?as_of=${AS_OF.toISOString()}`, headers: bearer(h.readKey) })).json();
    expect(one.churn_probability).toBeCloseTo(scores[4].churn_probability, 12);
  });

  it('predicts from caller-supplied values: the same features give the same probability as the database path', async () => {
    const id = h.accountIds[2];
    const db = (await h.app.inject({ url: `/v1/accounts/${id}/score?as_of=${AS_OF.toISOString()}&top=all`, headers: bearer(h.readKey) })).json() as Score;
    const instance = Object.fromEntries(db.drivers.map((d) => [d.feature, d.value]));
    const res = await h.app.inject({ method: 'POST', url: '/v1/predict?top=all', headers: bearer(h.readKey), payload: { instances: [instance] } });
    expect(res.statusCode).toBe(200);
    const p = res.json().scores[0] as Score;
    expect(p.churn_probability).toBeCloseTo(db.churn_probability, 12);
    expectAdditive(p);
  });

  it("applies each account's segment: its tier thresholds, recommended action and scorecard weights", async () => {
    const res = await h.app.inject({ method: 'POST', url: '/v1/scores', headers: bearer(h.readKey), payload: { account_ids: h.accountIds, as_of: AS_OF.toISOString() } });
    const scores = res.json().scores as Score[];
    const info = await query<{ account_id: string; segment: string; created_at: Date }>(h.db.pool, 'SELECT account_id, segment, created_at FROM source.accounts');
    const byId = new Map(info.map((r) => [r.account_id, r]));
    const seen = new Set<string>();
    for (const s of scores) {
      const a = byId.get(s.account_id)!;
      const seg = resolveSegment(h.config, { accountSegment: a.segment, tenureDays: Math.floor((AS_OF.getTime() - a.created_at.getTime()) / 86_400_000) });
      expect(s.segment).toBe(seg.name);
      const { tier } = tierOf(s.health_score, seg.tiers);
      expect([s.tier, s.recommended_action]).toEqual(s.status === 'trial' ? ['trial', 'convert'] : [tier.name, tier.recommended_action]);
      seen.add(seg.name);
    }
    expect(seen.size).toBeGreaterThan(1);
  });

  it('coalesces concurrent feature reads for one as-of time into fewer statements with the same values', async () => {
    const calls: number[] = [];
    const reader = createOnlineReader(h.db.pool, h.catalog, { concurrency: 1, maxBatch: 8, onStatement: (n) => { calls.push(n); return () => undefined; } });
    const ids = h.accountIds.slice(0, 20);
    const results = await Promise.all(ids.map((id) => reader.read([id], AS_OF)));
    expect(calls.length).toBeLessThan(ids.length);
    expect(Math.max(...calls)).toBeLessThanOrEqual(8);
    const expected = await readFeatures(h.db.pool, h.catalog, ids, AS_OF, { requireActive: false });
    const accounts = new Map((await query<{ account_id: string; segment: string; created_at: Date }>(h.db.pool, 'SELECT account_id, segment, created_at FROM source.accounts WHERE account_id = ANY($1)', [ids])).map((r) => [r.account_id, r]));
    results.forEach((r, i) => {
      const got = r.get(ids[i])!;
      expect(got.row).toEqual(expected.get(ids[i])!.row);
      // the account facts come from the same statement: those of source.accounts
      expect({ segment: got.segment, createdAt: got.createdAt }).toEqual({ segment: accounts.get(ids[i])!.segment, createdAt: accounts.get(ids[i])!.created_at });
    });
    calls.length = 0;
    await reader.read(h.accountIds.slice(0, 30), AS_OF); // larger than a batch: runs on its own
    expect(calls).toEqual([30]);
    await reader.close();
  });

  it('runs at most `concurrency` feature statements at once (default: one per core), the rest queued behind them', async () => {
    let running = 0;
    let peak = 0;
    const onStatement = () => {
      peak = Math.max(peak, ++running);
      return () => { running--; };
    };
    const ids = h.accountIds.slice(0, 12);
    for (const concurrency of [1, 2, 3, undefined]) {
      peak = 0;
      const reader = createOnlineReader(h.db.pool, h.catalog, { concurrency, maxBatch: 1, onStatement }); // one account per statement: 12 statements
      await Promise.all(ids.map((id, i) => reader.read([id], new Date(AS_OF.getTime() - i * 1000))));
      expect(peak, `concurrency ${concurrency}`).toBe(concurrency ?? Math.min(ids.length, os.availableParallelism()));
      await reader.close();
    }
  });

  it('warm() opens and prepares every connection of the reader, so the first scores after a start find them ready', async () => {
    const reader = createOnlineReader(h.db.pool, h.catalog, { concurrency: 2 });
    // backends of feature connections, by pid: those of other readers (the app's own, or one of an
    // earlier test still exiting) are there before, and are not counted
    const pids = async () => (await query<{ pid: number }>(h.db.pool, "SELECT pid FROM pg_stat_activity WHERE datname = current_database() AND application_name = 'churnlens features'")).map((r) => r.pid);
    const before = new Set(await pids());
    const fresh = async () => (await pids()).filter((p) => !before.has(p)).sort();
    try {
      await reader.warm();
      const opened = await fresh();
      expect(opened).toHaveLength(3); // one per statement at once, and one for a batch read
      const ids = h.accountIds.slice(0, 3);
      const rows = await reader.read(ids, AS_OF);
      expect([...rows.keys()].sort()).toEqual([...ids].sort());
      expect(await fresh()).toEqual(opened); // the reads used them: no new connection
    } finally {
      await reader.close();
    }
  });

  it('reports idle only once every queued and running feature read has settled (graceful shutdown waits for it)', async () => {
    const reader = createOnlineReader(h.db.pool, h.catalog, { concurrency: 1, maxBatch: 4 });
    await reader.idle(); // nothing queued: idle at once
    const settled: string[] = [];
    const reads = h.accountIds.slice(0, 12).map((id) => reader.read([id], AS_OF).then(() => settled.push(id)));
    await reader.idle();
    expect(settled).toHaveLength(12);
    await Promise.all(reads);
    await reader.close();
  });

  it('refuses a predict instance with a feature the model does not know', async () => {
    const res = await h.app.inject({ method: 'POST', url: '/v1/predict', headers: bearer(h.readKey), payload: { instances: [{ not_a_feature: 1 }] } });
    expect(res.statusCode).toBe(400);
    expect(res.json().error).toBe('CHURN_ERR_VALIDATION');
  });

  it('answers 404 with the error shape for an unknown account', async () => {
    const res = await h.app.inject({ url: '/v1/accounts/acc_nobody/score', headers: bearer(h.readKey) });
    expect(res.statusCode).toBe(404);
    expect(res.json()).toMatchObject({ error: 'CHURN_ERR_ACCOUNT_NOT_FOUND', message: 'no such account: acc_nobody', request_id: expect.any(String) });
  });

  it('answers 404 for an account scored before it signed up; a batch scores the accounts it knows and lists the others as errors', async () => {
    const [a] = await query<{ account_id: string; created_at: Date }>(h.db.pool, 'SELECT account_id, created_at FROM source.accounts ORDER BY created_at DESC, account_id LIMIT 1');
    const before = new Date(a.created_at.getTime() - 1000).toISOString();
    const res = await h.app.inject({ url: `/v1/accounts/${a.account_id}/score?as_of=${before}`, headers: bearer(h.readKey) });
    expect(res.statusCode).toBe(404);
    expect(res.json()).toMatchObject({ error: 'CHURN_ERR_ACCOUNT_NOT_FOUND', message: `account ${a.account_id} did not exist at ${before}` });
    // at its sign-up time it still did not exist (features use what is known before the as-of time); a second later it did
    expect((await h.app.inject({ url: `/v1/accounts/${a.account_id}/score?as_of=${a.created_at.toISOString()}`, headers: bearer(h.readKey) })).statusCode).toBe(404);
    const after = new Date(a.created_at.getTime() + 1000).toISOString();
    const ok = await h.app.inject({ url: `/v1/accounts/${a.account_id}/score?as_of=${after}`, headers: bearer(h.readKey) });
    expect(ok.statusCode).toBe(200);
    expect(ok.json().segment).toBeTypeOf('string');
    const batch = await h.app.inject({ method: 'POST', url: '/v1/scores', headers: bearer(h.readKey), payload: { account_ids: [a.account_id, 'acc_nobody', h.accountIds[0]], as_of: before } });
    expect(batch.statusCode).toBe(200);
    expect(batch.json().scores.map((s: Score) => s.account_id)).toEqual([h.accountIds[0]]);
    expect(batch.json().errors).toEqual([
      { account_id: a.account_id, error: 'CHURN_ERR_ACCOUNT_NOT_FOUND', message: `account ${a.account_id} did not exist at ${before}` },
      { account_id: 'acc_nobody', error: 'CHURN_ERR_ACCOUNT_NOT_FOUND', message: 'no such account: acc_nobody' },
    ]);
  });
});
