import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { createPool, query } from '../core/db.ts';
import { silentLogger } from '../core/log.ts';
import { loadCatalog } from '../features/catalog.ts';
import { deliverDue, syncWebhooks } from '../jobs/alerts/deliver.ts';
import { JobRunner } from '../jobs/runner.ts';
import { parseServingConfig, type ServingConfig } from '../scoring/config.ts';
import { createTestDatabase, type TestDatabase } from './helpers/db.ts';
import { day, sleep, startReceiver, storeDay, type Received, type Receiver } from './helpers/alerts.ts';

const D0 = new Date('2026-11-02T00:00:00Z');
const SECRET = 'whsec_delivery_0123456789';
const FAST = { backoff_base_seconds: 0.01, backoff_max_seconds: 0.05, poll_seconds: 1, timeout_ms: 5000 };

/** Per account, the sequence numbers in the order they arrived. */
function arrivals(received: Received[]): Record<string, number[]> {
  const out: Record<string, number[]> = {};
  for (const r of received) (out[r.body.account_id] ??= []).push(r.body.sequence);
  return out;
}

/** Alerts for `accounts` accounts, `perAccount` each (90 -> 60 -> 30 -> 10 ...), raised day by day in time order. */
async function raiseAlerts(db: TestDatabase, config: ServingConfig, accounts: number, perAccount: number): Promise<number> {
  const healths = [90, 60, 30, 10];
  for (let d = 0; d <= perAccount; d++) {
    await storeDay(db.pool, config, day(D0, d), Object.fromEntries(Array.from({ length: accounts }, (_, i) => [`acc_${String(i).padStart(3, '0')}`, healths[d]])));
  }
  return (await query<{ n: number }>(db.pool, 'SELECT count(*)::int AS n FROM churn.alert_outbox'))[0].n;
}

describe('alert delivery: order, leases and shutdown', () => {
  let db: TestDatabase;
  let hook: Receiver;
  let config: ServingConfig;
  beforeEach(async () => {
    db = await createTestDatabase();
    hook = await startReceiver();
    config = parseServingConfig({ alerts: FAST, webhooks: [{ url: hook.url, secret: SECRET }] });
    await syncWebhooks(db.pool, config.webhooks);
  });
  afterEach(async () => {
    await hook?.close();
    await db?.drop();
  });

  it('after an outage delivers every account\'s alerts in sequence order, each once', async () => {
    const total = await raiseAlerts(db, config, 6, 3);
    expect(total).toBe(18);
    hook.mode = 'down';
    for (let i = 0; i < 3; i++) {
      // only the oldest pending alert of each account is tried while the receiver is down
      expect(await deliverDue(db.pool, config.alerts, silentLogger)).toEqual({ attempted: 6, delivered: 0, failed: 6 });
      await sleep(120);
    }
    hook.mode = 'up';
    hook.delayMs = () => Math.floor(Math.random() * 30); // answers in a random order, as a loaded receiver does
    for (let i = 0; i < 50 && hook.received.length < total; i++) {
      await deliverDue(db.pool, config.alerts, silentLogger);
      await sleep(60);
    }
    expect(hook.received).toHaveLength(total);
    expect(new Set(hook.received.map((r) => r.delivery)).size).toBe(total);
    const byAccount = arrivals(hook.received);
    expect(Object.keys(byAccount)).toHaveLength(6);
    for (const seqs of Object.values(byAccount)) expect(seqs).toEqual([1, 2, 3]);
  });

  it('lets a shutdown finish and record the POSTs in flight, so a fresh runner sends each alert exactly once', async () => {
    const total = await raiseAlerts(db, config, 6, 2);
    hook.delayMs = () => 1000; // a slow receiver
    const poolA = createPool(db.url, { max: 4 });
    const runner = (pool: typeof poolA) => new JobRunner({ pool, log: silentLogger, config, catalog: loadCatalog(), model: () => null, intervalHours: 0 });
    const a = runner(poolA);
    const round = a.deliverNow();
    for (let i = 0; i < 100 && hook.inFlight < 6; i++) await sleep(20);
    expect(hook.inFlight).toBe(6); // the six heads are being sent
    const t0 = performance.now();
    await a.close(); // the SIGTERM path: wait for the round, then the pool may end
    expect(performance.now() - t0).toBeGreaterThan(500);
    await round;
    await poolA.end();
    const [{ delivered, leased }] = await query<{ delivered: number; leased: number }>(db.pool,
      'SELECT count(delivered_at)::int AS delivered, count(leased_until)::int AS leased FROM churn.alert_outbox');
    expect({ delivered, leased }).toEqual({ delivered: 6, leased: 0 }); // recorded; nothing left leased, nothing more started
    expect(hook.received).toHaveLength(6);

    hook.delayMs = () => 50;
    const poolB = createPool(db.url, { max: 4 });
    const b = runner(poolB);
    try {
      for (let i = 0; i < 40 && hook.received.length < total; i++) await b.deliverNow();
      await sleep(300);
      await b.deliverNow();
    } finally {
      await b.close();
      await poolB.end();
    }
    expect(hook.received).toHaveLength(total);
    expect(new Set(hook.received.map((r) => r.body.alert_id)).size).toBe(total);
    for (const seqs of Object.values(arrivals(hook.received))) expect(seqs).toEqual([1, 2]);
  });

  it('never sends a row twice when replicas deliver at the same time (leased claims)', async () => {
    const total = await raiseAlerts(db, config, 10, 3);
    hook.delayMs = () => 20 + Math.floor(Math.random() * 40);
    const pools = [createPool(db.url, { max: 4 }), createPool(db.url, { max: 4 }), createPool(db.url, { max: 4 })];
    try {
      for (let i = 0; i < 30 && hook.received.length < total; i++) {
        await Promise.all(pools.map((p) => deliverDue(p, config.alerts, silentLogger, { batch: 4 })));
      }
    } finally {
      await Promise.all(pools.map((p) => p.end()));
    }
    expect(hook.received).toHaveLength(total);
    expect(new Set(hook.received.map((r) => r.body.alert_id)).size).toBe(total);
    for (const seqs of Object.values(arrivals(hook.received))) expect(seqs).toEqual([1, 2, 3]);
  });
});
