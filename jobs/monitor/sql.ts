/** SQL of `churn monitor`: stored scores joined to the outcomes that later happened, and the runs table. */
import type { Sql } from '../../core/db.ts';
import { labelStatusQuery, type LabelSqlParams } from '../../features/labels.sql.ts';

/**
 * The scores monitored: per account and calendar month (UTC) of `as_of`, the latest stored score with
 * an as-of at or before `until` that its model did not learn from: its as-of lies after the model's
 * training window (`window_to`, the last observation date of its training set, held-out test date
 * included). A model without a window (trained on a prepared table, imported) counts throughout.
 * `versionIndex` names an optional parameter restricting the scores to one model version (null: all).
 */
const outOfSample = `(v.window_to IS NULL OR h.as_of > v.window_to)`;
const latestPerMonth = (untilIndex: number, versionIndex: number) => `SELECT DISTINCT ON (h.account_id, date_trunc('month', h.as_of AT TIME ZONE 'UTC'))
    h.account_id, h.as_of, h.churn_probability, h.model_version
  FROM churn.score_history h LEFT JOIN churn.model_versions v ON v.version = h.model_version
  WHERE h.as_of <= $${untilIndex}::timestamptz AND ($${versionIndex}::int IS NULL OR h.model_version = $${versionIndex}::int) AND ${outOfSample}
  ORDER BY h.account_id, date_trunc('month', h.as_of AT TIME ZONE 'UTC'), h.as_of DESC, h.score_id DESC`;

/**
 * Per month, the stored scores left out as in-sample (as-of within their model's training window):
 * the accounts, and the model versions that stored them.
 */
export function inSampleScoresQuery(until: Date, version: number | null): Sql {
  return {
    text: `SELECT to_char(h.as_of AT TIME ZONE 'UTC', 'YYYY-MM') AS month, count(DISTINCT h.account_id)::int AS accounts,
      array_agg(DISTINCT h.model_version ORDER BY h.model_version) AS model_versions
    FROM churn.score_history h JOIN churn.model_versions v ON v.version = h.model_version
    WHERE h.as_of <= $1::timestamptz AND ($2::int IS NULL OR h.model_version = $2::int) AND h.as_of <= v.window_to
    GROUP BY 1 ORDER BY 1`,
    values: [until, version],
  };
}

/** The monitored scores of one version: how many (account-months), of how many accounts, first and last as-of. */
export function monitoredCountsQuery(until: Date, version: number): Sql {
  return {
    text: `SELECT count(*)::int AS scores, count(DISTINCT account_id)::int AS accounts, min(as_of) AS first_as_of, max(as_of) AS last_as_of
    FROM (${latestPerMonth(1, 2)}) s`,
    values: [until, version],
  };
}

/** Distinct as-of times of the monitored scores (the observation dates to label). */
export function monitoredAsOfsQuery(until: Date, version: number | null = null): Sql {
  return { text: `SELECT DISTINCT as_of FROM (${latestPerMonth(1, 2)}) s ORDER BY as_of`, values: [until, version] };
}

export interface MonitoredScoreRow {
  month: string;
  churn_probability: number;
  model_version: number;
  /** label status of the observation (see features/labels.sql.ts); null when the account is unknown */
  status: string | null;
}

/** Each monitored score with the label status of its (account, as_of) observation. */
export function monitoredScoresQuery(until: Date, label: LabelSqlParams, version: number | null = null): Sql {
  const l = labelStatusQuery(label);
  const n = l.values?.length ?? 0;
  return {
    text: `WITH
-- 1. label status of every observation (account, as_of) of the monitored scores
labels AS (${l.text}),
-- 2. the latest score per account and month
scores AS (${latestPerMonth(n + 1, n + 2)})
SELECT to_char(s.as_of AT TIME ZONE 'UTC', 'YYYY-MM') AS month, s.churn_probability, s.model_version, l.status
FROM scores s LEFT JOIN labels l ON l.account_id = s.account_id AND l.as_of = s.as_of
ORDER BY month, s.account_id`,
    values: [...(l.values ?? []), until, version],
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
