import { execFile } from 'node:child_process';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { query } from '../core/db.ts';
import { loadModel } from '../training/registry/index.ts';
import { createScorer } from '../training/scorer.ts';
import {
  asOfBefore, formatConfusion, matchesDriver, measureDriverAgreement, riskRaisingFamilies, summarizeAgreement, type ExplainedAccount,
} from '../training/driver-agreement.ts';
import { createTestDatabase, type TestDatabase } from './helpers/db.ts';
import { buildWorld, type World } from './report-job-world.ts';

interface Run { code: number; stdout: string; stderr: string }

function evalDrivers(url: string, args: string[] = []): Promise<Run> {
  return new Promise((resolve) => {
    execFile('node', ['--import', 'tsx', 'bench/eval-drivers.ts', ...args], { env: { ...process.env, DATABASE_URL: url, CHURN_LOG_LEVEL: 'error' }, timeout: 120_000 }, (err, stdout, stderr) => {
      resolve({ code: err ? ((err as { code?: number }).code ?? 1) : 0, stdout, stderr });
    });
  });
}

const account = (trueDriver: ExplainedAccount['trueDriver'], topFamilies: string[], topFamilyBySum: string | null): ExplainedAccount => ({
  accountId: `acc_${trueDriver}_${topFamilies.join('_')}`, trueDriver, asOf: new Date('2026-05-01'), probability: 0.5, topFamilies, topFeature: null, topFamilyBySum,
});

describe('driver agreement: summaries', () => {
  it('takes the families of the largest risk-raising contributions only, largest first', () => {
    const r = riskRaisingFamilies({ featureNames: ['a', 'b', 'c', 'd'], families: ['usage', 'support', 'adoption', 'sentiment'] }, [0.2, -3, 0.5, 0.1], 2);
    expect(r).toEqual({ families: ['adoption', 'usage'], topFeature: 'c' });
    expect(riskRaisingFamilies({ featureNames: ['a'], families: ['usage'] }, [-1])).toEqual({ families: [], topFeature: null });
  });

  it('counts a match when the explained family is one the true driver shows in', () => {
    expect(matchesDriver('fading_usage', 'engagement')).toBe(true);
    expect(matchesDriver('fading_usage', 'usage')).toBe(true);
    expect(matchesDriver('shallow_adoption', 'usage')).toBe(false);
    expect(matchesDriver('payment_trouble', null)).toBe(false);
  });

  it('computes top-1, top-3 and family-rule shares per driver and overall, with the confusion tables', () => {
    const s = summarizeAgreement([
      account('fading_usage', ['usage', 'sentiment'], 'usage'),
      account('fading_usage', ['sentiment', 'engagement'], 'sentiment'),
      account('support_pain', ['commercial'], 'support'),
      account('support_pain', [], null),
    ]);
    expect(s.perDriver.fading_usage).toMatchObject({ accounts: 2, top1: 0.5, top3: 1, by_family_sum: 0.5 });
    expect(s.perDriver.support_pain).toMatchObject({ accounts: 2, top1: 0, top3: 0, by_family_sum: 0.5 });
    expect(s.overall).toMatchObject({ accounts: 4, top1: 0.25, top3: 0.5, by_family_sum: 0.5 });
    expect(s.confusion).toEqual({ fading_usage: { usage: 1, sentiment: 1 }, support_pain: { commercial: 1, none: 1 } });
    expect(s.confusionByFamily.support_pain).toEqual({ support: 1, none: 1 });
    expect(s.perDriver.detractor).toBeUndefined();
    const lines = formatConfusion(s, ['engagement', 'usage', 'support', 'commercial', 'sentiment']);
    expect(lines).toHaveLength(4);
    expect(lines[0]).toContain('none');
    expect(lines[3]).toMatch(/^all\s+4\s+25\.0%\s+50\.0%$/);
  });

  it('scores an account as of midnight UTC the given number of days before its churn', () => {
    expect(asOfBefore(new Date('2026-06-20T15:30:00Z'), 14).toISOString()).toBe('2026-06-06T00:00:00.000Z');
    expect(asOfBefore(new Date('2026-06-20T00:00:00Z'), 0).toISOString()).toBe('2026-06-20T00:00:00.000Z');
  });
});

describe('driver agreement on a generated world', () => {
  let db: TestDatabase;
  let empty: TestDatabase;
  let world: World;
  beforeAll(async () => {
    [db, empty] = await Promise.all([createTestDatabase(), createTestDatabase()]);
    world = await buildWorld(db.pool, { accounts: 300 });
  });
  afterAll(async () => {
    await Promise.all([db?.drop(), empty?.drop()]);
  });

  it('scores every churned account with a known driver once, as of the days before its churn', async () => {
    const scorer = createScorer((await loadModel(db.pool, 'champion')).artifact);
    const m = await measureDriverAgreement(db.pool, world.catalog, scorer, { daysBefore: 14, minHistoryDays: 0 });
    const truth = await query<{ account_id: string; churned_at: Date }>(db.pool, `SELECT t.account_id, t.churned_at FROM churn.synthetic_truth t JOIN source.accounts a USING (account_id)
      WHERE t.churned AND t.true_driver <> 'unexplained' AND a.created_at < date_trunc('day', t.churned_at - interval '14 days')`);
    expect(truth.length).toBeGreaterThan(5);
    expect(m.accounts.map((a) => a.accountId)).toEqual(truth.map((t) => t.account_id).sort());
    const churnedAt = new Map(truth.map((t) => [t.account_id, t.churned_at]));
    for (const a of m.accounts) {
      expect(a.asOf.getTime()).toBe(asOfBefore(churnedAt.get(a.accountId)!, 14).getTime());
      expect(a.probability).toBeGreaterThan(0);
      expect(a.probability).toBeLessThan(1);
      for (const f of a.topFamilies) expect(scorer.families).toContain(f);
    }
    const later = await measureDriverAgreement(db.pool, world.catalog, scorer, { daysBefore: 14, minHistoryDays: 120 });
    expect(later.accounts.length + later.skipped.tooEarly).toBe(m.accounts.length + m.skipped.tooEarly);
    expect(later.skipped.tooEarly).toBeGreaterThan(m.skipped.tooEarly);
  });

  it('prints the confusion tables and ends with one JSON line of consistent figures', async () => {
    const r = await evalDrivers(db.url, ['--days-before', '14', '--min-history-days', '0']);
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    const lines = r.stdout.trim().split('\n');
    const figures = JSON.parse(lines[lines.length - 1]);
    expect(figures.model_version).toBe(world.versions[0]);
    expect(figures.top1_share).toBeLessThanOrEqual(figures.top3_share);
    let n = 0;
    for (const [driver, row] of Object.entries(figures.confusion as Record<string, Record<string, number>>)) {
      const counted = Object.values(row).reduce((a, b) => a + b, 0);
      expect(counted).toBe(figures.per_driver[driver].n);
      expect(Object.values(figures.confusion_family_rule[driver] as Record<string, number>).reduce((a, b) => a + b, 0)).toBe(counted);
      n += counted;
    }
    expect(n).toBe(figures.accounts);
    expect(r.stdout).toContain('feature rule');
    expect(r.stdout).toContain('family rule');
  });

  it('refuses bad options, a database without a champion, and one without synthetic truth, with one clear error each', async () => {
    const bad = await evalDrivers(db.url, ['--days-before=-3']);
    expect(bad.code).not.toBe(0);
    expect(bad.stderr).toMatch(/^CHURN_ERR_VALIDATION: days-before/);
    const unknown = await evalDrivers(db.url, ['--top', '3']);
    expect(unknown.code).not.toBe(0);
    expect(unknown.stderr).toMatch(/^CHURN_ERR_VALIDATION: Unknown option '--top'/);
    const noChampion = await evalDrivers(empty.url);
    expect(noChampion.code).not.toBe(0);
    expect(noChampion.stderr).toMatch(/^CHURN_ERR_NO_CHAMPION: /);
    const noModel = await evalDrivers(db.url, ['--model', '99']);
    expect(noModel.stderr).toMatch(/^CHURN_ERR_MODEL_NOT_FOUND: /);
    await query(db.pool, 'DELETE FROM churn.synthetic_truth');
    const noTruth = await evalDrivers(db.url);
    expect(noTruth.code).not.toBe(0);
    expect(noTruth.stderr).toMatch(/^CHURN_ERR_NOT_ENOUGH_DATA: .*synthetic_truth/);
  });
});
