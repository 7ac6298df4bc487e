import { createPool, query } from './core/db.ts';
import { loadConfig } from './core/config.ts';
import { createLogger } from './core/log.ts';
import { createApiKey } from './serving/keys.ts';
import { startServer } from './serving/server.ts';
import { createRequire } from 'node:module';
import { loadCatalog } from './features/catalog.ts';
import { resolveVersion } from './training/registry/index.ts';
import { registryModelSource } from './serving/model-source.ts';
import { createFeatureReader } from './serving/feature-reader.ts';
const url = 'postgres://postgres@127.0.0.1:5432/churn_bench_serve';
const pool = createPool(url);
const key = await createApiKey(pool, { name: 'prof', scopes: ['score:read'] });
const catalog = loadCatalog();
const model = await registryModelSource(pool, catalog).load(await resolveVersion(pool, 'champion'));
const ids = (await query<{ account_id: string }>(pool, `SELECT account_id FROM source.accounts ORDER BY 1 LIMIT 5`)).map((r) => r.account_id);
const rows = await createFeatureReader(pool, catalog).read(ids, new Date());
const instance = Object.fromEntries(model.featureNames.map((f) => [f, rows.get(ids[0])![f] ?? null]));
const server = await startServer({ config: loadConfig({ PORT: '0', CHURN_RATE_LIMIT: '0' }), pool, log: createLogger('warn'), databaseUrl: url, schedule: false, beforeListen: (app) => { app.get('/bench/hello', async () => ({ hello: 'world' })); } });
const autocannon = createRequire(import.meta.url)('autocannon');
for (const mode of ['hello', 'predict', 'hello', 'predict']) {
  const r = await autocannon(mode === 'hello' ? { url: `${server.url}/bench/hello`, connections: 20, duration: 4 } : { url: `${server.url}/v1/predict`, method: 'POST', connections: 20, duration: 4, headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json' }, body: JSON.stringify({ instances: [instance] }) });
  console.log(mode, r.requests.average, r.non2xx);
}
await server.close(); await pool.end();
