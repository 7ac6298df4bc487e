import os from 'node:os';
import { query, type Pool, type Sql } from '../core/db.ts';
import type { Logger } from '../core/log.ts';
import { defaultAsOf } from '../core/time.ts';
import type { Catalog } from '../features/catalog.ts';
import type { ServingConfig } from '../scoring/config.ts';
import type { ScoringModel } from '../scoring/model.ts';
import { deliverDue, type DeliveryResult } from './alerts/deliver.ts';
import { scoresAsOf } from '../scoring/store.ts';
import { thinScoreHistory } from './history-retention.ts';
import { runMonitor } from './monitor/monitor.ts';
import { releaseScoringLock, snapshotAndScore, tryScoringLock } from './score-all.ts';

/** Advisory-lock key of the scheduled daily job ("churnsch"). */
export const SCHEDULE_LOCK_KEY = 0x636875726e736368n;
const JOB = 'score';

/**
 * When the job last ran successfully, and how long ago. (Whether the model's scores of the job's
 * as-of exist, stored by `churn score`, `npm start` or a run of the job, is `scoresAsOf`: scores of
 * other as-ofs, a backfill, say nothing about today's.)
 */
const lastRun = (job: string): Sql => ({
  text: `SELECT last_run, extract(epoch FROM now() - last_run)::float8 AS age_s
    FROM (SELECT max(started_at) AS last_run FROM churn.scheduler_runs WHERE job = $1 AND status = 'succeeded') r`,
  values: [job],
});

export interface ScheduledJobResult {
  ran: boolean;
  /** `locked`: another replica runs the job, or another scoring run (`churn score`) is in progress; `recent`: the job ran within the interval; `scored`: the champion's scores as of the job's as-of exist */
  reason: 'ran' | 'locked' | 'recent' | 'scored' | 'failed';
  details?: unknown;
}

/** A skipped daily run, logged at info with its reason. */
function skipped(log: Logger, reason: ScheduledJobResult['reason'], why: string): ScheduledJobResult {
  log.info({ reason }, `scheduled run skipped: ${why}`);
  return { ran: false, reason };
}

export interface RunnerOptions {
  pool: Pool;
  log: Logger;
  config: ServingConfig;
  catalog: Catalog;
  /** the model the daily job scores with (the champion the server holds) */
  model: () => ScoringModel | null;
  /** hours between daily runs; 0 turns the daily job off (alert delivery still runs) */
  intervalHours: number;
  /** turns alert delivery off too (tests, benchmarks) */
  deliver?: boolean;
  /** called after each delivery round and daily run (metrics) */
  onDelivery?: (r: DeliveryResult) => void;
  onDailyRun?: (outcome: ScheduledJobResult['reason']) => void;
}

/**
 * The one runner of scheduled work inside the server:
 * - the daily job (feature build, scoring every active account, alerts, monitoring, history
 *   retention) every `intervalHours`. A session advisory lock (pg_try_advisory_lock on a dedicated
 *   connection) keeps replicas from running it at the same time; the scoring lock (score-all.ts), taken
 *   on the same connection, keeps it from interleaving with `churn score`. It skips when its own last
 *   successful run lies within the interval, or when the champion's scores as of its as-of (the latest
 *   UTC midnight) exist, so it runs once per interval however many replicas there are. Each decision
 *   is logged at info with its reason;
 * - alert delivery from the outbox every `alerts.poll_seconds` (jobs/alerts/deliver.ts).
 */
export class JobRunner {
  private timers: NodeJS.Timeout[] = [];
  private running: Promise<ScheduledJobResult> | null = null;
  private delivering: Promise<unknown> | null = null;
  private closed = false;

  constructor(private readonly opts: RunnerOptions) {}

  start(firstDelayMs = 10_000): void {
    const { intervalHours, config, log } = this.opts;
    if (intervalHours > 0) {
      const tick = () => {
        this.runDaily().catch((err) => log.error({ err }, 'scheduled run failed'));
      };
      // Check often (hourly at most) so a replica that restarts mid-interval still keeps the cadence.
      this.timers.push(setTimeout(tick, firstDelayMs), setInterval(tick, Math.min(intervalHours * 3_600_000, 3_600_000)));
    }
    if (this.opts.deliver !== false) {
      this.timers.push(setInterval(() => {
        this.deliverNow().catch((err) => log.debug({ err }, 'alert delivery skipped'));
      }, config.alerts.poll_seconds * 1000));
    }
    for (const t of this.timers) t.unref();
  }

  /** One delivery round now, unless one is running (then that one); none once the runner is closing. */
  deliverNow(): Promise<unknown> {
    if (this.closed) return this.delivering ?? Promise.resolve();
    if (!this.delivering) {
      this.delivering = deliverDue(this.opts.pool, this.opts.config.alerts, this.opts.log, { stopping: this.stopping })
        .then((r) => this.opts.onDelivery?.(r))
        .finally(() => { this.delivering = null; });
    }
    return this.delivering;
  }

  /** The daily job now (unless it ran within the interval, or another replica runs it; `force` skips the first check). */
  runDaily(opts: { force?: boolean } = {}): Promise<ScheduledJobResult> {
    if (!this.running) {
      this.running = this.tryDaily(opts.force ?? false).then((r) => {
        this.opts.onDailyRun?.(r.reason);
        return r;
      }).finally(() => { this.running = null; });
    }
    return this.running;
  }

  private async tryDaily(force: boolean): Promise<ScheduledJobResult> {
    const { pool, log, intervalHours } = this.opts;
    // as of the latest UTC midnight, as training snapshots are taken (no train/serve skew)
    const asOf = defaultAsOf();
    const client = await pool.connect();
    let locked = false;
    let scoring = false;
    try {
      const [{ ok }] = (await client.query<{ ok: boolean }>('SELECT pg_try_advisory_lock($1) AS ok', [SCHEDULE_LOCK_KEY.toString()])).rows;
      if (!ok) return skipped(log, 'locked', 'another replica is running it');
      locked = true;
      if (!(scoring = await tryScoringLock(client))) return skipped(log, 'locked', 'another scoring run (churn score) is in progress; the next check sees its scores');
      const version = this.opts.model()?.version ?? null;
      const [f] = await query<{ last_run: Date | null; age_s: number | null }>(client, lastRun(JOB));
      if (!force && f.age_s !== null && f.age_s < intervalHours * 3600 * 0.95) return skipped(log, 'recent', `its last run started at ${f.last_run!.toISOString()}, within the ${intervalHours} h interval`);
      if (!force && await scoresAsOf(client, version, asOf) > 0) return skipped(log, 'scored', `model ${version}'s scores as of ${asOf.toISOString()} exist`);
      log.info({ asOf: asOf.toISOString(), model: version, lastRun: f.last_run }, force ? 'scheduled run starting: forced'
        : `scheduled run starting: no scores as of ${asOf.toISOString()} for model ${version ?? '(none loaded)'}, and no run within the ${intervalHours} h interval`);
      const [{ run_id }] = await query<{ run_id: number }>(client, { text: 'INSERT INTO churn.scheduler_runs (job, runner) VALUES ($1, $2) RETURNING run_id', values: [JOB, `${os.hostname()}:${process.pid}`] });
      try {
        const details = await this.dailyJob(asOf);
        await query(client, { text: `UPDATE churn.scheduler_runs SET status = 'succeeded', finished_at = now(), details = $2::jsonb WHERE run_id = $1`, values: [run_id, JSON.stringify(details)] });
        log.info({ details }, 'scheduled run finished');
        return { ran: true, reason: 'ran', details };
      } catch (err) {
        await query(client, { text: `UPDATE churn.scheduler_runs SET status = 'failed', finished_at = now(), details = $2::jsonb WHERE run_id = $1`, values: [run_id, JSON.stringify({ error: (err as Error).message })] });
        log.error({ err }, 'scheduled run failed');
        return { ran: false, reason: 'failed', details: { error: (err as Error).message } };
      }
    } finally {
      if (scoring) await releaseScoringLock(client).catch(() => undefined);
      if (locked) await client.query('SELECT pg_advisory_unlock($1)', [SCHEDULE_LOCK_KEY.toString()]).catch(() => undefined);
      client.release();
    }
  }

  /** Features, scores and alerts as of `asOf`, then monitoring and history retention (their failures leave the scores in place). */
  private async dailyJob(asOf: Date): Promise<Record<string, unknown>> {
    const { pool, log, config, catalog } = this.opts;
    const model = this.opts.model();
    if (!model) throw new Error('no champion model is loaded');
    const scored = await snapshotAndScore(pool, { model, catalog, config, asOf, scoredAt: new Date() });
    const delivered = await deliverDue(pool, config.alerts, log, { stopping: this.stopping });
    const monitored = await runMonitor(pool, { now: asOf }).then(() => true, (err) => {
      log.warn({ err }, 'monitoring run failed; scores and alerts are unaffected');
      return false;
    });
    // after monitoring, which reads the history; a failure here leaves the history as it was
    const thinned = config.history.thin_after_days > 0
      ? await thinScoreHistory(pool, { olderThanDays: config.history.thin_after_days, now: asOf }).then((r) => r.removed, (err) => {
        log.warn({ err }, 'thinning the score history failed; scores and alerts are unaffected');
        return null;
      })
      : null;
    return { ...scored, delivered, monitored, thinned };
  }

  /** Read by delivery rounds: once closing, they start no further POST and finish (and record) those in flight. */
  private readonly stopping = (): boolean => this.closed;

  /**
   * Stops the timers and waits for the daily job and a delivery round in flight: every POST already
   * sent is answered (or times out) and recorded before this resolves, so the caller may then end the pool.
   */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    for (const t of this.timers) clearTimeout(t);
    await Promise.all([this.running?.catch(() => undefined), this.delivering?.catch(() => undefined)]);
  }
}
