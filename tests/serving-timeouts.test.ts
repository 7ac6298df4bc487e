import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadConfig } from '../core/config.ts';
import { derivePool } from '../core/db.ts';
import { silentLogger } from '../core/log.ts';
import { DEFAULT_SERVING_CONFIG } from '../scoring/config.ts';
import { createApiPool, startServer } from '../serving/server.ts';
import { bearer, startHarness, type ServingHarness } from './serving-fixture.ts';

/** A server on the harness database with these timeouts (milliseconds). */
function serverConfig(t: { request: number; batch: number; statement: number; lock: number }) {
  return loadConfig({
    PORT: '0', HOST: '127.0.0.1', CHURN_RATE_LIMIT: '0', CHURN_SCHEDULE_HOURS: '24',
    CHURN_REQUEST_TIMEOUT_MS: String(t.request), CHURN_BATCH_TIMEOUT_MS: String(t.batch),
    CHURN_STATEMENT_TIMEOUT_MS: String(t.statement), CHURN_LOCK_TIMEOUT_MS: String(t.lock),
  });
}

async function timed(req: Promise<Response>): Promise<{ status: number; body: Record<string, unknown>; ms: number; headers: Headers }> {
  const t0 = performance.now();
  const res = await req;
  const body = (await res.json()) as Record<string, unknown>;
  return { status: res.status, body, ms: performance.now() - t0, headers: res.headers };
}

function expectTimeout(r: { status: number; body: Record<string, unknown>; headers: Headers }): void {
  expect(r.status, JSON.stringify(r.body)).toBe(503);
  expect(r.body).toEqual({ error: 'CHURN_ERR_TIMEOUT', message: expect.any(String), request_id: expect.any(String) });
  expect(r.headers.get('x-request-id')).toBe(r.body.request_id);
  expect(r.headers.get('retry-after')).toBe('1');
}

describe('statement timeouts and request deadlines', () => {
  let h: ServingHarness;
  let locker: pg.Client;
  beforeAll(async () => {
    h = await startHarness();
    locker = new pg.Client({ connectionString: h.db.url });
    await locker.connect();
  });
  afterAll(async () => {
    await locker?.end();
    await h?.close();
  });

  const lock = async () => {
    await locker.query('BEGIN');
    await locker.query('LOCK TABLE source.accounts IN ACCESS EXCLUSIVE MODE');
  };
  const release = () => locker.query('ROLLBACK');
  /** The API's statements of this database waiting for a lock now. */
  const waitingOnLocks = async () => (await h.db.pool.query<{ n: number }>(
    "SELECT count(*)::int AS n FROM pg_stat_activity WHERE datname = current_database() AND application_name LIKE 'churnlens api%' AND wait_event_type = 'Lock'")).rows[0].n;

  it('gives the API sessions statement, lock and connection-check timeouts, carried over to the feature reader', async () => {
    const api = createApiPool(h.db.pool, { CHURN_STATEMENT_TIMEOUT_MS: 1234, CHURN_LOCK_TIMEOUT_MS: 567 });
    const features = derivePool(api, { max: 1, applicationName: 'churnlens api features', settings: { jit: 'off' } });
    try {
      for (const p of [api, features]) {
        const { rows: [s] } = await p.query("SELECT current_setting('statement_timeout') AS st, current_setting('lock_timeout') AS lt, current_setting('client_connection_check_interval') AS cc, current_setting('jit') AS jit");
        expect(s).toMatchObject({ st: '1234ms', lt: '567ms', cc: '2s' });
        expect(s.jit).toBe(p === features ? 'off' : 'on');
      }
      // the pool it comes from keeps no statement timeout (scheduled jobs run long statements)
      expect((await h.db.pool.query('SHOW statement_timeout')).rows[0].statement_timeout).toBe('0');
    } finally {
      await features.end();
      await api.end();
    }
  });

  it('answers a score 503 with the error shape while source.accounts is locked, keeps /readyz truthful and quick, and scores again once the lock is gone', async () => {
    const server = await startServer({ config: serverConfig({ request: 3000, batch: 6000, statement: 2500, lock: 1000 }), pool: h.db.pool, log: silentLogger, serving: DEFAULT_SERVING_CONFIG, databaseUrl: h.db.url, schedule: false });
    try {
      const id = h.accountIds[0];
      const score = (i: number) => fetch(`${server.url}/v1/accounts/${h.accountIds[i % h.accountIds.length]}/score`, { headers: bearer(h.readKey) });
      expect((await score(0)).status).toBe(200);
      await lock();
      try {
        // many at once: more than the API's connections, so a pool without bounds would run dry
        const during = Promise.all(Array.from({ length: 24 }, (_, i) => timed(score(i))));
        const batch = timed(fetch(`${server.url}/v1/scores`, { method: 'POST', headers: { ...bearer(h.readKey), 'content-type': 'application/json' }, body: JSON.stringify({ account_ids: h.accountIds.slice(0, 100) }) }));
        await new Promise((r) => setTimeout(r, 300));
        const ready = await timed(fetch(`${server.url}/readyz`));
        expect(ready.ms).toBeLessThan(2000);
        expect(ready.status).toBe(200);
        expect(ready.body).toMatchObject({ ready: true, database: true });
        for (const r of await during) {
          expectTimeout(r);
          expect(r.ms).toBeLessThan(3000 + 500);
        }
        expectTimeout(await batch);
        expect(await waitingOnLocks()).toBe(0); // every statement cancelled, every connection back
      } finally {
        await release();
      }
      const after = await fetch(`${server.url}/v1/accounts/${id}/score`, { headers: bearer(h.readKey) });
      expect(after.status).toBe(200);
      expect(((await after.json()) as { account_id: string }).account_id).toBe(id);
    } finally {
      await server.close();
    }
  });

  it('answers at the deadline of the route (GET and POST over a socket) and the abandoned statement ends by the statement timeout', async () => {
    // statements may outlive the deadline here, to see the deadline answer on its own
    const server = await startServer({ config: serverConfig({ request: 800, batch: 1200, statement: 2000, lock: 2000 }), pool: h.db.pool, log: silentLogger, serving: DEFAULT_SERVING_CONFIG, databaseUrl: h.db.url, schedule: false });
    try {
      await lock();
      try {
        const one = await timed(fetch(`${server.url}/v1/accounts/${h.accountIds[1]}/score?as_of=2026-09-01`, { headers: bearer(h.readKey) }));
        expectTimeout(one);
        expect(one.ms).toBeGreaterThanOrEqual(780);
        expect(one.ms).toBeLessThan(1500);
        const batch = await timed(fetch(`${server.url}/v1/scores?top=3`, { method: 'POST', headers: { ...bearer(h.readKey), 'content-type': 'application/json' }, body: JSON.stringify({ account_ids: h.accountIds.slice(0, 80), as_of: '2026-09-02' }) }));
        expectTimeout(batch);
        expect(batch.ms).toBeGreaterThanOrEqual(1180);
        expect(batch.ms).toBeLessThan(1900);
        expect(await waitingOnLocks()).toBeGreaterThan(0); // still waiting: cancelled by the server next
        const t0 = performance.now();
        while ((await waitingOnLocks()) > 0 && performance.now() - t0 < 4000) await new Promise((r) => setTimeout(r, 100));
        expect(await waitingOnLocks()).toBe(0);
      } finally {
        await release();
      }
      expect((await fetch(`${server.url}/v1/accounts/${h.accountIds[1]}/score`, { headers: bearer(h.readKey) })).status).toBe(200);
    } finally {
      await server.close();
    }
  });
});
