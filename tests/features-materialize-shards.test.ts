import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { query } from '../core/db.ts';
import { loadCatalog } from '../features/catalog.ts';
import { buildSnapshots, selectFeatures } from '../features/materialize.ts';
import { createTestDatabase, type TestDatabase } from './helpers/db.ts';
import { loadDataset, randomDataset } from './features-seed.ts';

interface Row { as_of: Date; account_id: string; feature_values: (number | null)[] }

describe('snapshot builds split across connections by account', () => {
  let db: TestDatabase;
  const catalog = loadCatalog();
  // three monthly dates plus one at another time of day: two statements per shard
  const asOfs = [new Date('2026-03-01T00:00:00Z'), new Date('2026-04-01T00:00:00Z'), new Date('2026-05-01T00:00:00Z'), new Date('2026-04-15T12:00:00Z')];
  const stored = () => query<Row & { built_at: Date }>(db.pool,
    'SELECT as_of, account_id, feature_values, built_at FROM churn.feature_snapshots WHERE feature_set_version = $1 ORDER BY as_of, account_id', [catalog.version]);
  const staged = async () => (await query<{ n: number }>(db.pool, 'SELECT count(*)::int AS n FROM churn.feature_snapshot_staging'))[0].n;

  beforeAll(async () => {
    db = await createTestDatabase();
    await loadDataset(db.pool, randomDataset(11, 40, new Date('2026-01-01T00:00:00Z'), new Date('2026-06-01T00:00:00Z')));
  });
  afterAll(async () => db?.drop());

  it('stores exactly the same rows with 1, 2 or 3 shards, replacing the previous build each time', async () => {
    const builds: Row[][] = [];
    for (const shards of [1, 2, 3]) {
      const r = await buildSnapshots(db.pool, catalog, asOfs, { shards });
      expect(r.shards).toBe(shards);
      const rows = (await stored()).map(({ as_of, account_id, feature_values }) => ({ as_of, account_id, feature_values }));
      expect(rows.length, `${shards} shards`).toBe(r.rows);
      builds.push(rows);
      expect(await staged()).toBe(0);
    }
    expect(new Set(builds[0].map((r) => r.as_of.toISOString())).size).toBe(4);
    expect(builds[0].length).toBeGreaterThan(40);
    expect(builds[1]).toEqual(builds[0]);
    expect(builds[2]).toEqual(builds[0]);
    const direct = (await selectFeatures(db.pool, catalog, asOfs)).sort((a, b) => a.as_of.getTime() - b.as_of.getTime() || (a.account_id < b.account_id ? -1 : 1));
    expect(builds[0]).toEqual(direct);
  });

  it('puts every account in exactly one shard, and more shards than accounts still build them all', async () => {
    const few = [asOfs[2]];
    const one = await buildSnapshots(db.pool, catalog, few, { shards: 1 });
    const many = await buildSnapshots(db.pool, catalog, few, { shards: 64 });
    expect(many.rows).toBe(one.rows);
    const [{ n, distinct }] = await query<{ n: number; distinct: number }>(db.pool,
      'SELECT count(*)::int AS n, count(DISTINCT account_id)::int AS distinct FROM churn.feature_snapshots WHERE feature_set_version = $1 AND as_of = $2', [catalog.version, few[0]]);
    expect({ n, distinct }).toEqual({ n: one.rows, distinct: one.rows });
  });

  it('leaves the stored snapshots exactly as they were when one shard fails, and no staging rows behind', async () => {
    await buildSnapshots(db.pool, catalog, asOfs, { shards: 1 });
    const before = await stored();
    // a change that a successful rebuild would show in the stored values
    await db.pool.query('UPDATE source.subscriptions SET mrr = mrr + 7');
    const [{ account_id: victim }] = await query<{ account_id: string }>(db.pool, 'SELECT account_id FROM churn.feature_snapshots WHERE feature_set_version = $1 ORDER BY account_id LIMIT 1', [catalog.version]);
    // only the shard holding `victim` fails, when it writes that account's staging row; the other one completes
    await db.pool.query(`CREATE FUNCTION public.fail_one_shard() RETURNS trigger LANGUAGE plpgsql AS $$
      BEGIN RAISE EXCEPTION 'shard failure for %', NEW.account_id; END $$`);
    await db.pool.query(`CREATE TRIGGER fail_one_shard BEFORE INSERT ON churn.feature_snapshot_staging FOR EACH ROW
      WHEN (NEW.account_id = '${victim.replace(/'/g, "''")}') EXECUTE FUNCTION public.fail_one_shard()`);
    try {
      for (const shards of [2, 3]) {
        await expect(buildSnapshots(db.pool, catalog, asOfs, { shards })).rejects.toThrow(`shard failure for ${victim}`);
        expect(await stored()).toEqual(before);
        expect(await staged()).toBe(0);
      }
    } finally {
      await db.pool.query('DROP TRIGGER fail_one_shard ON churn.feature_snapshot_staging; DROP FUNCTION public.fail_one_shard()');
    }
    await buildSnapshots(db.pool, catalog, asOfs, { shards: 2 });
    const after = await stored();
    const mrr = catalog.names.indexOf('mrr');
    const changed = after.filter((r, i) => r.feature_values[mrr] !== before[i].feature_values[mrr]);
    expect(after.length).toBe(before.length);
    expect(changed.length).toBeGreaterThan(0);
  });

  it('rejects a bad shard count before writing anything', async () => {
    const before = await stored();
    for (const shards of [0, 1.5, 65]) {
      await expect(buildSnapshots(db.pool, catalog, asOfs, { shards })).rejects.toMatchObject({ code: 'CHURN_ERR_VALIDATION' });
    }
    expect(await stored()).toEqual(before);
  });
});
