/** Scoring runs (`churn score`'s entry, runScoring, and the server's daily job): one at a time, re-runs, snapshots, the schedule's decisions. */
import { Writable } from 'node:stream';
import pino from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { query } from '../core/db.ts';
import type { Progress } from '../core/progress.ts';
import { driftSamples } from '../jobs/report/drift.ts';
import { JobRunner } from '../jobs/runner.ts';
import { releaseScoringLock, runScoring, tryScoringLock } from '../jobs/score-all.ts';
import { storeScores } from '../scoring/store.ts';
import { day, makeScore } from './helpers/alerts.ts';
import { bearer, startHarness, type ServingHarness } from './serving-fixture.ts';

const D = new Date('2026-09-20T00:00:00Z');

describe('scoring runs', () => {
  let h: ServingHarness;
  beforeAll(async () => {
    h = await startHarness({ accounts: 60 });
    await query(h.db.pool, "INSERT INTO churn.webhook_subscriptions (url, secret) VALUES ('http://127.0.0.1:9/hook', 'whsec_scoreruns_0123456789abcdef')");
    // the day before D every account stood at health 100 with this model: D's scores drop most of them
    await storeScores(h.db.pool, h.config, h.accountIds.map((id) => ({ ...makeScore(h.config, id, day(D, -1), 100), model_version: h.champion })), new Date(D.getTime() - 3_600_000));
  }, 180_000);
  afterAll(async () => {
    await h?.close();
  });

  const input = (asOf: Date, scoredAt = new Date(asOf.getTime() + 3_600_000)) => ({ model: h.holder.current!, catalog: h.catalog, config: h.config, asOf, scoredAt });
  const count = async (sql: string, values: unknown[] = []) => (await query<{ n: number }>(h.db.pool, sql, values))[0].n;

  it('two runs started at once never interleave: the second waits for the first, alerts are raised and queued once, one row per account', async () => {
    const spans: Array<[number, number]> = [];
    const probe = (): Progress => {
      let t0 = 0;
      return { start: () => { t0 = performance.now(); }, update: () => undefined, increment: () => undefined, stop: () => { spans.push([t0, performance.now()]); } };
    };
    let waits = 0;
    const [a, b] = await Promise.all([0, 1].map(() => runScoring(h.db.pool, { ...input(D), progress: probe(), onWait: () => { waits++; }, pollMs: 20 })));
    spans.sort((x, y) => x[0] - y[0]);
    expect(spans[1][0]).toBeGreaterThanOrEqual(spans[0][1]);
    expect(waits).toBe(1);
    const alerts = await count('SELECT count(*)::int AS n FROM churn.alerts a JOIN churn.score_history s ON s.score_id = a.to_score_id WHERE s.as_of = $1', [D]);
    expect(alerts).toBeGreaterThan(0);
    expect(a.alerts + b.alerts).toBe(alerts);
    expect(await count('SELECT count(DISTINCT account_id)::int AS n FROM churn.alerts')).toBe(alerts);
    expect(await count('SELECT count(*)::int AS n FROM churn.alert_outbox')).toBe(alerts);
    expect(await count('SELECT count(*)::int AS n FROM churn.score_history WHERE as_of = $1', [D])).toBe(a.accounts);
  });

  it('a re-run of an as-of replaces its rows in place (same score ids, no new alert), and score-change compares with an earlier as-of', async () => {
    const ids = async () => (await query<{ score_id: number }>(h.db.pool, 'SELECT score_id FROM churn.score_history WHERE as_of = $1 ORDER BY 1', [D])).map((r) => Number(r.score_id));
    const before = await ids();
    const alerts = await count('SELECT count(*)::int AS n FROM churn.alerts');
    const r = await runScoring(h.db.pool, input(D, new Date(D.getTime() + 7_200_000)));
    expect(r.stored).toBe(before.length);
    expect(r.alerts).toBe(0);
    expect(await ids()).toEqual(before);
    expect(await count('SELECT count(*)::int AS n FROM churn.alerts')).toBe(alerts);
    expect(await count('SELECT count(*)::int AS n FROM churn.alerts a WHERE NOT EXISTS (SELECT 1 FROM churn.score_history s WHERE s.score_id = a.to_score_id)')).toBe(0);
    const [{ account_id: id }] = await query<{ account_id: string }>(h.db.pool, 'SELECT account_id FROM churn.alerts ORDER BY alert_id LIMIT 1');
    const history = await h.app.inject({ method: 'GET', url: `/v1/accounts/${id}/history`, headers: bearer(h.readKey) });
    expect(history.json().scores.map((s: { as_of: string }) => s.as_of)).toEqual([D.toISOString(), day(D, -1).toISOString()]);
    const change = await h.app.inject({ method: 'GET', url: `/v1/accounts/${id}/score-change`, headers: bearer(h.readKey) });
    expect(change.statusCode).toBe(200);
    expect([change.json().from.as_of, change.json().to.as_of]).toEqual([day(D, -1).toISOString(), D.toISOString()]);
    // another model's score of the same day (a champion change): the default previous is still of an earlier as-of
    await storeScores(h.db.pool, h.config, [{ ...makeScore(h.config, id, D, 50), model_version: h.champion + 1 }], new Date(D.getTime() + 9_000_000));
    const other = (await h.app.inject({ method: 'GET', url: `/v1/accounts/${id}/score-change`, headers: bearer(h.readKey) })).json();
    expect([other.from.as_of, other.to.as_of, other.to.model_version]).toEqual([day(D, -1).toISOString(), D.toISOString(), h.champion + 1]);
  });

  it('stores the feature snapshot of its as-of, which drift is then measured on', async () => {
    const D2 = day(D, 5);
    const r = await runScoring(h.db.pool, input(D2));
    expect(r.snapshots).toBe(r.accounts);
    expect(await count('SELECT count(*)::int AS n FROM churn.feature_snapshots WHERE as_of = $1 AND feature_set_version = $2', [D2, h.catalog.version])).toBe(r.accounts);
    // the first test's run at D stands for the training snapshot; the run at D2 is the later one compared with it
    const s = await driftSamples(h.db.pool, h.catalog.version, h.catalog.names, D, h.catalog);
    expect(s.latestAsOf).toBe(D2.toISOString());
    expect(s.latest).toHaveLength(r.accounts);
  });

  it('the daily job is not suppressed by a backfill; it skips on its own recent run, on existing scores of its as-of and while a scoring run holds the lock, and logs each decision', async () => {
    const lines: Array<{ msg: string; reason?: string }> = [];
    const log = pino({ level: 'info' }, new Writable({ write(chunk, _enc, done) { lines.push(JSON.parse(String(chunk))); done(); } }));
    const runner = new JobRunner({ pool: h.db.pool, log, config: h.config, catalog: h.catalog, model: () => h.holder.current, intervalHours: 24, deliver: false });
    try {
      await runScoring(h.db.pool, input(new Date('2026-06-01T00:00:00Z'), new Date())); // a backfill stored now
      const said = () => lines.map((l) => l.msg).filter((m) => m.startsWith('scheduled run')).splice(0);
      expect((await runner.runDaily()).reason).toBe('ran');
      expect(said()[0]).toMatch(/^scheduled run starting: no scores as of .* for model \d+, and no run within the 24 h interval$/);
      lines.length = 0;
      expect((await runner.runDaily()).reason).toBe('recent');
      expect(said()).toEqual([expect.stringMatching(/^scheduled run skipped: its last run started at .*, within the 24 h interval$/)]);
      lines.length = 0;
      await query(h.db.pool, 'DELETE FROM churn.scheduler_runs');
      expect((await runner.runDaily()).reason).toBe('scored');
      expect(said()).toEqual([expect.stringMatching(/^scheduled run skipped: model \d+'s scores as of .* exist$/)]);
      lines.length = 0;
      const holder = await h.db.pool.connect();
      try {
        expect(await tryScoringLock(holder)).toBe(true);
        expect((await runner.runDaily({ force: true })).reason).toBe('locked');
        expect(said()).toEqual(['scheduled run skipped: another scoring run (churn score) is in progress; the next check sees its scores']);
      } finally {
        await releaseScoringLock(holder);
        holder.release();
      }
      expect((await runner.runDaily({ force: true })).reason).toBe('ran');
    } finally {
      await runner.close();
    }
  });
});
