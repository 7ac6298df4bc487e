/** SQL of `churn monitor`: stored scores joined to the outcomes that later happened, and the runs table. */
import type { Sql } from '../../core/db.ts';
import { labelStatusQuery, type LabelSqlParams } from '../../features/labels.sql.ts';

/**
 * The scores monitored: per account and calendar month (UTC) of `as_of`, the latest stored score with
 * an as-of at or before `until`.
 */
const latestPerMonth = (paramIndex: number) => `SELECT DISTINCT ON (account_id, date_trunc('month', as_of AT TIME ZONE 'UTC'))
    account_id, as_of, churn_probability, model_version
  FROM churn.score_history WHERE as_of <= $${paramIndex}::timestamptz
  ORDER BY account_id, date_trunc('month', as_of AT TIME ZONE 'UTC'), as_of DESC, score_id DESC`;

/** Distinct as-of times of the monitored scores (the observation dates to label). */
export function monitoredAsOfsQuery(until: Date): Sql {
  return { text: `SELECT DISTINCT as_of FROM (${latestPerMonth(1)}) s ORDER BY as_of`, values: [until] };
}

export interface MonitoredScoreRow {
  month: string;
  churn_probability: number;
  model_version: number;
  /** label status of the observation (see features/labels.sql.ts); null when the account is unknown */
  status: string | null;
}

/** Each monitored score with the label status of its (account, as_of) observation. */
export function monitoredScoresQuery(until: Date, label: LabelSqlParams): Sql {
  const l = labelStatusQuery(label);
  const n = l.values?.length ?? 0;
  return {
    text: `WITH
-- 1. label status of every observation (account, as_of) of the monitored scores
labels AS (${l.text}),
-- 2. the latest score per account and month
scores AS (${latestPerMonth(n + 1)})
SELECT to_char(s.as_of AT TIME ZONE 'UTC', 'YYYY-MM') AS month, s.churn_probability, s.model_version, l.status
FROM scores s LEFT JOIN labels l ON l.account_id = s.account_id AND l.as_of = s.as_of
ORDER BY month, s.account_id`,
    values: [...(l.values ?? []), until],
  };
}

export function insertRunQuery(r: { asOf: Date; horizonDays: number; modelVersion: number | null; realised: unknown; drift: unknown; summary: unknown }): Sql {
  return {
    text: `INSERT INTO churn.monitoring_runs (as_of, horizon_days, model_version, realised, drift, summary)
      VALUES ($1, $2, $3, $4::jsonb, $5::jsonb, $6::jsonb) RETURNING run_id`,
    values: [r.asOf, r.horizonDays, r.modelVersion, JSON.stringify(r.realised), JSON.stringify(r.drift), JSON.stringify(r.summary)],
  };
}

export const latestRunQuery = (): Sql => ({
  text: `SELECT run_id, as_of, horizon_days, model_version, realised, drift, summary, created_at
    FROM churn.monitoring_runs ORDER BY created_at DESC, run_id DESC LIMIT 1`,
  values: [],
});
