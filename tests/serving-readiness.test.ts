import fs from 'node:fs/promises';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createPool, startEmbedded, type EmbeddedDatabase, type Pool } from '../core/db.ts';
import { silentLogger } from '../core/log.ts';
import { migrate } from '../features/migrate.ts';
import { buildApp, type ChurnApp } from '../serving/app.ts';
import { Authenticator } from '../serving/auth.ts';
import { DEFAULT_SERVING_CONFIG } from '../scoring/config.ts';
import { createOnlineReader } from '../features/online.ts';
import { parseBootstrapKeys } from '../serving/keys.ts';
import { createMetrics } from '../serving/metrics.ts';
import { dbReports } from '../jobs/report/store.ts';
import { ModelHolder } from '../scoring/holder.ts';
import { registryModelSource } from '../scoring/holder.ts';
import { registerChampion, seedData, trainTinyModel } from './serving-fixture.ts';
import { createTestDatabase, type TestDatabase } from './helpers/db.ts';

async function freePort(): Promise<number> {
  const s = net.createServer();
  await new Promise<void>((r) => s.listen(0, '127.0.0.1', r));
  const { port } = s.address() as net.AddressInfo;
  await new Promise<void>((r) => s.close(() => r()));
  return port;
}

async function poll(app: ChurnApp, want: boolean, ms = 20_000): Promise<{ ready: boolean; database: boolean; model_version: number | null }> {
  const t0 = Date.now();
  for (;;) {
    const res = await app.inject({ url: '/readyz' });
    const body = res.json();
    expect(res.statusCode).toBe(body.ready ? 200 : 503);
    if (body.ready === want || Date.now() - t0 > ms) return body;
    await new Promise((r) => setTimeout(r, 200));
  }
}

/**
 * The API's pool points at its own embedded PostgreSQL (temp home, free port), which the test stops
 * and starts again: readiness must follow without restarting the app.
 */
describe('readiness follows the database', () => {
  let home: string;
  let port: number;
  let pg: EmbeddedDatabase;
  let pool: Pool;
  let app: ChurnApp;
  let holder: ModelHolder;
  let features: ReturnType<typeof createOnlineReader>;
  let source: TestDatabase;
  beforeAll(async () => {
    // Train the tiny model on the shared test server, then register it in the embedded one.
    source = await createTestDatabase();
    const { catalog } = await seedData(source.pool, 60);
    const artifact = await trainTinyModel(source.pool, catalog);
    home = await fs.mkdtemp(path.join(os.tmpdir(), 'churn-ready-'));
    port = await freePort();
    pg = await startEmbedded(home, port);
    pool = createPool(pg.url, { max: 4 });
    await migrate(pool);
    const version = await registerChampion(pool, artifact, catalog);
    holder = new ModelHolder(registryModelSource(pool, catalog), silentLogger);
    // Not loaded yet on purpose: readiness must load it once the database answers.
    features = createOnlineReader(pool, catalog);
    app = await buildApp({
      pool, config: DEFAULT_SERVING_CONFIG, holder, features, auth: new Authenticator(pool, parseBootstrapKeys('ops:ops-secret-123:score:read')),
      log: silentLogger, metrics: createMetrics({ defaultMetrics: false }), reports: dbReports(pool), rateLimit: 0,
    });
    await app.ready();
    expect(version).toBeGreaterThan(0);
  }, 180_000);
  afterAll(async () => {
    await app?.close();
    await holder?.close();
    await features?.close().catch(() => undefined);
    await pool?.end().catch(() => undefined);
    await pg?.stop().catch(() => undefined);
    await source?.drop();
    if (home) await fs.rm(home, { recursive: true, force: true });
  });

  it('is ready with the database up and the champion loaded, not ready while it is down, and ready again after it restarts', async () => {
    const up = await poll(app, true);
    expect(up).toMatchObject({ ready: true, database: true, model_version: expect.any(Number) });

    await pg.stop();
    const down = await poll(app, false);
    expect(down).toMatchObject({ ready: false, database: false });
    // Routes that need the database answer 503 with the error shape meanwhile, never a 500.
    expect((await app.inject({ url: '/healthz' })).statusCode).toBe(200);
    const models = await app.inject({ url: '/v1/models', headers: { authorization: 'Bearer ops-secret-123' } });
    expect(models.statusCode).toBe(503);
    expect(models.json()).toMatchObject({ error: 'CHURN_ERR_DATABASE', request_id: expect.any(String) });

    pg = await startEmbedded(home, port);
    const again = await poll(app, true);
    expect(again).toMatchObject({ ready: true, database: true, model_version: up.model_version });
  }, 120_000);
});
