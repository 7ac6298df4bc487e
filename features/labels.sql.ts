import type { Sql } from '../core/db.ts';

/**
 * Churn labels as set-based SQL. For every account and observation time T, with D the end of the data
 * (the last time the data has evidence of, see dataEndQuery, or an explicit `dataEnd`):
 *
 * - a paid period ends where the data says it ended, except that an end after D is not known yet
 *   (a running monthly period whose scheduled end lies in the future), and the account's latest period
 *   with `status = 'active'` has not ended (the source says it is still running): both count as open;
 * - coverage = the account's non-trial subscription periods [started_at, end), merged into "spells": a
 *   period that starts within the grace gap G after the end of every earlier period (a renewal,
 *   upgrade, downgrade or re-signup row) continues the spell;
 * - observed only when a paid period contains T (trial-only, already-ended or not-yet-started
 *   accounts are not paying customers at T) and the account is at least `minTenureDays` old;
 * - churned when the spell containing T ends at e with T + L <= e <= T + L + H (no paid period starts
 *   in [e, e + G], by construction of the spell); retained when it ends later (or never). The window
 *   is closed: a period that ends at the instant T + L + H (paid through the day before; a date-only
 *   export's end of a 30-day month, with T on the 1st) has left by then, and is paying at no later
 *   observation time, so an open window would never label its churn at all;
 * - unknown when T + L + H + G is after D: the outcome cannot be known yet;
 * - churned_in_lead when e < T + L: the customer left before the prediction window opened (excluded:
 *   neither churned nor retained inside the window).
 *
 * Only `churned` and `retained` rows are labels; every other status is excluded, never counted as retained.
 * A trial that ends without converting is not churn: the account never paid, so it is never observed.
 * A re-signup that starts as a trial does not bridge the gap; only paid periods are coverage. A T that
 * falls inside a gap between two paid periods is not observed (nobody was paying at T).
 */
export type LabelStatus = 'churned' | 'retained' | 'unknown' | 'churned_in_lead' | 'too_young' | 'not_paying';

export const LABEL_STATUSES: readonly LabelStatus[] = ['churned', 'retained', 'unknown', 'churned_in_lead', 'too_young', 'not_paying'];

export interface LabelSqlParams {
  asOfs: Date[];
  horizonDays: number;
  leadDays: number;
  graceDays: number;
  minTenureDays: number;
  /** the end of the data; null means: the last time the source data has evidence of (dataEndQuery) */
  dataEnd: Date | null;
  /** restrict to these accounts (null: every account) */
  accountIds?: string[] | null;
}

/**
 * The end of the data: the last time the source data has evidence of. With events, the latest event;
 * without, the latest subscription start or cancellation request. Either is capped at the time the
 * data was taken (the latest `churn ingest` run, or the end of the latest `churn generate` world) when
 * one is recorded: nothing can be known after it. A period's `ended_at` never moves the end: a
 * running monthly period carries its scheduled, future end. Events are first scanned from the latest
 * subscription timestamp onwards (older monthly partitions are pruned at run time), and wholly only
 * when that finds none; the answer is the same as a full scan.
 */
export function dataEndQuery(): Sql {
  return {
    text: `WITH
sb AS MATERIALIZED (SELECT greatest(max(started_at), max(canceled_at)) AS at FROM source.subscriptions),
ev AS MATERIALIZED (SELECT coalesce(
  (SELECT max(e.occurred_at) FROM source.events e WHERE e.occurred_at >= coalesce((SELECT at FROM sb), '-infinity'::timestamptz)),
  (SELECT max(e.occurred_at) FROM source.events e)) AS at),
ld AS (SELECT greatest(
  (SELECT max(created_at) FROM churn.ingestion_runs),
  (SELECT max(end_date)::timestamp AT TIME ZONE 'UTC' FROM churn.generation_runs)) AS at)
SELECT CASE WHEN ev.at IS NOT NULL THEN least(ev.at, ld.at) ELSE least(sb.at, ld.at) END AS data_end FROM sb, ev, ld`,
    values: [],
  };
}

/**
 * Every (account, observation) pair for accounts that existed at T, with its label status.
 * `payingOnly` keeps only accounts paying at T (all the labelled ones): a cheaper inner join.
 */
export function labelStatusQuery(p: LabelSqlParams, opts: { payingOnly?: boolean } = {}): Sql {
  const observed = opts.payingOnly
    ? `SELECT a.account_id, pa.as_of, a.created_at, true AS is_paying, pa.spell_end
  FROM paying_at pa JOIN source.accounts a ON a.account_id = pa.account_id
  WHERE a.created_at <= pa.as_of`
    : `SELECT a.account_id, o.as_of, a.created_at, (pa.account_id IS NOT NULL) AS is_paying, pa.spell_end
  FROM source.accounts a
  JOIN obs o ON a.created_at <= o.as_of
  LEFT JOIN paying_at pa ON pa.account_id = a.account_id AND pa.as_of = o.as_of
  WHERE ($7::text[] IS NULL OR a.account_id = ANY ($7::text[]))`;
  return {
    text: `WITH
-- 1. parameters ($6 null: end of data from the source tables)
params AS (
  SELECT $2::double precision * interval '1 day' AS lead,
         $3::double precision * interval '1 day' AS horizon,
         $4::double precision * interval '1 day' AS grace,
         $5::double precision * interval '1 day' AS min_tenure,
         coalesce($6::timestamptz, (${dataEndQuery().text}), '-infinity'::timestamptz) AS data_end
),
-- 2. observation times
obs AS (SELECT DISTINCT t AS as_of FROM unnest($1::timestamptz[]) AS t),
-- 3. paid periods (trials are never coverage) with the end the data knows: an end after the data's
--    end is not known yet, and the account's latest period still 'active' has not ended
paid AS (
  SELECT s.account_id, s.started_at,
         CASE WHEN s.ended_at IS NULL OR s.ended_at > pr.data_end THEN 'infinity'::timestamptz
              WHEN s.status = 'active' AND s.started_at = max(s.started_at) OVER (PARTITION BY s.account_id) THEN 'infinity'::timestamptz
              ELSE s.ended_at END AS ended_at
  FROM source.subscriptions s CROSS JOIN params pr
  WHERE NOT s.is_trial AND ($7::text[] IS NULL OR s.account_id = ANY ($7::text[]))
),
--    A period opens a new piece of coverage unless it starts before the end of every earlier period,
--    and a new spell unless it starts within the grace gap after it (renewal, upgrade, downgrade and
--    re-signup rows continue the spell)
flagged AS (
  SELECT s.account_id, s.started_at, s.ended_at,
         CASE WHEN s.started_at <= max(s.ended_at) OVER w THEN 0 ELSE 1 END AS opens_piece,
         CASE WHEN s.started_at <= max(s.ended_at) OVER w + (SELECT grace FROM params) THEN 0 ELSE 1 END AS opens_spell
  FROM paid s
  -- a period that ended before every T can neither cover T nor move the end of a spell that does
  WHERE s.ended_at > (SELECT min(as_of) FROM obs)
  WINDOW w AS (PARTITION BY s.account_id ORDER BY s.started_at, s.ended_at ROWS BETWEEN UNBOUNDED PRECEDING AND 1 PRECEDING)
),
-- 4. disjoint pieces of paid coverage, each knowing where its spell (pieces joined across grace gaps) ends
numbered AS (
  SELECT f.account_id, f.started_at, f.ended_at,
         sum(f.opens_piece) OVER o AS piece, sum(f.opens_spell) OVER o AS spell
  FROM flagged f
  WINDOW o AS (PARTITION BY f.account_id ORDER BY f.started_at, f.ended_at)
),
pieces AS (
  SELECT account_id, min(started_at) AS piece_start, max(ended_at) AS piece_end,
         max(max(ended_at)) OVER (PARTITION BY account_id, spell) AS spell_end
  FROM numbered GROUP BY account_id, spell, piece
),
-- 5. accounts paying at T (at most one piece contains T) and the end of that piece's spell
paying_at AS (
  SELECT o.as_of, p.account_id, p.spell_end
  FROM obs o JOIN pieces p ON p.piece_start <= o.as_of AND p.piece_end > o.as_of
),
-- 6. one row per account that existed at T
observed AS (
  ${observed}
),
-- 7. the status of each observation
status AS (
  SELECT b.account_id, b.as_of, b.spell_end,
    CASE WHEN NOT b.is_paying THEN 'not_paying'
         WHEN b.created_at > b.as_of - pr.min_tenure THEN 'too_young'
         WHEN b.as_of + pr.lead + pr.horizon + pr.grace > pr.data_end THEN 'unknown'
         WHEN b.spell_end < b.as_of + pr.lead THEN 'churned_in_lead'
         WHEN b.spell_end <= b.as_of + pr.lead + pr.horizon THEN 'churned'
         ELSE 'retained' END AS status
  FROM observed b CROSS JOIN params pr
)
SELECT account_id, as_of, status, CASE WHEN status = 'churned' THEN spell_end END AS churned_at
FROM status`,
    values: [p.asOfs, p.leadDays, p.horizonDays, p.graceDays, p.minTenureDays, p.dataEnd, p.accountIds ?? null],
  };
}

/** Observations with a known outcome: (account_id, as_of, churned, churned_at), in no particular order. */
export function labelsQuery(p: LabelSqlParams): Sql {
  const inner = labelStatusQuery(p, { payingOnly: true });
  return {
    text: `SELECT account_id, as_of, status = 'churned' AS churned, churned_at
FROM (${inner.text}) l
WHERE status IN ('churned', 'retained')`,
    values: inner.values,
  };
}

/** Counts per observation time and status (what was labelled, what was excluded and why). */
export function labelSummaryQuery(p: LabelSqlParams): Sql {
  const inner = labelStatusQuery(p);
  return {
    text: `SELECT as_of, status, count(*)::int AS n FROM (${inner.text}) l GROUP BY as_of, status ORDER BY as_of, status`,
    values: inner.values,
  };
}
