import { query, withTransaction, type Pool, type Queryable, type Sql } from '../core/db.ts';
import type { ServingConfig, Tier } from './config.ts';
import { tierOf } from './health.ts';
import type { Score } from './schema.ts';

/** Stored scores: insert (set-based, with alert detection), latest per account, history. */

const insertScores = (json: string, scoredAt: Date): Sql => ({
  text: `INSERT INTO churn.score_history (account_id, as_of, scored_at, model_version, feature_set_version, segment,
      churn_probability, health_score, tier, tier_rank, recommended_action, scorecard_score, components, base_value, drivers)
    SELECT r.account_id, r.as_of, $2, r.model_version, r.feature_set_version, r.segment, r.churn_probability, r.health_score,
      r.tier, r.tier_rank, r.recommended_action, r.scorecard_score, r.components, r.base_value, r.drivers
    FROM jsonb_to_recordset($1::jsonb) AS r(account_id text, as_of timestamptz, model_version int, feature_set_version text,
      segment text, churn_probability float8, health_score int, tier text, tier_rank int, recommended_action text,
      scorecard_score int, components jsonb, base_value float8, drivers jsonb)
    RETURNING score_id`,
  values: [json, scoredAt],
});

/**
 * Alert detection over freshly stored scores, one statement:
 * 1. live scores only: the account's latest stored score whose as-of lies at most $4 seconds before it
 *    was stored; a backfill (a past as-of, or a score older than the account's latest) raises nothing;
 * 2. each one's previous stored score, the account's dead-band state (`churn.alert_state.tier_rank`,
 *    else the previous score's tier) and the worst tier the score is clear of by the dead band $3
 *    (tier boundaries $5 per segment, best first; $6 the default segment);
 * 3. a `tier_drop` when that tier is worse than the state, else a `score_drop` when health fell by at
 *    least $2 points; the new state is the tier an alert settled on, or the better tier the account
 *    recovered to (its actual tier), else unchanged: so 70 -> 69 -> 66 alerts once, at 66, and an
 *    account hovering at 66-68 does not alert again until it has been back above 70;
 * 4. the state and the account's sequence number in one upsert (its row lock serialises writers);
 * 5. the alert, numbered, and 6. one outbox row per active webhook subscription.
 */
const detectAlerts = (scoreIds: number[], alerts: ServingConfig['alerts'], boundaries: Record<string, number[]>, defaultSegment: string): Sql => ({
  text: `WITH fresh AS (SELECT * FROM churn.score_history WHERE score_id = ANY($1::bigint[])),
    live AS (
      SELECT f.* FROM fresh f
      WHERE f.as_of >= f.scored_at - make_interval(secs => $4)
        AND NOT EXISTS (SELECT 1 FROM churn.score_history h WHERE h.account_id = f.account_id AND (h.as_of, h.score_id) > (f.as_of, f.score_id))
    ),
    judged AS (
      SELECT n.*, p.score_id AS p_id, p.health_score AS p_health, p.tier AS p_tier, p.as_of AS p_as_of, p.model_version AS p_model,
        st.tier_rank AS st_rank, coalesce(st.tier_rank, p.tier_rank, n.tier_rank) AS s_prev,
        (SELECT count(*)::int FROM jsonb_array_elements_text(coalesce($5::jsonb -> n.segment, $5::jsonb -> $6::text)) b(v)
          WHERE n.health_score <= b.v::float8 - $3) AS clear_rank
      FROM live n
      LEFT JOIN LATERAL (SELECT * FROM churn.score_history h WHERE h.account_id = n.account_id
        AND (h.as_of, h.score_id) < (n.as_of, n.score_id) ORDER BY h.as_of DESC, h.score_id DESC LIMIT 1) p ON true
      LEFT JOIN churn.alert_state st ON st.account_id = n.account_id
    ),
    decided AS (
      SELECT j.*,
        CASE WHEN p_id IS NULL THEN NULL WHEN clear_rank > s_prev THEN 'tier_drop' WHEN p_health - health_score >= $2 THEN 'score_drop' END AS kind,
        CASE WHEN p_id IS NOT NULL AND clear_rank > s_prev THEN clear_rank WHEN tier_rank < s_prev THEN tier_rank ELSE s_prev END AS s_new
      FROM judged j
    ),
    state AS (
      INSERT INTO churn.alert_state AS st (account_id, last_sequence, tier_rank)
      SELECT account_id, (kind IS NOT NULL)::int, s_new FROM decided WHERE kind IS NOT NULL OR st_rank IS DISTINCT FROM s_new
      ON CONFLICT (account_id) DO UPDATE SET last_sequence = st.last_sequence + EXCLUDED.last_sequence, tier_rank = EXCLUDED.tier_rank, updated_at = now()
      RETURNING account_id, last_sequence
    ),
    inserted AS (
      INSERT INTO churn.alerts (account_id, kind, from_score_id, to_score_id, from_health, to_health, from_tier, to_tier, sequence, payload)
      SELECT d.account_id, d.kind, d.p_id, d.score_id, d.p_health, d.health_score, d.p_tier, d.tier, s.last_sequence,
        jsonb_build_object('type', 'churn.alert', 'account_id', d.account_id, 'kind', d.kind, 'sequence', s.last_sequence,
          'from', jsonb_build_object('as_of', d.p_as_of, 'health_score', d.p_health, 'tier', d.p_tier, 'model_version', d.p_model),
          'to', jsonb_build_object('as_of', d.as_of, 'health_score', d.health_score, 'tier', d.tier, 'model_version', d.model_version,
            'churn_probability', d.churn_probability, 'recommended_action', d.recommended_action))
      FROM decided d JOIN state s ON s.account_id = d.account_id
      WHERE d.kind IS NOT NULL
      RETURNING alert_id
    ),
    queued AS (
      INSERT INTO churn.alert_outbox (alert_id, subscription_id)
      SELECT i.alert_id, s.subscription_id FROM inserted i CROSS JOIN churn.webhook_subscriptions s WHERE s.active
      RETURNING outbox_id
    )
    SELECT (SELECT count(*) FROM inserted)::int AS alerts, (SELECT count(*) FROM queued)::int AS queued`,
  values: [scoreIds, alerts.drop_points, alerts.tier_dead_band, alerts.backfill_after_hours * 3600, JSON.stringify(boundaries), defaultSegment],
});

/** Per segment (and the default segment): the boundaries between its tiers, best first (every tier's `min_health` but the last's). */
function tierBoundaries(config: ServingConfig): Record<string, number[]> {
  const bounds = (tiers: Tier[]) => tiers.slice(0, -1).map((t) => t.min_health);
  return Object.fromEntries([
    ...config.segments.map((s) => [s.name, bounds(s.tiers ?? config.tiers)] as const),
    [config.default_segment, bounds(config.tiers)] as const,
  ]);
}

export interface StoreResult {
  stored: number;
  alerts: number;
  queued: number;
}

/** Stores scores and raises alerts in one transaction (backfills are stored and raise none). */
export async function storeScores(pool: Pool, config: ServingConfig, scores: Score[], scoredAt: Date): Promise<StoreResult> {
  if (!scores.length) return { stored: 0, alerts: 0, queued: 0 };
  const rows = scores.map((s) => {
    const seg = config.segments.find((x) => x.name === s.segment);
    const tiers = seg?.tiers ?? config.tiers;
    const rank = tiers.findIndex((t) => t.name === s.tier);
    return { ...s, tier_rank: rank < 0 ? tierOf(s.health_score, tiers).rank : rank };
  });
  return withTransaction(pool, async (client) => {
    const ids = (await query<{ score_id: number }>(client, insertScores(JSON.stringify(rows), scoredAt))).map((r) => r.score_id);
    const [a] = await query<{ alerts: number; queued: number }>(client, detectAlerts(ids, config.alerts, tierBoundaries(config), config.default_segment));
    return { stored: ids.length, alerts: a.alerts, queued: a.queued };
  });
}

export interface StoredScoreRow {
  score_id: number;
  account_id: string;
  as_of: Date;
  scored_at: Date;
  model_version: number;
  feature_set_version: string | null;
  segment: string;
  churn_probability: number;
  health_score: number;
  tier: string;
  recommended_action: string;
  scorecard_score: number;
  components: Score['components'];
  base_value: number;
  drivers: Score['drivers'];
  /** the account's status now (lists of latest scores); stored scores are of active accounts */
  status?: Score['status'];
}

const SUMMARY_COLUMNS = `score_id, account_id, as_of, scored_at, model_version, feature_set_version, segment, churn_probability,
  health_score, tier, recommended_action, scorecard_score, components`;

export function rowToScore(r: StoredScoreRow): Score {
  return {
    account_id: r.account_id, as_of: r.as_of.toISOString(), model_version: r.model_version, feature_set_version: r.feature_set_version,
    segment: r.segment, status: r.status ?? 'active', churn_probability: r.churn_probability, health_score: r.health_score, tier: r.tier,
    recommended_action: r.recommended_action, scorecard_score: r.scorecard_score, components: r.components,
    base_value: r.base_value, drivers: r.drivers,
  };
}

/**
 * Latest stored score per account, riskiest first, after a keyset cursor, with the account's status
 * now: an account that has churned (or never subscribed) since is not tiered as a customer (its tier
 * is its status, its action `win_back` or `none`).
 */
export const latestScores = (opts: { tier?: string; limit: number; after?: { p: number; id: string } }): Sql => ({
  // One index probe per account (score_history_account_idx), whatever the length of the history.
  text: `WITH scored AS (
      SELECT l.*, CASE
          WHEN EXISTS (SELECT 1 FROM source.subscriptions s WHERE s.account_id = a.account_id AND s.started_at <= now() AND (s.ended_at IS NULL OR s.ended_at > now())) THEN 'active'
          WHEN EXISTS (SELECT 1 FROM source.subscriptions s WHERE s.account_id = a.account_id AND s.started_at <= now()) THEN 'churned'
          ELSE 'never_subscribed' END AS status
      FROM source.accounts a
      CROSS JOIN LATERAL (SELECT ${SUMMARY_COLUMNS} FROM churn.score_history h WHERE h.account_id = a.account_id
        ORDER BY h.as_of DESC, h.score_id DESC LIMIT 1) l),
    latest AS (
      SELECT s.*, CASE WHEN s.status = 'active' THEN s.tier ELSE s.status END AS tier_now,
        CASE s.status WHEN 'active' THEN s.recommended_action WHEN 'churned' THEN 'win_back' ELSE 'none' END AS action_now
      FROM scored s)
    SELECT score_id, account_id, as_of, scored_at, model_version, feature_set_version, segment, churn_probability, health_score,
      tier_now AS tier, action_now AS recommended_action, scorecard_score, components, status
    FROM latest
    WHERE ($1::text IS NULL OR tier_now = $1) AND ($2::float8 IS NULL OR (churn_probability, account_id) < ($2, $3::text))
    ORDER BY churn_probability DESC, account_id DESC LIMIT $4`,
  values: [opts.tier ?? null, opts.after?.p ?? null, opts.after?.id ?? null, opts.limit],
});

export const accountHistory = (accountId: string, limit: number): Sql => ({
  text: `SELECT ${SUMMARY_COLUMNS} FROM churn.score_history WHERE account_id = $1 ORDER BY as_of DESC, score_id DESC LIMIT $2`,
  values: [accountId, limit],
});

/** The latest stored score at or before a time (or the latest of all), skipping `skip` newer ones. */
export async function storedScoreAt(db: Queryable, accountId: string, at: Date | null, skip = 0): Promise<StoredScoreRow | null> {
  const rows = await query<StoredScoreRow>(db, {
    text: `SELECT * FROM churn.score_history WHERE account_id = $1 AND ($2::timestamptz IS NULL OR as_of <= $2)
      ORDER BY as_of DESC, score_id DESC OFFSET $3 LIMIT 1`,
    values: [accountId, at, skip],
  });
  return rows[0] ?? null;
}

export async function accountExists(db: Queryable, accountId: string): Promise<boolean> {
  const rows = await query(db, { text: 'SELECT 1 FROM source.accounts WHERE account_id = $1', values: [accountId] });
  return rows.length > 0;
}
