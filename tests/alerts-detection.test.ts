import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { query } from '../core/db.ts';
import { syncWebhooks } from '../jobs/alerts/deliver.ts';
import { migrate } from '../features/migrate.ts';
import { parseServingConfig, type ServingConfig } from '../scoring/config.ts';
import { storeScores } from '../scoring/store.ts';
import { createTestDatabase, type TestDatabase } from './helpers/db.ts';
import { day, makeScore, storeDay } from './helpers/alerts.ts';

const D0 = new Date('2026-11-02T00:00:00Z');
const HOOK = { url: 'http://127.0.0.1:9/hook', secret: 'whsec_detection_0123456789' };

interface AlertRow { account_id: string; kind: string; sequence: number; from_health: number; to_health: number; to_tier: string; payload: { sequence: number; kind: string } }

describe('alert detection: dead band, backfills and sequence numbers', () => {
  let db: TestDatabase;
  const config = (alerts: Record<string, unknown> = {}): ServingConfig => parseServingConfig({ alerts, webhooks: [HOOK] });
  beforeEach(async () => {
    db = await createTestDatabase();
    await syncWebhooks(db.pool, [HOOK]);
  });
  afterEach(async () => {
    await db?.drop();
  });

  /** Stores each account's healths one day apart (account by account per day, as daily runs do). */
  async function histories(cfg: ServingConfig, series: Record<string, number[]>, start = D0): Promise<void> {
    const days = Math.max(...Object.values(series).map((s) => s.length));
    for (let i = 0; i < days; i++) {
      await storeDay(db.pool, cfg, day(start, i), Object.fromEntries(Object.entries(series).filter(([, s]) => i < s.length).map(([id, s]) => [id, s[i]])));
    }
  }
  const alerts = () => query<AlertRow>(db.pool, 'SELECT * FROM churn.alerts ORDER BY account_id, sequence');
  const outbox = async () => (await query<{ n: number }>(db.pool, 'SELECT count(*)::int AS n FROM churn.alert_outbox'))[0].n;

  it('alerts a tier change only beyond the dead band: 70 -> 69 and 70 -> 68 raise nothing, 70 -> 67 and 70 -> 60 a tier_drop', async () => {
    const cfg = config();
    expect(cfg.alerts.tier_dead_band).toBe(3); // the default; healthy starts at 70
    await histories(cfg, { acc_69: [70, 69], acc_68: [70, 68], acc_67: [70, 67], acc_60: [70, 60] });
    const rows = await alerts();
    expect(rows.map((a) => [a.account_id, a.kind, a.from_health, a.to_health, a.to_tier])).toEqual([
      ['acc_60', 'tier_drop', 70, 60, 'at_risk'],
      ['acc_67', 'tier_drop', 70, 67, 'at_risk'],
    ]);
    expect(await outbox()).toBe(2);
  });

  it('alerts a drifting account once, when clear of the boundary; not again while it hovers; again after a real recovery', async () => {
    const cfg = config();
    await histories(cfg, { acc_drift: [72, 69, 66, 68, 66, 67, 71, 66] });
    const rows = await alerts();
    expect(rows.map((a) => [a.kind, a.from_health, a.to_health, a.sequence])).toEqual([['tier_drop', 69, 66, 1], ['tier_drop', 71, 66, 2]]);
  });

  it('takes the first score of a new model version as the baseline: no alert for what the model changed, alerts after it as usual', async () => {
    const cfg = config();
    // day 0 under model 1; days 1-3 under model 2 for acc_swap; model 1 throughout for acc_same
    const healths = { acc_swap: [80, 50, 45, 30], acc_same: [80, 50, 45, 30] };
    for (let i = 0; i < 4; i++) {
      const scores = Object.entries(healths).map(([id, h]) => ({ ...makeScore(cfg, id, day(D0, i), h[i]), model_version: id === 'acc_swap' && i > 0 ? 2 : 1 }));
      await storeScores(db.pool, cfg, scores, new Date(day(D0, i).getTime() + 3_600_000));
    }
    const rows = await alerts();
    expect(rows.map((a) => [a.account_id, a.kind, a.from_health, a.to_health, a.to_tier, a.sequence])).toEqual([
      ['acc_same', 'tier_drop', 80, 50, 'at_risk', 1],
      ['acc_same', 'tier_drop', 45, 30, 'critical', 2],
      // 80 -> 50 came with model 2 and raised nothing; 50 -> 45 under model 2 is no drop; 45 -> 30 is
      ['acc_swap', 'tier_drop', 45, 30, 'critical', 1],
    ]);
    // a new model that rates the account better resets the state upwards: its next fall alerts
    await storeScores(db.pool, cfg, [{ ...makeScore(cfg, 'acc_swap', day(D0, 4), 75), model_version: 3 }], new Date(day(D0, 4).getTime() + 3_600_000));
    await storeScores(db.pool, cfg, [{ ...makeScore(cfg, 'acc_swap', day(D0, 5), 66), model_version: 3 }], new Date(day(D0, 5).getTime() + 3_600_000));
    expect((await alerts()).filter((a) => a.account_id === 'acc_swap').map((a) => [a.from_health, a.to_health, a.to_tier])).toEqual([[45, 30, 'critical'], [75, 66, 'at_risk']]);
  });

  it('raises nothing for a trial (its health is not a customer\'s), nor at its first score as a customer; alerts after that as usual', async () => {
    const cfg = config();
    const trial = (at: Date, health: number) => ({ ...makeScore(cfg, 'acc_trial', at, health), status: 'trial' as const, tier: 'trial', recommended_action: 'convert' });
    // a trial that falls from 95 to 20: no alert (scores of customers only)
    for (const [i, health] of [95, 20].entries()) await storeScores(db.pool, cfg, [trial(day(D0, i), health)], new Date(day(D0, i).getTime() + 3_600_000));
    // it converts: its first customer score (30, critical) is the baseline, not a drop from the trial's 95
    await storeDay(db.pool, cfg, day(D0, 2), { acc_trial: 30, acc_customer: 95 });
    await storeDay(db.pool, cfg, day(D0, 3), { acc_trial: 75, acc_customer: 20 });
    await storeDay(db.pool, cfg, day(D0, 4), { acc_trial: 35 });
    expect((await alerts()).map((a) => [a.account_id, a.kind, a.from_health, a.to_health, a.to_tier])).toEqual([
      ['acc_customer', 'tier_drop', 95, 20, 'critical'],
      ['acc_trial', 'tier_drop', 75, 35, 'critical'],
    ]);
    // the stored trial scores read back as a trial's
    const [stored] = await query<{ tier: string; recommended_action: string }>(db.pool, `SELECT tier, recommended_action FROM churn.score_history WHERE account_id = 'acc_trial' ORDER BY as_of LIMIT 1`);
    expect(stored).toEqual({ tier: 'trial', recommended_action: 'convert' });
  });

  it('alerts every crossing with tier_dead_band 0, and keeps score drops independent of the band', async () => {
    await histories(config({ tier_dead_band: 0 }), { acc_edge: [70, 69] });
    await histories(config(), { acc_fall: [95, 79] }); // healthy to healthy, 16 points down
    expect((await alerts()).map((a) => [a.account_id, a.kind])).toEqual([['acc_edge', 'tier_drop'], ['acc_fall', 'score_drop']]);
  });

  it('raises nothing and queues nothing for backfills, while today\'s scoring still alerts', async () => {
    const cfg = config();
    expect(cfg.alerts.backfill_after_hours).toBe(48);
    const today = day(D0, 10);
    await histories(cfg, { acc_live: [90], acc_past: [90], acc_older: [90] });
    await storeDay(db.pool, cfg, day(D0, 2), { acc_older: 90 });
    // a past date scored today (`churn score --as-of` a week ago): health fell from 90 to 20, nothing raised
    let r = await storeScores(db.pool, cfg, [makeScore(cfg, 'acc_past', day(today, -7), 20), makeScore(cfg, 'acc_live', day(today, -3), 20)], today);
    expect(r).toEqual({ stored: 2, alerts: 0, queued: 0 });
    // within the window but older than the account's latest stored score: nothing either
    r = await storeScores(db.pool, cfg, [makeScore(cfg, 'acc_older', day(D0, 1), 20)], day(D0, 2));
    expect(r).toEqual({ stored: 1, alerts: 0, queued: 0 });
    expect(await alerts()).toEqual([]);
    expect(await outbox()).toBe(0);
    // today's scores alert (the backfilled 20s did not settle the accounts into a worse tier)
    r = await storeScores(db.pool, cfg, ['acc_live', 'acc_past', 'acc_older'].map((id) => makeScore(cfg, id, today, 25)), today);
    expect(r).toEqual({ stored: 3, alerts: 3, queued: 3 });
    expect((await alerts()).map((a) => [a.account_id, a.kind, a.to_health, a.sequence])).toEqual([
      ['acc_live', 'tier_drop', 25, 1], ['acc_older', 'tier_drop', 25, 1], ['acc_past', 'tier_drop', 25, 1],
    ]);
  });

  it('numbers each account\'s alerts 1, 2, 3 in the column and the payload, also when writers race', async () => {
    const cfg = config();
    await histories(cfg, { acc_a: [90, 60, 30, 10], acc_b: [90, 90, 60, 30] });
    const rows = await alerts();
    expect(rows.map((a) => [a.account_id, a.sequence, a.payload.sequence, a.kind])).toEqual([
      ['acc_a', 1, 1, 'tier_drop'], ['acc_a', 2, 2, 'tier_drop'], ['acc_a', 3, 3, 'score_drop'],
      ['acc_b', 1, 1, 'tier_drop'], ['acc_b', 2, 2, 'tier_drop'],
    ]);
    // eight concurrent writers, each storing a 40-point drop for acc_c on its own day: distinct, gapless numbers
    await storeDay(db.pool, cfg, day(D0, 20), { acc_c: 100 });
    await Promise.all(Array.from({ length: 8 }, (_, i) => storeScores(db.pool, cfg, [makeScore(cfg, 'acc_c', day(D0, 21 + i), 60 - i)], day(D0, 21 + i))));
    const seqs = (await alerts()).filter((a) => a.account_id === 'acc_c').map((a) => a.sequence);
    expect(seqs.length).toBeGreaterThan(0);
    expect(seqs).toEqual(seqs.map((_, i) => i + 1));
  });

  it('numbers alerts raised before migration 014 per account, in the order raised, and goes on from there', async () => {
    const old = await createTestDatabase({ migrated: false });
    try {
      await migrate(old.pool, { upTo: 12 });
      const ids = await query<{ score_id: number }>(old.pool, `INSERT INTO churn.score_history (account_id, as_of, model_version, segment, churn_probability,
          health_score, tier, tier_rank, recommended_action, scorecard_score, components, base_value, drivers)
        SELECT a, $1::timestamptz + make_interval(days => d), 1, 'established', 0.5, h, 'at_risk', 1, 'engage', 50, '{}', 0, '[]'
        FROM (VALUES ('acc_a', 0, 90), ('acc_a', 1, 60), ('acc_a', 2, 30), ('acc_b', 0, 90), ('acc_b', 1, 50)) v(a, d, h) RETURNING score_id`, [D0]);
      const s = ids.map((r) => r.score_id);
      await query(old.pool, `INSERT INTO churn.alerts (account_id, kind, from_score_id, to_score_id, from_health, to_health, from_tier, to_tier, payload, created_at)
        VALUES ('acc_a', 'tier_drop', $1, $2, 90, 60, 'healthy', 'at_risk', '{}', now() - interval '2 days'), ('acc_b', 'tier_drop', $4, $5, 90, 50, 'healthy', 'at_risk', '{}', now() - interval '1 day'),
          ('acc_a', 'tier_drop', $2, $3, 60, 30, 'at_risk', 'critical', '{}', now())`, s);
      await migrate(old.pool);
      expect(await query(old.pool, 'SELECT account_id, sequence FROM churn.alerts ORDER BY alert_id')).toEqual([
        { account_id: 'acc_a', sequence: 1 }, { account_id: 'acc_b', sequence: 1 }, { account_id: 'acc_a', sequence: 2 },
      ]);
      const cfg = config();
      await storeScores(old.pool, cfg, [makeScore(cfg, 'acc_a', day(D0, 3), 5)], day(D0, 3));
      expect((await query(old.pool, "SELECT sequence FROM churn.alerts WHERE account_id = 'acc_a' ORDER BY sequence")).map((r) => r.sequence)).toEqual([1, 2, 3]);
      // another writer's alert without a number gets the account's next one
      const [raw] = await query(old.pool, `INSERT INTO churn.alerts (account_id, kind, from_score_id, to_score_id, from_health, to_health, from_tier, to_tier, payload)
        VALUES ('acc_b', 'score_drop', $1, $2, 90, 50, 'healthy', 'at_risk', '{}') RETURNING sequence`, [s[3], s[0]]);
      expect(raw.sequence).toBe(2);
    } finally {
      await old.drop();
    }
  });
});
