import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { query } from '../core/db.ts';
import { loadCatalog } from '../features/catalog.ts';
import { generate } from '../features/generate/index.ts';
import { buildSnapshots } from '../features/materialize.ts';
import { buildTrainingSet } from '../training/dataset.ts';
import { createTestDatabase, type TestDatabase } from './helpers/db.ts';

const DAY = 86_400_000;

describe('training set on generated data with materialized snapshots', () => {
  let db: TestDatabase;
  beforeAll(async () => {
    db = await createTestDatabase();
    await generate(db.pool, { accounts: 160, months: 8, seed: 5, end: '2026-10-01' });
  });
  afterAll(async () => {
    await db?.drop();
  });

  it('builds the missing monthly snapshots and labels every row as the generator\'s ground truth says', async () => {
    const catalog = loadCatalog();
    const built: Date[] = [];
    const { table, stats } = await buildTrainingSet(db.pool, {
      featureSetVersion: catalog.version,
      horizonDays: 30,
      asOfs: 'monthly',
      buildSnapshots: async (dates) => {
        built.push(...dates);
        return buildSnapshots(db.pool, catalog, dates);
      },
    });
    // monthly dates: from four weeks into the event data to the last date whose outcome is known
    expect(built.map((t) => t.toISOString().slice(0, 10))).toEqual(['2026-03-01', '2026-04-01', '2026-05-01', '2026-06-01', '2026-07-01', '2026-08-01']);
    expect(stats.built.length).toBe(built.length);
    expect(table.columns.map((c) => c.name)).toEqual(catalog.names);
    expect(table.columns.map((c) => c.family)).toEqual(catalog.features.map((f) => f.family));

    const truth = new Map(
      (await query<{ account_id: string; churned_at: Date | null }>(db.pool, 'SELECT account_id, churned_at FROM churn.synthetic_truth')).map((r) => [r.account_id, r.churned_at]),
    );
    table.ids.forEach((_, i) => {
      const t = Date.parse(table.context!.asOf![i]);
      const at = truth.get(table.context!.accountId![i]);
      // (the window is closed: a churn at the instant T + 30 days, the end of a 30-day month, is in it)
      const expected = at && at.getTime() >= t && at.getTime() <= t + 30 * DAY ? 1 : 0;
      expect(table.label[i], table.ids[i]).toBe(expected);
    });
    expect(table.label.filter((l) => l === 1).length).toBeGreaterThan(0);
    // the generator ends some subscriptions exactly there; an open window never labelled their churn
    expect(table.ids.some((_, i) => truth.get(table.context!.accountId![i])?.getTime() === Date.parse(table.context!.asOf![i]) + 30 * DAY)).toBe(true);

    // out of time: train on the earlier dates, validate on the next, test on the last; every labelled row is kept
    expect(stats.testAsOfs).toEqual(stats.asOfs.slice(-1));
    expect(stats.validAsOfs).toEqual(stats.asOfs.slice(-2, -1));
    expect(stats.trainAsOfs).toEqual(stats.asOfs.slice(0, -2));
    expect(stats.purgedAsOfs).toEqual([]);
    expect(table.ids.length).toBe(stats.labelledRows);
    expect(stats.skippedAsOfs.map((t) => t.slice(0, 10))).toEqual(['2026-09-01']);
  });
});
