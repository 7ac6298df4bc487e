import os from 'node:os';
import { query, type Pool, type Sql } from '../core/db.ts';
import type { Logger } from '../core/log.ts';

/** Advisory-lock key of the scheduled scoring job ("churnsch"). */
export const SCHEDULE_LOCK_KEY = 0x636875726e736368n;
const JOB = 'score';

// The age of the freshest scores: a successful scheduled run, or scores stored otherwise (`churn score`, `npm start`).
const lastSuccess = (job: string): Sql => ({
  text: `SELECT extract(epoch FROM now() - greatest(
      (SELECT max(started_at) FROM churn.scheduler_runs WHERE job = $1 AND status = 'succeeded'),
      (SELECT max(scored_at) FROM churn.score_history)))::float8 AS age_s`,
  values: [job],
});

export interface ScheduledJobResult {
  ran: boolean;
  reason: 'ran' | 'locked' | 'recent' | 'failed';
  details?: unknown;
}

/**
 * Runs `job` (feature build, scoring, alerts) every `intervalHours` inside the server. A session
 * advisory lock (pg_try_advisory_lock on a dedicated connection) keeps replicas from running it at the
 * same time, and a successful run (or scores stored by `churn score`) within the last interval makes
 * the others skip, so the job runs once per interval however many replicas there are. `intervalHours` 0
 * disables the schedule.
 */
export class Scheduler {
  private timer: NodeJS.Timeout | null = null;
  private running: Promise<ScheduledJobResult> | null = null;

  constructor(private readonly pool: Pool, private readonly log: Logger, private readonly intervalHours: number, private readonly job: (asOf: Date) => Promise<unknown>) {}

  start(firstDelayMs = 10_000): void {
    if (this.intervalHours <= 0) return;
    const tick = () => {
      this.runOnce().catch((err) => this.log.error({ err }, 'scheduled run failed'));
    };
    const first = setTimeout(tick, firstDelayMs);
    first.unref();
    // Check often (hourly at most) so a replica that restarts mid-interval still keeps the cadence.
    this.timer = setInterval(tick, Math.min(this.intervalHours * 3_600_000, 3_600_000));
    this.timer.unref();
    this.stopFirst = () => clearTimeout(first);
  }

  private stopFirst: () => void = () => undefined;

  runOnce(opts: { force?: boolean } = {}): Promise<ScheduledJobResult> {
    if (!this.running) this.running = this.tryRun(opts.force ?? false).finally(() => { this.running = null; });
    return this.running;
  }

  private async tryRun(force: boolean): Promise<ScheduledJobResult> {
    const client = await this.pool.connect();
    let locked = false;
    try {
      const [{ ok }] = (await client.query<{ ok: boolean }>('SELECT pg_try_advisory_lock($1) AS ok', [SCHEDULE_LOCK_KEY.toString()])).rows;
      if (!ok) return { ran: false, reason: 'locked' };
      locked = true;
      const [{ age_s }] = await query<{ age_s: number | null }>(client, lastSuccess(JOB));
      if (!force && age_s !== null && age_s < this.intervalHours * 3600 * 0.95) return { ran: false, reason: 'recent' };
      const [{ run_id }] = await query<{ run_id: number }>(client, { text: `INSERT INTO churn.scheduler_runs (job, runner) VALUES ($1, $2) RETURNING run_id`, values: [JOB, `${os.hostname()}:${process.pid}`] });
      try {
        const details = await this.job(new Date());
        await query(client, { text: `UPDATE churn.scheduler_runs SET status = 'succeeded', finished_at = now(), details = $2::jsonb WHERE run_id = $1`, values: [run_id, JSON.stringify(details ?? {})] });
        this.log.info({ details }, 'scheduled run finished');
        return { ran: true, reason: 'ran', details };
      } catch (err) {
        await query(client, { text: `UPDATE churn.scheduler_runs SET status = 'failed', finished_at = now(), details = $2::jsonb WHERE run_id = $1`, values: [run_id, JSON.stringify({ error: (err as Error).message })] });
        this.log.error({ err }, 'scheduled run failed');
        return { ran: false, reason: 'failed', details: { error: (err as Error).message } };
      }
    } finally {
      if (locked) await client.query('SELECT pg_advisory_unlock($1)', [SCHEDULE_LOCK_KEY.toString()]).catch(() => undefined);
      client.release();
    }
  }

  async close(): Promise<void> {
    this.stopFirst();
    if (this.timer) clearInterval(this.timer);
    await this.running?.catch(() => undefined);
  }
}
