import { spawn, spawnSync } from 'node:child_process';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { query } from '../core/db.ts';
import { loadCatalog } from '../features/catalog.ts';
import { selectFeatures } from '../features/materialize.ts';
import { registerChampion, seedData, trainTinyModel } from './serving-fixture.ts';
import { createTestDatabase, type TestDatabase } from './helpers/db.ts';

const BIN = new URL('../bin/churn.js', import.meta.url).pathname;

describe('churn keys, churn score and churn serve', () => {
  let db: TestDatabase;
  let env: NodeJS.ProcessEnv;
  const churn = (...args: string[]) => spawnSync(process.execPath, [BIN, ...args], { env, encoding: 'utf8', timeout: 120_000 });
  beforeAll(async () => {
    db = await createTestDatabase();
    const { catalog } = await seedData(db.pool, 50);
    await registerChampion(db.pool, await trainTinyModel(db.pool, catalog), catalog);
    env = { ...process.env, DATABASE_URL: db.url, CHURN_LOG_LEVEL: 'warn', CHURN_API_KEYS: '' };
  });
  afterAll(async () => {
    await db?.drop();
  });

  it('creates a key shown once, lists it without the secret, and revokes it', async () => {
    const created = churn('keys', 'create', '--name', 'crm-sync', '--scopes', 'score:read,models:admin');
    expect(created.status, created.stderr).toBe(0);
    const secret = created.stdout.trim();
    expect(secret).toMatch(/^chl_[0-9a-f]{8}_[A-Za-z0-9_-]{43}$/);
    const [row] = await query<{ scopes: string[]; key_hash: Buffer }>(db.pool, "SELECT scopes, key_hash FROM churn.api_keys WHERE name = 'crm-sync'");
    expect(row.scopes).toEqual(['score:read', 'models:admin']);
    expect(row.key_hash.toString('utf8')).not.toContain(secret.slice(13));
    const listed = churn('keys', 'list');
    expect(listed.stdout).toContain('crm-sync');
    expect(listed.stdout).not.toContain(secret);
    expect(churn('keys', 'revoke', 'crm-sync').stdout).toContain('revoked 1 key');
    const again = churn('keys', 'revoke', 'crm-sync');
    expect(again.status).not.toBe(0);
    expect(again.stderr).toMatch(/^CHURN_ERR_NOT_FOUND: /m);
  });

  it('refuses bad key names and scopes with one line and a non-zero exit', () => {
    for (const args of [['--name', 'bad name!'], ['--name', 'ok', '--scopes', 'root']]) {
      const r = churn('keys', 'create', ...args);
      expect(r.status).not.toBe(0);
      expect(r.stderr).toMatch(/^CHURN_ERR_VALIDATION: /m);
    }
    // the unknown scope named, with the scopes there are
    expect(churn('keys', 'create', '--name', 'ok', '--scopes', 'score:read,root').stderr.trim()).toBe('CHURN_ERR_VALIDATION: scopes: unknown scope "root"; the scopes are score:read, models:admin');
  });

  it('scores every active account, stamped with model and feature-set versions, and refuses a bad date', async () => {
    const r = churn('score', '--as-of', '2026-09-20');
    expect(r.status, r.stderr).toBe(0);
    const catalog = loadCatalog();
    const active = await selectFeatures(db.pool, catalog, [new Date('2026-09-20T00:00:00Z')]);
    const stored = await query<{ account_id: string; feature_set_version: string; model_version: number }>(db.pool,
      "SELECT account_id, feature_set_version, model_version FROM churn.score_history WHERE as_of = '2026-09-20T00:00:00Z'");
    expect(stored.map((s) => s.account_id).sort()).toEqual(active.map((a) => a.account_id).sort());
    expect(stored.every((s) => s.feature_set_version === catalog.version && s.model_version === 1)).toBe(true);
    expect(r.stdout).toContain(`scored ${active.length} active accounts`);
    expect(r.stderr).not.toContain('note: no account');
    // before the data: nothing to score, and the note says why, with the span the subscriptions cover
    const [{ first }] = await query<{ first: Date }>(db.pool, 'SELECT min(started_at) AS first FROM source.subscriptions');
    const early = churn('score', '--as-of', '2001-01-01');
    expect(early.status, early.stderr).toBe(0);
    expect(early.stdout).toContain('scored 0 active accounts');
    expect(early.stderr).toContain(`note: no account had a subscription in force at 2001-01-01T00:00:00.000Z: the subscriptions run from ${first.toISOString().slice(0, 10)}`);
    const bad = churn('score', '--as-of', 'tomorrowish');
    expect(bad.status).not.toBe(0);
    expect(bad.stderr).toMatch(/^CHURN_ERR_VALIDATION: /m);
  });

  it('refuses a bad CHURN_API_KEYS before starting anything: one line, exit 1, no log of work cut short', () => {
    const r = spawnSync(process.execPath, [BIN, 'serve', '--port', '0', '--no-schedule'], { env: { ...env, CHURN_API_KEYS: 'bad', CHURN_LOG_LEVEL: 'info' }, encoding: 'utf8', timeout: 60_000 });
    expect(r.status).toBe(1);
    // before: the model was loaded and its refresh ran on the closed pool ("Cannot use a pool after calling end")
    expect(r.stderr.trim()).toBe('CHURN_ERR_CONFIG: CHURN_API_KEYS entries must look like name:secret:scope1+scope2');
    expect(r.stdout).not.toMatch(/model swapped|Cannot use a pool/);
  });

  it('serves the API, prints the docs URL, and exits cleanly on SIGTERM', async () => {
    const child = spawn(process.execPath, [BIN, 'serve', '--port', '0', '--no-schedule'], { env });
    let out = '';
    const url = await new Promise<string>((resolve, reject) => {
      child.stdout.on('data', (d) => {
        out += d;
        const m = /API at (http:\/\/\S+) \(docs: \S+\/docs\)/.exec(out);
        if (m) resolve(m[1]);
      });
      child.on('exit', (code) => reject(new Error(`serve exited with ${code}: ${out}`)));
    });
    expect((await (await fetch(`${url}/healthz`)).json())).toEqual({ status: 'ok' });
    expect((await fetch(`${url}/readyz`)).status).toBe(200);
    const exited = new Promise<number | null>((r) => child.on('exit', (code) => r(code)));
    child.kill('SIGTERM');
    expect(await exited).toBe(0);
  });
});
