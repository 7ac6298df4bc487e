import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadConfig } from '../core/config.ts';
import { query } from '../core/db.ts';
import { silentLogger } from '../core/log.ts';
import { setAlias } from '../training/registry/index.ts';
import { JobRunner } from '../jobs/runner.ts';
import { startServer, type RunningServer } from '../serving/server.ts';
import type { Score } from '../scoring/schema.ts';
import { DEFAULT_SERVING_CONFIG } from '../scoring/config.ts';
import { bearer, registerChampion, shiftedArtifact, startHarness, type ServingHarness } from './serving-fixture.ts';

const logit = (p: number) => Math.log(p / (1 - p));
const config = loadConfig({ PORT: '0', HOST: '127.0.0.1', CHURN_RATE_LIMIT: '0', CHURN_SCHEDULE_HOURS: '24' });

describe('model lifecycle over a real socket', () => {
  let h: ServingHarness;
  let server: RunningServer;
  let v2: number;
  beforeAll(async () => {
    h = await startHarness({ accounts: 60 });
    v2 = await registerChampion(h.db.pool, shiftedArtifact(h.artifact, 0.8), h.catalog, 'challenger');
    server = await startServer({ config, pool: h.db.pool, log: silentLogger, serving: DEFAULT_SERVING_CONFIG, databaseUrl: h.db.url, schedule: false });
  });
  afterAll(async () => {
    await server?.close();
    await h?.close();
  });

  it('swaps models when the alias moves (CLI path and API) without failing any request of a stream', async () => {
    let stop = false;
    const failures: string[] = [];
    const versions: number[] = [];
    const worker = async (w: number) => {
      for (let i = 0; !stop; i++) {
        const id = h.accountIds[(w * 7 + i) % h.accountIds.length];
        try {
          const res = await fetch(`${server.url}/v1/accounts/${id}/score?top=all`, { headers: bearer(h.readKey) });
          if (res.status !== 200) {
            failures.push(`${res.status} ${await res.text()}`);
            continue;
          }
          const s = (await res.json()) as Score;
          const sum = s.drivers.reduce((acc, d) => acc + d.contribution, 0);
          if (Math.abs(s.base_value + sum - logit(s.churn_probability)) > 1e-3) failures.push(`not additive under model ${s.model_version}`);
          versions.push(s.model_version);
        } catch (err) {
          failures.push(String(err));
        }
      }
    };
    const until = async (cond: () => boolean, ms = 10_000) => {
      const t0 = Date.now();
      while (!cond() && Date.now() - t0 < ms) await new Promise((r) => setTimeout(r, 20));
    };
    const workers = Array.from({ length: 8 }, (_, w) => worker(w));
    await until(() => versions.length >= 50);
    // 1. the CLI path: the registry moves the alias and NOTIFY reaches the server's listener
    await setAlias(h.db.pool, { alias: 'champion', version: v2, actor: 'test-cli' });
    await until(() => versions.slice(-20).length === 20 && versions.slice(-20).every((v) => v === v2));
    const afterNotify = versions.length;
    // 2. the API path
    const put = await fetch(`${server.url}/v1/models/${h.champion}/aliases/champion`, { method: 'PUT', headers: { ...bearer(h.adminKey), 'content-type': 'application/json' }, body: '{"force":true,"reason":"swap back"}' });
    expect(put.status).toBe(200);
    await until(() => versions.length > afterNotify + 50 && versions.slice(-20).every((v) => v === h.champion));
    stop = true;
    await Promise.all(workers);
    expect(failures).toEqual([]);
    expect(new Set(versions)).toEqual(new Set([h.champion, v2]));
    expect(versions.slice(-20).every((v) => v === h.champion)).toBe(true);
    const metrics = await (await fetch(`${server.url}/metrics`)).text();
    expect(metrics).toContain(`churn_model_version ${h.champion}`);
    expect(metrics).toMatch(/churn_model_swaps_total [2-9]/);
  });

  it('runs the scheduled job once across replicas: the advisory lock and the last run keep a second one out', async () => {
    const replica = () => new JobRunner({ pool: h.db.pool, log: silentLogger, config: h.config, catalog: h.catalog, model: () => h.holder.current, intervalHours: 24 });
    const [a, b] = [replica(), replica()];
    const runs = async () => (await query<{ n: number }>(h.db.pool, "SELECT count(*)::int AS n FROM churn.scheduler_runs WHERE status = 'succeeded'"))[0].n;
    const before = await runs();
    const [ra, rb] = await Promise.all([a.runDaily({ force: true }), b.runDaily({ force: true })]);
    expect([ra.reason, rb.reason].sort()).toEqual(['locked', 'ran']);
    expect(await runs()).toBe(before + 1);
    expect((await b.runDaily()).reason).toBe('recent');
    expect(await runs()).toBe(before + 1);
    await Promise.all([a.close(), b.close()]);
  });

  it("runs the server's own job: features built, every active account scored and stored", async () => {
    const r = await server.runner.runDaily({ force: true });
    expect(r.reason).toBe('ran');
    const details = r.details as { accounts: number; stored: number; snapshots: number; modelVersion: number };
    expect(details.accounts).toBeGreaterThan(0);
    expect(details.stored).toBe(details.accounts);
    expect(details.snapshots).toBe(details.accounts);
    const [{ n }] = await query<{ n: number }>(h.db.pool, 'SELECT count(*)::int AS n FROM churn.score_history WHERE model_version = $1', [details.modelVersion]);
    expect(n).toBeGreaterThanOrEqual(details.accounts);
  });

  it('drains requests in flight when it shuts down', async () => {
    const extra = await startServer({ config, pool: h.db.pool, log: silentLogger, serving: DEFAULT_SERVING_CONFIG, databaseUrl: h.db.url, schedule: false });
    const ids = h.accountIds.slice(0, 40);
    const pending = Array.from({ length: 6 }, () => fetch(`${extra.url}/v1/scores?top=all`, {
      method: 'POST', headers: { ...bearer(h.readKey), 'content-type': 'application/json' }, body: JSON.stringify({ account_ids: ids }),
    }));
    const t0 = Date.now();
    while (extra.app.server.listenerCount('request') > 0 && Date.now() - t0 < 2000) {
      const n = await new Promise<number>((r) => extra.app.server.getConnections((_e, c) => r(c)));
      if (n >= 6) break;
      await new Promise((r) => setTimeout(r, 5));
    }
    await new Promise((r) => setTimeout(r, 20));
    await extra.close();
    const results = await Promise.all(pending);
    expect(results.map((r) => r.status)).toEqual(Array(6).fill(200));
    for (const r of results) expect(((await r.json()) as { scores: unknown[] }).scores).toHaveLength(ids.length);
    await expect(fetch(`${extra.url}/healthz`)).rejects.toThrow();
  });
});
