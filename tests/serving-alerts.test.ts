import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { query } from '../core/db.ts';
import { silentLogger } from '../core/log.ts';
import { setAlias } from '../training/registry/index.ts';
import { deliverDue, syncWebhooks } from '../jobs/alerts/deliver.ts';
import { SIGNATURE_HEADER, verifySignature } from '../jobs/alerts/sign.ts';
import { parseServingConfig, type ServingConfig } from '../scoring/config.ts';
import { registryModelSource } from '../scoring/holder.ts';
import { scoreAllActive } from '../jobs/score-all.ts';
import type { Score } from '../scoring/schema.ts';
import { bearer, registerChampion, shiftedArtifact, startHarness, type ServingHarness } from './serving-fixture.ts';

const SECRET = 'whsec_test_0123456789abcdef';
const FIRST = new Date('2026-09-01T00:00:00Z');
const SECOND = new Date('2026-09-15T00:00:00Z');
const THIRD = new Date('2026-09-29T00:00:00Z');

/** A port with nothing listening on it (connection refused). */
async function freePort(): Promise<number> {
  const s = http.createServer();
  await new Promise<void>((r) => s.listen(0, '127.0.0.1', r));
  const { port } = s.address() as AddressInfo;
  await new Promise<void>((r) => s.close(() => r()));
  return port;
}

describe('stored scores, history, score change and alerts', () => {
  let h: ServingHarness;
  let config: ServingConfig;
  let port: number;
  let v2: number;
  beforeAll(async () => {
    port = await freePort();
    config = parseServingConfig({
      alerts: { drop_points: 10, backoff_base_seconds: 0.05, backoff_max_seconds: 0.2, poll_seconds: 1 },
      webhooks: [{ url: `http://127.0.0.1:${port}/hook`, secret: SECRET }],
    });
    h = await startHarness({ config });
    await syncWebhooks(h.db.pool, config.webhooks);
    const source = registryModelSource(h.db.pool, h.catalog);
    // First run with the champion; second run with a model that sees more risk (calibration shifted),
    // which raises no alert (a new model's first score is its baseline); third run with that model again.
    // Each run is stored at its as-of time, as the daily job does (scores stored long after their as-of are backfills and raise no alert).
    await scoreAllActive(h.db.pool, { model: await source.load(h.champion), catalog: h.catalog, config, asOf: FIRST, scoredAt: FIRST });
    v2 = await registerChampion(h.db.pool, shiftedArtifact(h.artifact, 1.5), h.catalog, 'challenger');
    await scoreAllActive(h.db.pool, { model: await source.load(v2), catalog: h.catalog, config, asOf: SECOND, scoredAt: SECOND });
    await scoreAllActive(h.db.pool, { model: await source.load(v2), catalog: h.catalog, config, asOf: THIRD, scoredAt: THIRD });
  });
  afterAll(async () => {
    await h?.close();
  });

  it('lists the latest score of every scored account, riskiest first (customers before the accounts that are not customers now), across cursor pages without repeats', async () => {
    const seen: { account_id: string; churn_probability: number; model_version: number; as_of: string; status: string }[] = [];
    let cursor: string | null = null;
    do {
      const res: { statusCode: number; json(): { accounts: typeof seen; next_cursor: string | null } } = await h.app.inject({ url: `/v1/accounts?limit=7${cursor ? `&cursor=${cursor}` : ''}`, headers: bearer(h.readKey) });
      expect(res.statusCode).toBe(200);
      const page: { accounts: typeof seen; next_cursor: string | null } = res.json();
      seen.push(...page.accounts);
      cursor = page.next_cursor;
    } while (cursor);
    const [{ n }] = await query<{ n: number }>(h.db.pool, 'SELECT count(DISTINCT account_id)::int AS n FROM churn.score_history');
    expect(seen).toHaveLength(n);
    expect(new Set(seen.map((s) => s.account_id)).size).toBe(n);
    const customers = seen.findIndex((s) => s.status !== 'active');
    expect(customers).toBeGreaterThan(0);
    expect(seen.slice(customers).every((s) => s.status !== 'active')).toBe(true);
    for (const group of [seen.slice(0, customers), seen.slice(customers)]) {
      for (let i = 1; i < group.length; i++) expect(group[i - 1].churn_probability).toBeGreaterThanOrEqual(group[i].churn_probability);
    }
    // the latest score is the third run's for every account still active then, else an earlier run's
    const [{ m }] = await query<{ m: number }>(h.db.pool, 'SELECT count(*)::int AS m FROM churn.score_history WHERE as_of = $1', [THIRD]);
    expect(m).toBeGreaterThan(0);
    expect(seen.filter((s) => s.as_of === THIRD.toISOString())).toHaveLength(m);
    expect(seen.every((s) => (s.as_of === FIRST.toISOString()) === (s.model_version === h.champion))).toBe(true);
    const critical = (await h.app.inject({ url: '/v1/accounts?tier=critical&limit=1000', headers: bearer(h.readKey) })).json().accounts;
    expect(critical.every((s: { tier: string }) => s.tier === 'critical')).toBe(true);
    expect(critical.length).toBe(seen.filter((s) => (s as unknown as { tier: string }).tier === 'critical').length);
  });

  it('keeps history stamped with model and feature-set versions, newest first', async () => {
    const id = h.accountIds[0];
    const res = await h.app.inject({ url: `/v1/accounts/${id}/history`, headers: bearer(h.readKey) });
    const { scores } = res.json();
    expect(scores.map((s: { model_version: number }) => s.model_version)).toEqual([v2, v2, h.champion]);
    expect(scores.map((s: { as_of: string }) => s.as_of)).toEqual([THIRD.toISOString(), SECOND.toISOString(), FIRST.toISOString()]);
    expect(scores.every((s: { feature_set_version: string }) => s.feature_set_version === h.catalog.version)).toBe(true);
  });

  it('explains a score change: the base value change plus the per-feature changes equal the change in log-odds', async () => {
    for (const id of h.accountIds.slice(0, 5)) {
      const res = await h.app.inject({ url: `/v1/accounts/${id}/score-change?from=${FIRST.toISOString()}&to=${SECOND.toISOString()}`, headers: bearer(h.readKey) });
      expect(res.statusCode).toBe(200);
      const c = res.json();
      expect(c.from.as_of).toBe(FIRST.toISOString());
      expect(c.to.as_of).toBe(SECOND.toISOString());
      expect(c.model_changed).toBe(true); // the champion, then v2
      const same = (await h.app.inject({ url: `/v1/accounts/${id}/score-change?from=${SECOND.toISOString()}&to=${THIRD.toISOString()}`, headers: bearer(h.readKey) })).json();
      expect([same.from.model_version, same.to.model_version, same.model_changed, same.base_value_change]).toEqual([v2, v2, false, 0]);
      expect(c.changes).toHaveLength(h.catalog.names.length);
      const sum = c.changes.reduce((s: number, x: { contribution_change: number }) => s + x.contribution_change, 0);
      expect(Math.abs(c.base_value_change + sum - c.logit_change)).toBeLessThan(2e-3);
      expect(c.health_change).toBe(c.to.health_score - c.from.health_score);
      const mags = c.changes.map((x: { contribution_change: number }) => Math.abs(x.contribution_change));
      expect([...mags].sort((a, b) => b - a)).toEqual(mags);
    }
  });

  it('raises one alert per account whose tier fell beyond the dead band or whose health dropped by the configured points, none for a new model', async () => {
    const rows = await query<{ account_id: string; as_of: Date; health_score: number; tier: string; segment: string; model_version: number }>(h.db.pool,
      'SELECT account_id, as_of, health_score, tier, segment, model_version FROM churn.score_history ORDER BY account_id, as_of');
    const tiersOf = (seg: string) => config.segments.find((s) => s.name === seg)?.tiers ?? config.tiers;
    const rank = (seg: string, tier: string) => tiersOf(seg).findIndex((t) => t.name === tier);
    // the worst tier a health score is clear of by the dead band: boundaries it lies at least that many points below
    const clearRank = (seg: string, health: number) => tiersOf(seg).slice(0, -1).filter((t) => health <= t.min_health - config.alerts.tier_dead_band).length;
    const expected = new Set<string>();
    for (let i = 1; i < rows.length; i++) {
      const [a, b] = [rows[i - 1], rows[i]];
      // trials raise none, nor does a trial's first score as a customer
      if (a.account_id !== b.account_id || a.model_version !== b.model_version || a.tier === 'trial' || b.tier === 'trial') continue;
      if (clearRank(b.segment, b.health_score) > rank(a.segment, a.tier) || a.health_score - b.health_score >= config.alerts.drop_points) expected.add(b.account_id);
    }
    expect(config.alerts.tier_dead_band).toBe(3); // the default
    const alerts = await query<{ account_id: string }>(h.db.pool, 'SELECT account_id FROM churn.alerts');
    expect(expected.size).toBeGreaterThan(0);
    expect(new Set(alerts.map((a) => a.account_id))).toEqual(expected);
    expect(alerts).toHaveLength(expected.size);
    // the model change alone (the second run, which saw more risk everywhere) would have alerted too
    const swapDrops = rows.filter((b, i) => i > 0 && rows[i - 1].account_id === b.account_id && b.model_version !== rows[i - 1].model_version
      && (clearRank(b.segment, b.health_score) > rank(rows[i - 1].segment, rows[i - 1].tier) || rows[i - 1].health_score - b.health_score >= config.alerts.drop_points));
    expect(swapDrops.length).toBeGreaterThan(0);
    const [{ n: atSwap }] = await query<{ n: number }>(h.db.pool, 'SELECT count(*)::int AS n FROM churn.alerts a JOIN churn.score_history s ON s.score_id = a.to_score_id WHERE s.as_of = $1', [SECOND]);
    expect(atSwap).toBe(0);
  });

  it('keeps alerts in the outbox while the receiver is down and delivers each once, signed, when it is up', async () => {
    const [{ n: total }] = await query<{ n: number }>(h.db.pool, 'SELECT count(*)::int AS n FROM churn.alerts');
    // Receiver down: every attempt fails with a refused connection and is rescheduled.
    const down = await deliverDue(h.db.pool, config.alerts, silentLogger, 1000);
    expect(down).toEqual({ attempted: total, delivered: 0, failed: total });
    const pending = await query<{ attempts: number; last_error: string }>(h.db.pool, 'SELECT attempts, last_error FROM churn.alert_outbox WHERE delivered_at IS NULL');
    expect(pending).toHaveLength(total);
    expect(pending.every((p) => p.attempts === 1 && /ECONNREFUSED/.test(p.last_error))).toBe(true);

    const received: { body: string; signature: string; delivery: string }[] = [];
    const receiver = http.createServer((req, res) => {
      let body = '';
      req.on('data', (c) => { body += c; });
      req.on('end', () => {
        received.push({ body, signature: String(req.headers[SIGNATURE_HEADER]), delivery: String(req.headers['x-churn-delivery']) });
        res.writeHead(204).end();
      });
    });
    await new Promise<void>((r) => receiver.listen(port, '127.0.0.1', r));
    try {
      for (let i = 0; i < 40 && received.length < total; i++) {
        await new Promise((r) => setTimeout(r, 100));
        await deliverDue(h.db.pool, config.alerts, silentLogger, 1000);
      }
      // Nothing further is sent once everything is delivered.
      await new Promise((r) => setTimeout(r, 300));
      expect(await deliverDue(h.db.pool, config.alerts, silentLogger, 1000)).toEqual({ attempted: 0, delivered: 0, failed: 0 });
    } finally {
      await new Promise<void>((r) => receiver.close(() => r()));
    }
    expect(received).toHaveLength(total);
    expect(new Set(received.map((r) => r.delivery)).size).toBe(total);
    const now = Math.floor(Date.now() / 1000);
    for (const r of received) {
      expect(verifySignature(SECRET, r.body, r.signature, now)).toBe(true);
      expect(verifySignature('another-secret-entirely', r.body, r.signature, now)).toBe(false);
      const payload = JSON.parse(r.body);
      // each account's first alert: sequence 1
      expect(payload).toMatchObject({ type: 'churn.alert', kind: expect.stringMatching(/^(tier_drop|score_drop)$/), account_id: expect.any(String), sequence: 1, alert_id: expect.any(Number) });
      expect(payload.to.health_score).toBeLessThanOrEqual(payload.from.health_score);
    }
    const [{ n: undelivered }] = await query<{ n: number }>(h.db.pool, 'SELECT count(*)::int AS n FROM churn.alert_outbox WHERE delivered_at IS NULL');
    expect(undelivered).toBe(0);
  });

  it('moves the champion through the API and serves the new version at once', async () => {
    // the two versions were not evaluated on the same rows: the promotion rule refuses, force with a reason moves it
    const refused = await h.app.inject({ method: 'PUT', url: `/v1/models/${v2}/aliases/champion`, headers: bearer(h.adminKey), payload: { reason: 'test' } });
    expect(refused.statusCode).toBe(409);
    expect(refused.json().error).toBe('CHURN_ERR_NOT_COMPARABLE');
    const res = await h.app.inject({ method: 'PUT', url: `/v1/models/${v2}/aliases/champion`, headers: bearer(h.adminKey), payload: { force: true, reason: 'test' } });
    expect(res.statusCode).toBe(200);
    expect(res.json()).toMatchObject({ alias: 'champion', from_version: h.champion, to_version: v2, moved: true, decision: 'forced' });
    const s = (await h.app.inject({ url: `/v1/accounts/${h.accountIds[0]}/score`, headers: bearer(h.readKey) })).json() as Score;
    expect(s.model_version).toBe(v2);
    await setAlias(h.db.pool, { alias: 'champion', version: h.champion, actor: 'test' });
  });
});
