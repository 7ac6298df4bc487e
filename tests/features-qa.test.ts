import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { query } from '../core/db.ts';
import { describeSnapshot, readFeatureSet } from '../features/qa.ts';
import { createTestDatabase, type TestDatabase } from './helpers/db.ts';

const d = (s: string) => new Date(`${s}T00:00:00Z`);
const T = d('2026-03-01');
const EARLIER = d('2026-02-01');
const DATA_END = d('2026-12-31');
const NAMES = ['constant_one', 'days_to_contract_end', 'ordinary_score', 'rare_nps'];
const N = 40;

let db: TestDatabase;
/** the feature values written at T, per account, in NAMES order */
const written: { churned: boolean; values: (number | null)[] }[] = [];

/** Plain-TS quantile with linear interpolation between order statistics (what percentile_cont does). */
function quantile(sorted: number[], p: number): number {
  const pos = p * (sorted.length - 1);
  const lo = Math.floor(pos);
  const hi = Math.ceil(pos);
  return sorted[lo] + (sorted[hi] - sorted[lo]) * (pos - lo);
}

/** Plain-TS AUC by comparing every churned/retained pair; nulls rank lowest. */
function pairwiseAuc(rows: { churned: boolean; v: number | null }[]): number {
  const key = (v: number | null) => (v === null ? -Infinity : v);
  let wins = 0;
  let pairs = 0;
  for (const p of rows) {
    if (!p.churned) continue;
    for (const q of rows) {
      if (q.churned) continue;
      pairs += 1;
      if (key(p.v) > key(q.v)) wins += 1;
      else if (key(p.v) === key(q.v)) wins += 0.5;
    }
  }
  return wins / pairs;
}

describe('feature QA (churn features describe)', () => {
  beforeAll(async () => {
    db = await createTestDatabase();
    await query(db.pool, `INSERT INTO churn.feature_sets (feature_set_version, feature_names, definitions) VALUES ('qa_v1', $1, $2)`, [
      NAMES,
      JSON.stringify(NAMES.map((name, i) => ({ name, family: ['commercial', 'commercial', 'usage', 'sentiment'][i], description: `about ${name}` }))),
    ]);
    for (let i = 0; i < N; i++) {
      const id = `qa_${String(i).padStart(2, '0')}`;
      const churned = i % 2 === 0;
      const end = churned ? new Date(T.getTime() + (5 + (i % 20)) * 86_400_000) : new Date(T.getTime() + (60 + i) * 86_400_000);
      await query(db.pool, `INSERT INTO source.accounts (account_id, name, segment, plan, created_at) VALUES ($1, $1, 'smb', 'pro', '2025-01-01Z')`, [id]);
      await query(db.pool, `INSERT INTO source.subscriptions (subscription_id, account_id, plan, mrr, seats, billing_period, started_at, ended_at, status)
        VALUES ($1, $1, 'pro', 100, 3, 'monthly', '2025-01-01Z', $2, 'ended')`, [id, end]);
      const values = [
        1,
        Math.round((end.getTime() - T.getTime()) / 86_400_000), // leaks the label: days until the contract ends
        i % 7 === 3 ? null : ((i * 37) % 11) + (i % 3) * 0.5, // unrelated to the label, a few nulls
        i === 5 ? 9 : null, // almost always missing
      ];
      written.push({ churned, values });
      await query(db.pool, `INSERT INTO churn.feature_snapshots (feature_set_version, as_of, account_id, feature_values) VALUES ('qa_v1', $1, $2, $3), ('qa_v1', $4, $2, $5)`, [
        T, id, values, EARLIER, [2, 0, 0, 0],
      ]);
    }
  });
  afterAll(async () => {
    await db?.drop();
  });

  it('reads the feature set with families and descriptions from its stored definitions', async () => {
    const fs = await readFeatureSet(db.pool);
    expect(fs.version).toBe('qa_v1');
    expect(fs.names).toEqual(NAMES);
    expect(fs.families).toEqual(['commercial', 'commercial', 'usage', 'sentiment']);
    expect(fs.descriptions[2]).toBe('about ordinary_score');
  });

  it('flags a constant feature and a leaking feature, and not an ordinary one', async () => {
    const desc = await describeSnapshot(db.pool, { featureSetVersion: 'qa_v1', asOf: T, dataEnd: DATA_END });
    const by = Object.fromEntries(desc.features.map((f) => [f.name, f]));
    expect(by.constant_one.flags).toContain('constant');
    expect(by.days_to_contract_end.flags).toEqual(['leaking']);
    expect(by.days_to_contract_end.auc).toBeLessThan(0.05);
    expect(by.ordinary_score.flags).toEqual([]);
    expect(by.ordinary_score.auc).toBeGreaterThan(0.05);
    expect(by.ordinary_score.auc).toBeLessThan(0.95);
    expect(by.rare_nps.flags).toContain('mostly_null');
    expect(desc.labels).toEqual({ rows: N, churned: N / 2, churnRate: 0.5 });
  });

  it('computes null share, quantiles and moments that match a plain computation', async () => {
    const desc = await describeSnapshot(db.pool, { featureSetVersion: 'qa_v1', asOf: T, dataEnd: DATA_END });
    expect(desc.rows).toBe(N);
    NAMES.forEach((name, k) => {
      const f = desc.features[k];
      const vals = written.map((w) => w.values[k]).filter((v): v is number => v !== null).sort((a, b) => a - b);
      const mean = vals.reduce((a, b) => a + b, 0) / vals.length;
      const std = Math.sqrt(vals.reduce((a, b) => a + (b - mean) ** 2, 0) / vals.length);
      expect(f.name).toBe(name);
      expect(f.count).toBe(vals.length);
      expect(f.nullShare).toBeCloseTo(1 - vals.length / N, 12);
      expect(f.zeroShare).toBeCloseTo(vals.filter((v) => v === 0).length / N, 12);
      expect(f.min).toBe(vals[0]);
      expect(f.max).toBe(vals[vals.length - 1]);
      expect(f.p25).toBeCloseTo(quantile(vals, 0.25), 9);
      expect(f.median).toBeCloseTo(quantile(vals, 0.5), 9);
      expect(f.p75).toBeCloseTo(quantile(vals, 0.75), 9);
      expect(f.mean).toBeCloseTo(mean, 9);
      expect(f.std).toBeCloseTo(std, 9);
      expect(f.distinct).toBe(new Set(vals).size);
    });
  });

  it('computes each single-feature AUC like a pairwise comparison of churned and retained accounts', async () => {
    const desc = await describeSnapshot(db.pool, { featureSetVersion: 'qa_v1', asOf: T, dataEnd: DATA_END, minClassRows: 1 });
    NAMES.forEach((_, k) => {
      const expected = pairwiseAuc(written.map((w) => ({ churned: w.churned, v: w.values[k] })));
      expect(desc.features[k].auc).toBeCloseTo(expected, 12);
    });
  });

  it('describes the latest snapshot by default', async () => {
    const desc = await describeSnapshot(db.pool, { dataEnd: DATA_END });
    expect(desc.asOf).toBe(T.toISOString());
    const earlier = await describeSnapshot(db.pool, { asOf: EARLIER, dataEnd: DATA_END });
    expect(earlier.features[0]).toMatchObject({ min: 2, max: 2, distinct: 1 });
  });

  it('reports no AUC and no leak when the outcome at that date is not known yet', async () => {
    const desc = await describeSnapshot(db.pool, { asOf: T, dataEnd: d('2026-03-20') });
    expect(desc.labels).toBeNull();
    expect(desc.features.every((f) => f.auc === null && !f.flags.includes('leaking'))).toBe(true);
  });

  it('refuses an unknown feature set or a date without a snapshot', async () => {
    await expect(describeSnapshot(db.pool, { featureSetVersion: 'nope' })).rejects.toMatchObject({ code: 'CHURN_ERR_VALIDATION' });
    await expect(describeSnapshot(db.pool, { asOf: d('2020-01-01') })).rejects.toMatchObject({ code: 'CHURN_ERR_NOT_ENOUGH_DATA' });
  });
});
