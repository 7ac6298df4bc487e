import type { Pool } from '../core/db.ts';
import { ChurnError } from '../core/errors.ts';

const DAY_MS = 86_400_000;

export interface ThinResult {
  /** scores with an as-of before this time were candidates */
  cutoff: string;
  /** stored scores removed (or that would be, on a dry run) */
  removed: number;
  /** stored scores left (on a dry run: that would be left) */
  kept: number;
  dryRun: boolean;
}

/**
 * One statement, set-based: ranks every account's scores twice (among all of its scores, and among
 * those of its calendar month in UTC) and removes the scores before the cutoff that are neither the
 * account's latest, nor the latest of their month, nor named by an alert.
 */
const THIN_SQL = `WITH ranked AS (
    SELECT score_id, as_of,
      row_number() OVER (PARTITION BY account_id ORDER BY as_of DESC, score_id DESC) AS nth_latest,
      row_number() OVER (PARTITION BY account_id, date_trunc('month', as_of AT TIME ZONE 'UTC') ORDER BY as_of DESC, score_id DESC) AS nth_in_month
    FROM churn.score_history
  ),
  doomed AS (
    SELECT r.score_id FROM ranked r
    WHERE r.as_of < $1 AND r.nth_latest > 1 AND r.nth_in_month > 1
      AND NOT EXISTS (SELECT 1 FROM churn.alerts a WHERE a.from_score_id = r.score_id)
      AND NOT EXISTS (SELECT 1 FROM churn.alerts a WHERE a.to_score_id = r.score_id)
  )
  DELETE FROM churn.score_history h USING doomed d WHERE h.score_id = d.score_id`;

/**
 * Thins the stored score history: scores with an as-of more than `olderThanDays` days before `now` are
 * reduced to each account's latest score per calendar month (UTC), the monthly series `churn monitor`
 * measures realised accuracy on. Never removed: an account's latest score (the one `GET /v1/accounts`
 * lists and the next score is compared with for alerts), and any score an alert names (its `from` and
 * `to`), so alerts and their deliveries stay whole. Scores newer than the cutoff are all kept.
 *
 * All or nothing, in one transaction; with `dryRun` the transaction is rolled back after counting.
 */
export async function thinScoreHistory(pool: Pool, opts: { olderThanDays: number; now?: Date; dryRun?: boolean }): Promise<ThinResult> {
  if (!Number.isInteger(opts.olderThanDays) || opts.olderThanDays < 1) {
    throw new ChurnError('CHURN_ERR_VALIDATION', `older-than days must be a whole number of at least 1 (got ${opts.olderThanDays})`);
  }
  const cutoff = new Date((opts.now ?? new Date()).getTime() - opts.olderThanDays * DAY_MS);
  const client = await pool.connect();
  try {
    await client.query('BEGIN');
    const removed = (await client.query({ text: THIN_SQL, values: [cutoff] })).rowCount ?? 0;
    const [{ n }] = (await client.query<{ n: number }>('SELECT count(*)::int AS n FROM churn.score_history')).rows;
    await client.query(opts.dryRun ? 'ROLLBACK' : 'COMMIT');
    return { cutoff: cutoff.toISOString(), removed, kept: n, dryRun: opts.dryRun === true };
  } catch (err) {
    await client.query('ROLLBACK').catch(() => undefined);
    throw err;
  } finally {
    client.release();
  }
}
