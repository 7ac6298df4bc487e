/**
 * Revenue at risk and "since deployment" against a hand-built database: every expected number below
 * is worked out by hand from the rows inserted here.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { query } from '../core/db.ts';
import { deploymentSentence, deploymentSummary } from '../jobs/report/deployment.ts';
import { caughtRevenue, mrrAt, revenueAtRisk } from '../jobs/report/revenue.ts';
import { realisedPerformance } from '../jobs/monitor/monitor.ts';
import { createTestDatabase, type TestDatabase } from './helpers/db.ts';

const NOW = new Date('2026-11-01T00:00:00Z');
const TIER_ORDER = ['healthy', 'at_risk', 'critical'];
const t = (d: string) => new Date(`${d}T00:00:00Z`);

async function seed(db: TestDatabase): Promise<void> {
  const accounts = ['a1', 'a2', 'a3', 'a4', 'a5', 'a6'];
  for (const id of accounts) {
    await query(db.pool, { text: "INSERT INTO source.accounts (account_id, name, segment, plan, created_at) VALUES ($1, $1, 'smb', 'team', '2025-01-01')", values: [id] });
  }
  // subscription, account, mrr, started, ended
  const subs: [string, string, number, string, string | null][] = [
    ['s0', 'a1', 50, '2025-01-01', '2026-01-01'], // ended: a1's MRR before 2026
    ['s1', 'a1', 100, '2026-01-01', null], // a1 now: 100
    ['s2', 'a2', 250.5, '2026-06-01', '2026-12-01'], // cancelled, still paid until December: 250.50
    ['s3', 'a3', 700, '2026-02-01', '2026-09-01'], // a3 left in September: a former customer
    ['s4', 'a4', 1000, '2026-03-01', '2026-10-01'], // a4 upgraded on 1 October ...
    ['s5', 'a4', 1500, '2026-10-01', null], // ... to 1,500
    ['s6', 'a5', 400, '2026-01-01', null], // a5 pays but has no stored score: not in the report
    ['s7', 'a6', 0, '2026-10-15', null], // a6 on a free trial: a customer with MRR 0
  ];
  for (const [sid, aid, mrr, from, to] of subs) {
    await query(db.pool, {
      text: `INSERT INTO source.subscriptions (subscription_id, account_id, plan, mrr, seats, billing_period, started_at, ended_at, status)
        VALUES ($1, $2, 'team', $3, 5, 'monthly', $4, $5, $6)`,
      values: [sid, aid, mrr, t(from), to ? t(to) : null, to && t(to) <= NOW ? 'ended' : 'active'],
    });
  }
  // account, as_of, model version, tier, action, churn probability
  const scores: [string, string, number, string, string, number][] = [
    ['a1', '2026-10-01', 3, 'healthy', 'expand', 0.1],
    ['a1', '2026-10-31', 3, 'critical', 'rescue', 0.6], // a1's latest: critical
    ['a2', '2026-10-31', 3, 'at_risk', 'engage', 0.3],
    ['a3', '2026-08-01', 2, 'critical', 'rescue', 0.9], // former customer
    ['a4', '2026-10-31', 2, 'at_risk', 'rescue', 0.4], // a segment whose at-risk action is rescue
    ['a4', '2026-11-05', 3, 'healthy', 'expand', 0.05], // after the report's time: ignored
    ['a6', '2026-10-31', 2, 'healthy', 'expand', 0.02],
  ];
  for (const [aid, asOf, version, tier, action, p] of scores) {
    await query(db.pool, {
      text: `INSERT INTO churn.score_history (account_id, as_of, model_version, segment, churn_probability, health_score, tier, tier_rank,
          recommended_action, scorecard_score, components, base_value, drivers)
        VALUES ($1, $2, $3, 'default', $7, 50, $4, $5, $6, 50, '{}'::jsonb, -1, '[]'::jsonb)`,
      values: [aid, t(asOf), version, tier, TIER_ORDER.indexOf(tier), action, p],
    });
  }
}

describe('revenue at risk from stored scores', () => {
  let db: TestDatabase;
  beforeAll(async () => {
    db = await createTestDatabase();
    await seed(db);
  });
  afterAll(async () => {
    await db?.drop();
  });

  it("sums each customer's current MRR by the tier and action of its latest score, riskiest tier first", async () => {
    const r = await revenueAtRisk(db.pool, NOW, TIER_ORDER);
    expect(r).not.toBeNull();
    expect(r!.asOf).toBe(NOW.toISOString());
    expect(r!.accounts).toBe(4); // a1, a2, a4, a6
    expect(r!.mrr).toBeCloseTo(100 + 250.5 + 1500 + 0, 6);
    expect(r!.formerCustomers).toBe(1); // a3
    // each customer's MRR times its latest score's churn probability: 100 x 0.6 + 250.5 x 0.3 + 1500 x 0.4 + 0 x 0.02
    expect(r!.expectedLoss).toBeCloseTo(60 + 75.15 + 600, 6);
    expect(r!.scoresFrom).toBe('2026-10-31T00:00:00.000Z');
    expect(r!.scoresTo).toBe('2026-10-31T00:00:00.000Z');
    expect(r!.tiers.map((t) => ({ ...t, expectedLoss: Math.round(t.expectedLoss! * 1e6) / 1e6 }))).toEqual([
      { tier: 'critical', accounts: 1, mrr: 100, expectedLoss: 60, actions: [{ action: 'rescue', accounts: 1, mrr: 100 }] },
      { tier: 'at_risk', accounts: 2, mrr: 1750.5, expectedLoss: 675.15, actions: [{ action: 'engage', accounts: 1, mrr: 250.5 }, { action: 'rescue', accounts: 1, mrr: 1500 }] },
      { tier: 'healthy', accounts: 1, mrr: 0, expectedLoss: 0, actions: [{ action: 'expand', accounts: 1, mrr: 0 }] },
    ]);
  });

  it('reads nothing before the first stored score', async () => {
    expect(await revenueAtRisk(db.pool, t('2026-07-01'), TIER_ORDER)).toBeNull();
  });

  it("takes the MRR of the subscription covering each row's time (started before it, not ended by it)", async () => {
    const mrr = await mrrAt(db.pool, ['a1', 'a1', 'a4', 'a4', 'a3', 'a2', 'zz'], [t('2025-06-01'), NOW, t('2026-05-01'), t('2026-10-01'), t('2026-10-01'), t('2026-06-01'), NOW]);
    // a4 on 1 October: s4 ended that instant (still covering, ended_at >= t) and s5 had not started before it
    expect(mrr).toEqual([50, 100, 1000, 1000, null, null, null]);
  });

  it('sums the MRR of the churners the riskiest 10% and 20% caught', () => {
    const y = [1, 0, 1, 1, 0, 0, 0, 0, 0, 1];
    const p = [0.9, 0.8, 0.7, 0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.05];
    const mrr = [100, 999, 300, null, 5, 5, 5, 5, 5, 50];
    // riskiest 10%: row 0 (churned, 100); riskiest 20%: rows 0 and 1 (one churner, 100); all churners: 100 + 300 + (unknown) + 50
    expect(caughtRevenue(y, p, mrr)).toEqual({ churners: 4, churnedMrr: 450, top10: { churners: 1, mrr: 100 }, top20: { churners: 1, mrr: 100 }, missing: 1 });
  });
});

describe('since deployment', () => {
  let db: TestDatabase;
  beforeAll(async () => {
    db = await createTestDatabase();
    await seed(db);
  });
  afterAll(async () => {
    await db?.drop();
  });

  it("counts the version's monitored scores as its table does (each account's latest of a month) and names the day the first outcome becomes known", async () => {
    const summary = async (version: number, until: Date) => deploymentSummary(db.pool, {
      version, until, horizonDays: 30, graceDays: 14, trainedUntil: null,
      realised: await realisedPerformance(db.pool, { now: until, horizonDays: 30, modelVersion: version }),
    });
    const pending = await summary(3, NOW);
    // v3 scored a1 on 1 and 31 October and a2 on 31 October (its 5 November score is after the report's time):
    // the month's latest per account are a1's and a2's of 31 October, both pending at NOW
    expect(pending).toEqual({
      version: 3, scores: 2, accounts: 2, firstAsOf: '2026-10-31T00:00:00.000Z', lastAsOf: '2026-10-31T00:00:00.000Z',
      horizonDays: 30, graceDays: 14, known: 0, pending: 2, excluded: 0, firstOutcomeAt: '2026-12-14T00:00:00.000Z', trainedUntil: null, inSample: 0,
    });
    expect(deploymentSentence(pending)).toBe("2 scores of 2 accounts by model v3 since deployment (2026-10-31; each account's latest score of a month); outcomes are known after the 30-day horizon and a 14-day grace period: the first on 2026-12-14.");
    const none = await summary(9, NOW);
    expect(none).toMatchObject({ scores: 0, firstOutcomeAt: null });
    expect(deploymentSentence(none)).toMatch(/^Model v9 has no stored scores yet/);
  });
});
