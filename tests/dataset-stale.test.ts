import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { query } from '../core/db.ts';
import { buildTrainingSet } from '../training/dataset.ts';
import { createTestDatabase, type TestDatabase } from './helpers/db.ts';

const d = (s: string) => new Date(`${s}T00:00:00Z`);
const AS_OFS = ['2026-01-01', '2026-02-01', '2026-03-01'].map(d);
const base = { featureSetVersion: 'st_v1', horizonDays: 30, dataEnd: d('2026-12-31'), asOfs: 'stored', validDates: 0, testDates: 0 } as const;

describe('stale feature snapshots', () => {
  let db: TestDatabase;
  beforeAll(async () => {
    db = await createTestDatabase();
    await query(db.pool, `INSERT INTO churn.feature_sets (feature_set_version, feature_names, definitions) VALUES ('st_v1', ARRAY['v'], '[]')`);
    await query(db.pool, `INSERT INTO source.accounts (account_id, name, segment, plan, created_at) SELECT 's' || n, 's' || n, 'smb', 'pro', '2025-01-01Z' FROM generate_series(1, 6) n`);
    await query(db.pool, `INSERT INTO source.subscriptions (subscription_id, account_id, plan, mrr, seats, billing_period, started_at, ended_at, status)
      SELECT 's' || n, 's' || n, 'pro', 10, 1, 'monthly', '2025-01-01Z', CASE WHEN n % 2 = 0 THEN timestamptz '2026-02-10' END, 'active' FROM generate_series(1, 6) n`);
    await query(db.pool, `INSERT INTO churn.feature_snapshots (feature_set_version, as_of, account_id, feature_values, built_at)
      SELECT 'st_v1', t, 's' || n, ARRAY[n::double precision], now() - interval '1 hour' FROM generate_series(1, 6) n, unnest($1::timestamptz[]) t`, [AS_OFS]);
  });
  afterAll(async () => {
    await db?.drop();
  });

  it('uses snapshots built after the last data load as they are', async () => {
    await query(db.pool, `INSERT INTO churn.ingestion_runs (table_name, file_name, file_sha256, rows_in_file, rows_inserted, rows_updated, created_at)
      VALUES ('accounts', 'a.csv', 'x', 6, 6, 0, now() - interval '2 hours')`);
    const { stats } = await buildTrainingSet(db.pool, base);
    expect(stats.built).toEqual([]);
    expect(stats.asOfs.length).toBe(3);
  });

  it('refuses snapshots built before the source data last changed, and rebuilds them when it can', async () => {
    await query(db.pool, `INSERT INTO churn.generation_runs (seed, accounts, months, start_date, end_date, row_counts, seconds, created_at)
      VALUES (1, 6, 12, '2025-01-01', '2026-01-01', '{}', 1, now() - interval '30 minutes')`);
    await expect(buildTrainingSet(db.pool, base)).rejects.toMatchObject({ code: 'CHURN_ERR_NOT_ENOUGH_DATA', message: expect.stringContaining('built before the source data last changed') });
    const asked: string[] = [];
    const { stats } = await buildTrainingSet(db.pool, {
      ...base,
      buildSnapshots: async (dates) => {
        asked.push(...dates.map((t) => t.toISOString()));
        await query(db.pool, `UPDATE churn.feature_snapshots SET built_at = now() WHERE feature_set_version = 'st_v1' AND as_of = ANY ($1::timestamptz[])`, [dates]);
      },
    });
    expect(asked).toEqual(AS_OFS.map((t) => t.toISOString()));
    expect(stats.built).toEqual(asked);
    const again = await buildTrainingSet(db.pool, base);
    expect(again.stats.built).toEqual([]);
  });
});
