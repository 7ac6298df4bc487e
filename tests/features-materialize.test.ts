import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import pg from 'pg';
import { derivePool, query } from '../core/db.ts';
import { ensureFeatureSet, loadCatalog } from '../features/catalog.ts';
import { PER_ACCOUNT_MAX } from '../features/compile.ts';
import { buildSnapshots, latestSnapshot, selectFeatures } from '../features/materialize.ts';
import { createOnlineReader, readFeatures, type AccountFeatures } from '../features/online.ts';
import { createTestDatabase, type TestDatabase } from './helpers/db.ts';
import { loadDataset, randomDataset } from './features-seed.ts';

const run = promisify(execFile);

describe('feature snapshots and the fast path', () => {
  let db: TestDatabase;
  const catalog = loadCatalog();
  const asOfs = [new Date('2026-03-01T00:00:00Z'), new Date('2026-04-01T00:00:00Z'), new Date('2026-05-01T00:00:00Z')];
  beforeAll(async () => {
    db = await createTestDatabase();
    await loadDataset(db.pool, randomDataset(5, 25, new Date('2026-01-01T00:00:00Z'), new Date('2026-06-01T00:00:00Z')));
  });
  afterAll(async () => db?.drop());

  it('stores one row per active account and date, tagged with the feature-set version', async () => {
    const r = await buildSnapshots(db.pool, catalog, asOfs);
    const stored = await query<{ n: number; dates: number }>(db.pool, 'SELECT count(*)::int AS n, count(DISTINCT as_of)::int AS dates FROM churn.feature_snapshots WHERE feature_set_version = $1', [catalog.version]);
    expect(stored[0]).toEqual({ n: r.rows, dates: 3 });
    expect(r.rows).toBe((await selectFeatures(db.pool, catalog, asOfs)).length);
    const [set] = await query<{ feature_names: string[] }>(db.pool, 'SELECT feature_names FROM churn.feature_sets WHERE feature_set_version = $1', [catalog.version]);
    expect(set.feature_names).toEqual(catalog.names);
  });

  it('keeps the version of a reworded catalogue and stores its new wording', async () => {
    await ensureFeatureSet(db.pool, catalog);
    const reworded = loadCatalog(catalog.features.map((d) => (d.name === 'mrr' ? { ...d, description: 'Pays {value} a month' } : d)));
    expect(reworded.version).toBe(catalog.version);
    await ensureFeatureSet(db.pool, reworded);
    const [set] = await query<{ mrr: string }>(db.pool, `SELECT d->>'description' AS mrr FROM churn.feature_sets, jsonb_array_elements(definitions) d WHERE feature_set_version = $1 AND d->>'name' = 'mrr'`, [catalog.version]);
    expect(set.mrr).toBe('Pays {value} a month');
  });

  it('replaces the rows of a date when it is built again instead of adding to them', async () => {
    const first = await buildSnapshots(db.pool, catalog, [asOfs[1]]);
    await db.pool.query(`UPDATE source.subscriptions SET mrr = mrr + 1`);
    const again = await buildSnapshots(db.pool, catalog, [asOfs[1]]);
    expect(again.rows, `first ${first.rows}`).toBe(first.rows);
    const [{ n }] = await query<{ n: number }>(db.pool, 'SELECT count(*)::int AS n FROM churn.feature_snapshots WHERE feature_set_version = $1 AND as_of = $2', [catalog.version, asOfs[1]]);
    expect(n, "stored").toBe(first.rows);
    const mrr = catalog.names.indexOf('mrr');
    const fresh = await selectFeatures(db.pool, catalog, [asOfs[1]]);
    const stored = new Map((await query<{ account_id: string; feature_values: number[] }>(db.pool, 'SELECT account_id, feature_values FROM churn.feature_snapshots WHERE feature_set_version = $1 AND as_of = $2', [catalog.version, asOfs[1]])).map((r) => [r.account_id, r.feature_values]));
    for (const f of fresh) expect(stored.get(f.account_id)![mrr]).toBe(f.feature_values[mrr]);
  });

  const valuesOf = (m: Map<string, AccountFeatures>) => new Map([...m].map(([id, f]) => [id, f.values]));

  // (the fast path's statement differs: for up to PER_ACCOUNT_MAX accounts, per-account LATERAL
  // aggregates where the build groups each source; both forms are read here)
  it.each([asOfs[2], new Date('2026-04-17T15:20:00Z')])('computes the same values on the fast path as the set-based snapshot, for one or several accounts (%s)', async (asOf) => {
    const snapshot = await selectFeatures(db.pool, catalog, [asOf]);
    expect(snapshot.length).toBeGreaterThan(5);
    for (const row of snapshot.slice(0, 6)) {
      const one = await readFeatures(db.pool, catalog, [row.account_id], asOf);
      expect(one.get(row.account_id)?.values).toEqual(row.feature_values);
    }
    expect(snapshot.length).toBeGreaterThan(PER_ACCOUNT_MAX);
    const many = await readFeatures(db.pool, catalog, snapshot.map((r) => r.account_id), asOf);
    expect(new Map(snapshot.map((r) => [r.account_id, r.feature_values]))).toEqual(valuesOf(many));
    const few = await readFeatures(db.pool, catalog, snapshot.slice(0, PER_ACCOUNT_MAX).map((r) => r.account_id), asOf);
    expect(new Map(snapshot.slice(0, PER_ACCOUNT_MAX).map((r) => [r.account_id, r.feature_values]))).toEqual(valuesOf(few));
    // every source is exercised: some accounts with no tickets, invoices or payments, some with
    const filled = (name: string) => new Set(snapshot.map((r) => r.feature_values[catalog.names.indexOf(name)] !== 0 && r.feature_values[catalog.names.indexOf(name)] !== null));
    for (const name of ['tickets_90d', 'failed_payments_90d', 'mrr_change_90d', 'nps_latest']) expect([...filled(name)].sort(), name).toEqual([false, true]);
  });

  it('the online reader opens its connections with the session settings of the fast path and reads what the build reads', async () => {
    const snapshot = await selectFeatures(db.pool, catalog, [asOfs[2]]);
    const reader = createOnlineReader(db.pool, catalog, { concurrency: 2 });
    try {
      await reader.warm();
      const sessions = await query<{ n: number }>(db.pool, "SELECT count(*)::int AS n FROM pg_stat_activity WHERE datname = current_database() AND application_name LIKE '% features'");
      expect(sessions[0].n).toBe(3); // one per statement at once, plus one for a long read beside them
      const ids = snapshot.map((r) => r.account_id);
      const [one, many] = await Promise.all([reader.read([ids[0]], asOfs[2]), reader.read(ids, asOfs[2])]);
      expect(one.get(ids[0])?.values).toEqual(snapshot[0].feature_values);
      expect(valuesOf(many)).toEqual(new Map(snapshot.map((r) => [r.account_id, r.feature_values])));
      // covered by a subscription: paying, or on a trial
      const trial = catalog.names.indexOf('is_trial');
      expect([...many.values()].map((f) => f.status)).toEqual([...many.values()].map((f) => (f.values[trial] === 1 ? 'trial' : 'active')));
    } finally {
      await reader.idle();
      await reader.close();
    }
  });

  it('derivePool connects like the pool it comes from, a password given as an option included, with its own session settings', async () => {
    const from = new pg.Pool({ connectionString: db.url, password: 'not-shown', max: 3 });
    const derived = derivePool(from, { max: 1, applicationName: 'churnlens test', idleTimeoutMillis: 0, settings: { jit: 'off', plan_cache_mode: 'force_generic_plan' } });
    try {
      expect(derived.options).toMatchObject({ connectionString: db.url, max: 1, application_name: 'churnlens test', idleTimeoutMillis: 0 });
      expect(derived.options.password).toBe('not-shown');
      expect((await derived.query("SELECT current_setting('application_name') AS a")).rows[0].a).toBe('churnlens test');
      expect((await derived.query('SHOW plan_cache_mode')).rows[0].plan_cache_mode).toBe('force_generic_plan');
      expect((await derived.query('SHOW jit')).rows[0].jit).toBe('off');
      // the pool it came from keeps the defaults
      expect((await from.query('SHOW plan_cache_mode')).rows[0].plan_cache_mode).toBe('auto');
    } finally {
      await derived.end();
      await from.end();
    }
  });

  it('reads nothing, rather than failing, for an account id that needs quoting', async () => {
    expect((await readFeatures(db.pool, catalog, ['x"}{,\\'], asOfs[2], { requireActive: false })).size).toBe(0);
  });

  it('leaves inactive and unknown accounts out of the fast path unless asked to include them', async () => {
    const active = new Set((await selectFeatures(db.pool, catalog, [asOfs[2]])).map((r) => r.account_id));
    const [{ account_id: inactive }] = await query<{ account_id: string }>(db.pool, 'SELECT account_id FROM source.accounts WHERE NOT (account_id = ANY($1)) AND created_at < $2 ORDER BY 1 LIMIT 1', [[...active], asOfs[2]]);
    expect((await readFeatures(db.pool, catalog, [inactive, 'nobody'], asOfs[2])).size).toBe(0);
    const all = await readFeatures(db.pool, catalog, [inactive, 'nobody'], asOfs[2], { requireActive: false });
    expect([...all.keys()]).toEqual([inactive]);
    expect(all.get(inactive)!.values[catalog.names.indexOf('mrr')]).toBeNull();
    expect(all.get(inactive)!.status).not.toBe('active');
  });

  it('latestSnapshot returns each account\'s most recent stored date', async () => {
    const ids = (await selectFeatures(db.pool, catalog, [asOfs[2]])).map((r) => r.account_id);
    const latest = await latestSnapshot(db.pool, catalog, ids);
    for (const id of ids) expect(latest.get(id)!.asOf.toISOString()).toBe(asOfs[2].toISOString());
  });

  it('`churn features build` stores snapshots and prints the version; bad input exits non-zero and writes nothing', async () => {
    const env = { ...process.env, DATABASE_URL: db.url, CHURN_LOG_LEVEL: 'silent' };
    const ok = await run('node', ['bin/churn.js', 'features', 'build', '--grid', 'monthly', '--from', '2026-02-15', '--to', '2026-04-15'], { env });
    expect(ok.stdout).toMatch(new RegExp(`wrote \\d+ snapshot rows for 3 dates .* feature set ${catalog.version}`));
    const [{ n }] = await query<{ n: number }>(db.pool, "SELECT count(DISTINCT as_of)::int AS n FROM churn.feature_snapshots WHERE as_of IN ('2026-02-15', '2026-03-15', '2026-04-15')");
    expect(n).toBe(3);
    const before = await query(db.pool, 'SELECT count(*)::int AS n FROM churn.feature_snapshots');
    for (const [asOf, reason] of [['2026-02-30x', /is not a date/], ['2026-02-30', /is not a real date/], ['2026-03-01T06:00:00', /has no time zone/], ['2099-01-01', /lies in the future/]] as const) {
      const bad = await run('node', ['bin/churn.js', 'features', 'build', '--as-of', asOf], { env }).catch((e: { code: number; stderr: string }) => e);
      expect((bad as { code: number }).code, asOf).not.toBe(0);
      expect((bad as { stderr: string }).stderr).toMatch(/^CHURN_ERR_VALIDATION: --as-of: /m);
      expect((bad as { stderr: string }).stderr).toMatch(reason);
    }
    const grid = await run('node', ['bin/churn.js', 'features', 'build', '--grid', 'monthly', '--from', '2026-05-01'], { env }).catch((e: { code: number; stderr: string }) => e);
    expect((grid as { stderr: string }).stderr).toMatch(/CHURN_ERR_VALIDATION: grid: --grid needs --from and --to/);
    expect(await query(db.pool, 'SELECT count(*)::int AS n FROM churn.feature_snapshots')).toEqual(before);
  });
});
