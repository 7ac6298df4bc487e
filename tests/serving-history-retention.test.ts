import { spawnSync } from 'node:child_process';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { loadConfig } from '../core/config.ts';
import { query, type Queryable } from '../core/db.ts';
import { isChurnError } from '../core/errors.ts';
import { silentLogger } from '../core/log.ts';
import { DEFAULT_SERVING_CONFIG } from '../scoring/config.ts';
import { thinScoreHistory } from '../jobs/history-retention.ts';
import { monitoredAsOfsQuery } from '../jobs/monitor/sql.ts';
import { startServer } from '../serving/server.ts';
import { createTestDatabase, type TestDatabase } from './helpers/db.ts';
import { bearer, startHarness } from './serving-fixture.ts';

const BIN = new URL('../bin/churn.js', import.meta.url).pathname;
const DAY = 86_400_000;
const COMPONENTS = JSON.stringify({ engagement: 70, usage: 70, adoption: 70, support: 70, commercial: 70, sentiment: 70 });

/** Stores one score (only the columns thinning looks at vary) and returns its id. */
async function store(db: Queryable, accountId: string, asOf: Date, health = 70, model = 1): Promise<number> {
  const [{ score_id }] = await query<{ score_id: number }>(db, {
    text: `INSERT INTO churn.score_history (account_id, as_of, model_version, feature_set_version, segment, churn_probability,
        health_score, tier, tier_rank, recommended_action, scorecard_score, components, base_value, drivers)
      VALUES ($1, $2, $5, 'fs', 'established', 0.1, $3, 'healthy', 0, 'expand', 50, $4::jsonb, -2, '[]') RETURNING score_id`,
    values: [accountId, asOf, health, COMPONENTS, model],
  });
  return score_id;
}

async function alert(db: Queryable, accountId: string, from: number, to: number): Promise<void> {
  await query(db, {
    text: `INSERT INTO churn.alerts (account_id, kind, from_score_id, to_score_id, from_health, to_health, from_tier, to_tier, payload)
      VALUES ($1, 'score_drop', $2, $3, 80, 50, 'healthy', 'at_risk', '{}')`,
    values: [accountId, from, to],
  });
}

interface Row { score_id: number; account_id: string; as_of: Date }
const all = (db: Queryable) => query<Row>(db, 'SELECT score_id, account_id, as_of FROM churn.score_history ORDER BY score_id');

/**
 * What thinning must keep, worked out here in JS from the rows themselves: every score at or after
 * the cutoff, each account's latest, each account's latest per UTC month, and every score an alert names.
 */
function expectedKept(rows: Row[], cutoff: Date, alerted: Set<number>): number[] {
  const later = (a: Row, b: Row) => a.as_of.getTime() - b.as_of.getTime() || a.score_id - b.score_id;
  const latest = new Map<string, Row>();
  const monthly = new Map<string, Row>();
  for (const r of rows) {
    const month = `${r.account_id}|${r.as_of.toISOString().slice(0, 7)}`;
    if (!latest.has(r.account_id) || later(r, latest.get(r.account_id)!) > 0) latest.set(r.account_id, r);
    if (!monthly.has(month) || later(r, monthly.get(month)!) > 0) monthly.set(month, r);
  }
  const keep = new Set<number>([...latest.values(), ...monthly.values()].map((r) => r.score_id));
  for (const r of rows) if (r.as_of >= cutoff || alerted.has(r.score_id)) keep.add(r.score_id);
  return [...keep].sort((a, b) => a - b);
}

describe('thinning the stored score history', () => {
  let db: TestDatabase;
  const now = new Date('2026-10-01T06:00:00Z');
  const cutoff = new Date(now.getTime() - 30 * DAY); // 2026-09-01T06:00Z
  const alerted = new Set<number>();

  beforeAll(async () => {
    db = await createTestDatabase();
  });
  afterAll(async () => {
    await db?.drop();
  });
  beforeEach(async () => {
    await query(db.pool, 'TRUNCATE churn.alert_outbox, churn.alerts, churn.score_history');
    alerted.clear();
    // acc_daily: one score a day (at 00:00 and, every 7th day, a second one at 12:00) from June to September
    for (let t = Date.parse('2026-06-01T00:00:00Z'); t <= Date.parse('2026-09-30T00:00:00Z'); t += DAY) {
      await store(db.pool, 'acc_daily', new Date(t));
      if (((t / DAY) | 0) % 7 === 0) await store(db.pool, 'acc_daily', new Date(t + DAY / 2));
    }
    // two scores with the same as-of at the end of July (a new model's, as after a champion change that
    // day: one model stores one score per as-of): the later-stored one is the month's latest
    await store(db.pool, 'acc_daily', new Date('2026-07-31T00:00:00Z'), 70, 2);
    // acc_once: a single, old score (its latest: kept)
    await store(db.pool, 'acc_once', new Date('2026-06-10T00:00:00Z'));
    // acc_alerted: August only, with an alert between two mid-month scores
    const ids: number[] = [];
    for (let d = 1; d <= 31; d++) ids.push(await store(db.pool, 'acc_alerted', new Date(Date.UTC(2026, 7, d)), 80 - d));
    await alert(db.pool, 'acc_alerted', ids[4], ids[5]);
    alerted.add(ids[4]).add(ids[5]);
  });

  it("keeps the scores after the cutoff, each account's latest, each month's latest and every score an alert names", async () => {
    const before = await all(db.pool);
    const asOfsBefore = await query<{ as_of: Date }>(db.pool, monitoredAsOfsQuery(now));
    const r = await thinScoreHistory(db.pool, { olderThanDays: 30, now });
    const after = await all(db.pool);
    const kept = expectedKept(before, cutoff, alerted);
    expect(after.map((x) => x.score_id)).toEqual(kept);
    expect(r).toEqual({ cutoff: cutoff.toISOString(), removed: before.length - kept.length, kept: kept.length, dryRun: false });
    // the oracle is not vacuous: most old scores go, none of the recent ones do
    expect(r.removed).toBeGreaterThan(100);
    expect(after.filter((x) => x.account_id === 'acc_daily' && x.as_of < cutoff).map((x) => x.as_of.toISOString()).sort()).toEqual([
      '2026-06-30T00:00:00.000Z', '2026-07-31T00:00:00.000Z', '2026-08-31T00:00:00.000Z',
    ]);
    expect(after.filter((x) => x.account_id === 'acc_once')).toHaveLength(1);
    expect(after.filter((x) => x.account_id === 'acc_alerted').map((x) => x.as_of.getUTCDate())).toEqual([5, 6, 31]);
    // of the two end-of-July scores with one as-of, the one stored last stays
    const july = before.filter((x) => x.as_of.toISOString() === '2026-07-31T00:00:00.000Z');
    expect(after.map((x) => x.score_id)).toContain(Math.max(...july.map((x) => x.score_id)));
    expect(after.map((x) => x.score_id)).not.toContain(Math.min(...july.map((x) => x.score_id)));
    // what `churn monitor` reads (the latest score per account and month) is unchanged
    expect(await query<{ as_of: Date }>(db.pool, monitoredAsOfsQuery(now))).toEqual(asOfsBefore);
    // the alert still names both of its scores
    const [a] = await query<{ from_as_of: Date; to_as_of: Date }>(db.pool, `SELECT f.as_of AS from_as_of, t.as_of AS to_as_of FROM churn.alerts a
      JOIN churn.score_history f ON f.score_id = a.from_score_id JOIN churn.score_history t ON t.score_id = a.to_score_id`);
    expect([a.from_as_of.getUTCDate(), a.to_as_of.getUTCDate()]).toEqual([5, 6]);
    // a second run finds nothing more to remove
    expect((await thinScoreHistory(db.pool, { olderThanDays: 30, now })).removed).toBe(0);
  });

  it('counts without removing on a dry run, and refuses a cutoff of less than a day', async () => {
    const before = await all(db.pool);
    const dry = await thinScoreHistory(db.pool, { olderThanDays: 30, now, dryRun: true });
    expect(await all(db.pool)).toEqual(before);
    expect(dry.dryRun).toBe(true);
    expect(dry.kept).toBe(expectedKept(before, cutoff, alerted).length);
    expect(dry.removed).toBe(before.length - dry.kept);
    for (const bad of [0, -3, 1.5]) {
      const err = await thinScoreHistory(db.pool, { olderThanDays: bad, now }).catch((e: unknown) => e);
      expect(isChurnError(err) && err.code).toBe('CHURN_ERR_VALIDATION');
    }
    expect(await all(db.pool)).toEqual(before);
  });

  it('churn history thin: --dry-run, the real run, and one-line errors for a missing or bad age', async () => {
    const env = { ...process.env, DATABASE_URL: db.url, CHURN_LOG_LEVEL: 'warn', CHURN_SERVING_CONFIG: '' };
    const churn = (...args: string[]) => spawnSync(process.execPath, [BIN, 'history', 'thin', ...args], { env, encoding: 'utf8', timeout: 120_000 });
    const before = await all(db.pool);
    // the cutoff is 30 days before the real now, so every score stored here is old enough
    const keep = expectedKept(before, new Date(Date.now() - 30 * DAY), alerted);
    const dry = churn('--older-than-days', '30', '--dry-run');
    expect(dry.status, dry.stderr).toBe(0);
    expect(dry.stdout).toContain(`would remove ${before.length - keep.length} stored scores`);
    expect(await all(db.pool)).toEqual(before);
    const real = churn('--older-than-days', '30');
    expect(real.status, real.stderr).toBe(0);
    expect(real.stdout).toContain(`removed ${before.length - keep.length} stored scores`);
    expect((await all(db.pool)).map((x) => x.score_id)).toEqual(keep);
    for (const args of [[], ['--older-than-days', 'soon'], ['--older-than-days', '0']]) {
      const r = churn(...args);
      expect(r.status).not.toBe(0);
      expect(r.stderr).toMatch(/^CHURN_ERR_VALIDATION: /m);
    }
    expect(churn('--help').stdout).toContain('--older-than-days');
  });
});

describe('the scheduled job thins the history when configured', () => {
  it('removes old intra-month scores after scoring, and the API still serves the account', async () => {
    const h = await startHarness({ accounts: 30 });
    const config = loadConfig({ PORT: '0', HOST: '127.0.0.1', CHURN_RATE_LIMIT: '0', CHURN_SCHEDULE_HOURS: '24' });
    const server = await startServer({
      config, pool: h.db.pool, log: silentLogger, databaseUrl: h.db.url, schedule: false,
      serving: { ...DEFAULT_SERVING_CONFIG, history: { thin_after_days: 60 } },
    });
    try {
      const id = h.accountIds[0];
      for (let d = 1; d <= 20; d++) await store(h.db.pool, id, new Date(Date.UTC(2026, 5, d)));
      const r = await server.runner.runDaily({ force: true });
      expect(r.reason).toBe('ran');
      const details = r.details as { accounts: number; thinned: number | null };
      expect(details.accounts).toBeGreaterThan(0);
      expect(details.thinned).toBe(19); // June's 1st to 19th; the 20th is June's latest
      const june = await query<{ as_of: Date }>(h.db.pool, { text: `SELECT as_of FROM churn.score_history WHERE account_id = $1 AND as_of < '2026-07-01' ORDER BY as_of`, values: [id] });
      expect(june.map((x) => x.as_of.toISOString())).toEqual(['2026-06-20T00:00:00.000Z']);
      const history = await fetch(`${server.url}/v1/accounts/${id}/history`, { headers: bearer(h.readKey) });
      expect(history.status).toBe(200);
      const scores = ((await history.json()) as { scores: { as_of: string }[] }).scores;
      expect(scores.length).toBeGreaterThanOrEqual(2); // today's score and June's
      expect(scores.at(-1)!.as_of).toBe('2026-06-20T00:00:00.000Z');
    } finally {
      await server.close();
      await h.close();
    }
  });
});
