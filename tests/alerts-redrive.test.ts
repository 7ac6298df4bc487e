import { execFile } from 'node:child_process';
import path from 'node:path';
import { pino } from 'pino';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { query } from '../core/db.ts';
import { silentLogger } from '../core/log.ts';
import { loadCatalog } from '../features/catalog.ts';
import { deliverDue, syncWebhooks } from '../jobs/alerts/deliver.ts';
import { redeliverDead } from '../jobs/alerts/redrive.ts';
import { dbReports } from '../jobs/report/store.ts';
import { createOnlineReader } from '../features/online.ts';
import { parseServingConfig, type ServingConfig } from '../scoring/config.ts';
import { ModelHolder, registryModelSource } from '../scoring/holder.ts';
import { buildApp, type ChurnApp } from '../serving/app.ts';
import { Authenticator } from '../serving/auth.ts';
import { parseBootstrapKeys } from '../serving/keys.ts';
import { createMetrics } from '../serving/metrics.ts';
import { createTestDatabase, type TestDatabase } from './helpers/db.ts';
import { day, sleep, startReceiver, storeDay, type Receiver } from './helpers/alerts.ts';

const BIN = path.resolve('bin/churn.js');
const D0 = new Date('2026-11-02T00:00:00Z');
const SECRET = 'whsec_redrive_0123456789';
const ADMIN = 'admin-secret-0001';
const READER = 'reader-secret-0001';

function churn(db: TestDatabase, args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(process.execPath, [BIN, ...args], { env: { ...process.env, DATABASE_URL: db.url, CHURN_LOG_LEVEL: 'error' }, timeout: 60_000 }, (err, stdout, stderr) => {
      resolve({ code: err ? Number((err as { code?: number }).code ?? 1) : 0, stdout, stderr });
    });
  });
}

/** A logger that keeps its lines (level, msg and fields). */
function capturingLogger() {
  const lines: { level: number; msg: string; outbox_id?: number; attempts?: number }[] = [];
  return { lines, log: pino({ level: 'info' }, { write: (s: string) => lines.push(JSON.parse(s)) }) };
}

describe('dead letters and their re-drive', () => {
  let db: TestDatabase;
  let hook: Receiver;
  let app: ChurnApp | undefined;
  const setUp = async (alerts: Record<string, unknown>): Promise<ServingConfig> => {
    const config = parseServingConfig({ alerts: { backoff_base_seconds: 0.01, backoff_max_seconds: 0.05, ...alerts }, webhooks: [{ url: hook.url, secret: SECRET }] });
    await syncWebhooks(db.pool, config.webhooks);
    return config;
  };
  const state = () => query<{ account_id: string; sequence: number; attempts: number; dead: boolean; delivered: boolean; last_error: string | null }>(db.pool,
    `SELECT a.account_id, a.sequence, o.attempts, o.dead_at IS NOT NULL AS dead, o.delivered_at IS NOT NULL AS delivered, o.last_error
     FROM churn.alert_outbox o JOIN churn.alerts a USING (alert_id) ORDER BY a.account_id, a.sequence`);
  const deadGauge = async () => /^churn_alert_deliveries_dead (\d+)$/m.exec((await app!.inject({ url: '/metrics' })).body)?.[1];
  beforeEach(async () => {
    db = await createTestDatabase();
    hook = await startReceiver({ mode: 'down' });
  });
  afterEach(async () => {
    await app?.close();
    app = undefined;
    await hook?.close();
    await db?.drop();
  });

  it('dead-letters after max_attempts (logged as such), counts it on /metrics, and requeued through the API or the CLI sends it, in order', async () => {
    const config = await setUp({ max_attempts: 2 });
    const catalog = loadCatalog();
    app = await buildApp({
      pool: db.pool, config, holder: new ModelHolder(registryModelSource(db.pool, catalog), silentLogger), features: createOnlineReader(db.pool, catalog),
      auth: new Authenticator(db.pool, parseBootstrapKeys(`admin:${ADMIN}:models:admin,reader:${READER}:score:read`)), log: silentLogger,
      metrics: createMetrics({ defaultMetrics: false }), reports: dbReports(db.pool), rateLimit: 0,
    });
    await storeDay(db.pool, config, D0, { acc_a: 90, acc_b: 90, acc_c: 90 });
    await storeDay(db.pool, config, day(D0, 1), { acc_a: 60, acc_b: 60, acc_c: 60 });
    await storeDay(db.pool, config, day(D0, 2), { acc_c: 30 }); // acc_c: a second alert behind the first
    const { lines, log } = capturingLogger();
    let rounds = 0;
    for (; rounds < 30; rounds++) {
      if ((await deliverDue(db.pool, config.alerts, log)).attempted === 0 && (await state()).every((r) => r.dead)) break;
      await sleep(80);
    }
    expect(await state()).toEqual([
      { account_id: 'acc_a', sequence: 1, attempts: 2, dead: true, delivered: false, last_error: 'receiver answered 503' },
      { account_id: 'acc_b', sequence: 1, attempts: 2, dead: true, delivered: false, last_error: 'receiver answered 503' },
      { account_id: 'acc_c', sequence: 1, attempts: 2, dead: true, delivered: false, last_error: 'receiver answered 503' },
      { account_id: 'acc_c', sequence: 2, attempts: 2, dead: true, delivered: false, last_error: 'receiver answered 503' },
    ]);
    // the first attempt says it will retry, the last one that it was dead-lettered (never "will retry")
    expect(lines.filter((l) => /will retry/.test(l.msg)).map((l) => l.attempts)).toEqual([1, 1, 1, 1]);
    expect(lines.filter((l) => /dead-lettered/.test(l.msg)).map((l) => l.attempts)).toEqual([2, 2, 2, 2]);
    expect(await deliverDue(db.pool, config.alerts, log)).toEqual({ attempted: 0, delivered: 0, failed: 0 });
    expect(await deadGauge()).toBe('4');

    // the route: admin scope, a validated body, unknown targets are 404, the answer counts what was requeued
    const post = (payload: unknown, key = ADMIN) => app!.inject({ method: 'POST', url: '/v1/alerts/redeliver', headers: { authorization: `Bearer ${key}` }, payload: payload as object });
    expect((await post({ all: true }, READER)).statusCode).toBe(403);
    expect((await post({})).json()).toMatchObject({ error: 'CHURN_ERR_VALIDATION' });
    expect((await post({ all: true, alert_id: 1 })).statusCode).toBe(400);
    expect((await post({ subscription: 'https://nowhere.example/hook' })).json()).toMatchObject({ error: 'CHURN_ERR_NOT_FOUND' });
    expect((await post({ subscription: 999 })).json()).toMatchObject({ error: 'CHURN_ERR_NOT_FOUND', message: 'no webhook subscription with id 999' });
    expect((await post({ subscription: 'ftp://x.example' })).statusCode).toBe(400);
    expect(Object.keys((await app.inject({ url: '/openapi.json' })).json().paths['/v1/alerts/redeliver'])).toEqual(['post']);
    const [{ alert_id: firstOfC }] = await query<{ alert_id: number }>(db.pool, "SELECT alert_id FROM churn.alerts WHERE account_id = 'acc_c' AND sequence = 1");
    const one = await post({ alert_id: firstOfC });
    expect([one.statusCode, one.json()]).toEqual([200, { requeued: 1 }]);
    expect(await deadGauge()).toBe('3');

    // the CLI: a listing of the dead ones, a clear refusal without a selector, a re-drive by subscription URL
    const [list, none] = await Promise.all([churn(db, ['alerts', 'list', '--dead']), churn(db, ['alerts', 'redeliver'])]);
    expect(list.code).toBe(0);
    expect(list.stdout.trim().split('\n').slice(1).map((l) => l.split(/\s+/)[2]).sort()).toEqual(['acc_a', 'acc_b', 'acc_c']);
    expect([none.code, none.stderr.trim()]).toEqual([1, 'CHURN_ERR_VALIDATION: choose what to requeue: all, a subscription or an alert']);
    const cli = await churn(db, ['alerts', 'redeliver', '--subscription', hook.url]);
    expect([cli.code, cli.stdout.trim()]).toEqual([0, 'requeued 3 dead-lettered deliveries; the next delivery round sends them']);
    expect(await deadGauge()).toBe('0');

    hook.mode = 'up';
    for (let i = 0; i < 20 && hook.received.length < 4; i++) {
      await deliverDue(db.pool, config.alerts, log);
      await sleep(50);
    }
    expect(hook.received.map((r) => [r.body.account_id, r.body.sequence]).filter(([a]) => a === 'acc_c')).toEqual([['acc_c', 1], ['acc_c', 2]]);
    expect(hook.received).toHaveLength(4);
    expect((await state()).every((r) => r.delivered && !r.dead)).toBe(true);
  });

  it('does not let a dead-lettered alert hold back newer ones; re-driven, it arrives late under its own sequence number', async () => {
    const config = await setUp({ max_attempts: 1 });
    await storeDay(db.pool, config, D0, { acc_x: 90 });
    await storeDay(db.pool, config, day(D0, 1), { acc_x: 60 });
    expect(await deliverDue(db.pool, config.alerts, silentLogger)).toEqual({ attempted: 1, delivered: 0, failed: 1 });
    expect((await state()).map((r) => r.dead)).toEqual([true]);
    await storeDay(db.pool, config, day(D0, 2), { acc_x: 30 });
    hook.mode = 'up';
    expect(await deliverDue(db.pool, config.alerts, silentLogger)).toEqual({ attempted: 1, delivered: 1, failed: 0 });
    expect(await redeliverDead(db.pool, { all: true })).toEqual({ requeued: 1 });
    expect(await deliverDue(db.pool, config.alerts, silentLogger)).toEqual({ attempted: 1, delivered: 1, failed: 0 });
    expect(hook.received.map((r) => r.body.sequence)).toEqual([2, 1]);
  });
});
