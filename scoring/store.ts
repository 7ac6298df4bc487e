import { query, withTransaction, type Pool, type Queryable, type Sql } from '../core/db.ts';
import { NON_CUSTOMER_TIER_NAMES, type ServingConfig, type Tier } from './config.ts';
import { tierOf } from './health.ts';
import type { Score } from './schema.ts';
import { NOT_CUSTOMER } from './build-score.ts';

/**
 * Stored scores: insert (set-based, with alert detection), latest per account, history.
 * One row per account, model version and as-of (score_history_one_per_day_key): scoring an as-of
 * again with the same model replaces that row's values in place, keeping its score_id (alerts point at
 * it), and raises no alert.
 */

const insertScores = (json: string, scoredAt: Date): Sql => ({
  text: `INSERT INTO churn.score_history (account_id, as_of, scored_at, model_version, feature_set_version, segment,
      churn_probability, health_score, tier, tier_rank, recommended_action, scorecard_score, components, base_value, drivers)
    SELECT r.account_id, r.as_of, $2, r.model_version, r.feature_set_version, r.segment, r.churn_probability, r.health_score,
      r.tier, r.tier_rank, r.recommended_action, r.scorecard_score, r.components, r.base_value, r.drivers
    FROM jsonb_to_recordset($1::jsonb) AS r(account_id text, as_of timestamptz, model_version int, feature_set_version text,
      segment text, churn_probability float8, health_score int, tier text, tier_rank int, recommended_action text,
      scorecard_score int, components jsonb, base_value float8, drivers jsonb)
    ON CONFLICT (as_of, model_version, account_id) DO UPDATE SET scored_at = EXCLUDED.scored_at, feature_set_version = EXCLUDED.feature_set_version,
      segment = EXCLUDED.segment, churn_probability = EXCLUDED.churn_probability, health_score = EXCLUDED.health_score, tier = EXCLUDED.tier,
      tier_rank = EXCLUDED.tier_rank, recommended_action = EXCLUDED.recommended_action, scorecard_score = EXCLUDED.scorecard_score,
      components = EXCLUDED.components, base_value = EXCLUDED.base_value, drivers = EXCLUDED.drivers
    RETURNING score_id, (xmax = 0) AS inserted`,
  values: [json, scoredAt],
});

/**
 * Alert detection over freshly stored scores, one statement:
 * 1. live scores of customers only: the account's latest stored score whose as-of lies at most $4
 *    seconds before it was stored, and not of a trial (tier $7: trials are not tiered as customers); a
 *    backfill (a past as-of, or a score older than the account's latest) raises nothing;
 * 2. each one's previous stored score, the account's dead-band state (`churn.alert_state.tier_rank`,
 *    else the previous score's tier) and the worst tier the score is clear of by the dead band $3
 *    (tier boundaries $5 per segment, best first; $6 the default segment);
 * 3. a `tier_drop` when that tier is worse than the state, else a `score_drop` when health fell by at
 *    least $2 points; the new state is the tier an alert settled on, or the better tier the account
 *    recovered to (its actual tier), else unchanged: so 70 -> 69 -> 66 alerts once, at 66, and an
 *    account hovering at 66-68 does not alert again until it has been back above 70;
 *    a score of another model version than the previous one raises nothing and sets the state to its
 *    own tier: a new champion rescores every account, and its differences from the old model are not
 *    drops of the accounts (5% of a 1,600-account world alerted when a logistic champion followed a
 *    GBDT one on the same day's data); the next scores of the same model alert as usual; likewise the
 *    first score after a trial converted (the trial's health was not a customer's);
 * 4. the state and the account's sequence number in one upsert (its row lock serialises writers);
 * 5. the alert, numbered, and 6. one outbox row per active webhook subscription.
 */
const detectAlerts = (scoreIds: number[], alerts: ServingConfig['alerts'], boundaries: Record<string, number[]>, defaultSegment: string): Sql => ({
  text: `WITH fresh AS (SELECT * FROM churn.score_history WHERE score_id = ANY($1::bigint[])),
    live AS (
      SELECT f.* FROM fresh f
      WHERE f.as_of >= f.scored_at - make_interval(secs => $4) AND f.tier <> ALL($7::text[])
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
        CASE WHEN p_id IS NULL OR p_model IS DISTINCT FROM model_version OR p_tier = ANY($7::text[]) THEN NULL
          WHEN clear_rank > s_prev THEN 'tier_drop' WHEN p_health - health_score >= $2 THEN 'score_drop' END AS kind,
        CASE WHEN p_id IS NOT NULL AND (p_model IS DISTINCT FROM model_version OR p_tier = ANY($7::text[])) THEN tier_rank
          WHEN p_id IS NOT NULL AND clear_rank > s_prev THEN clear_rank WHEN tier_rank < s_prev THEN tier_rank ELSE s_prev END AS s_new
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
  values: [scoreIds, alerts.drop_points, alerts.tier_dead_band, alerts.backfill_after_hours * 3600, JSON.stringify(boundaries), defaultSegment, NON_CUSTOMER_TIER_NAMES],
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

/** Stores scores and raises alerts in one transaction (backfills and re-runs of an as-of are stored and raise none). */
export async function storeScores(pool: Pool, config: ServingConfig, scores: Score[], scoredAt: Date): Promise<StoreResult> {
  if (!scores.length) return { stored: 0, alerts: 0, queued: 0 };
  const rows = scores.map((s) => {
    const seg = config.segments.find((x) => x.name === s.segment);
    const tiers = seg?.tiers ?? config.tiers;
    const rank = tiers.findIndex((t) => t.name === s.tier);
    return { ...s, tier_rank: rank < 0 ? tierOf(s.health_score, tiers).rank : rank };
  });
  return withTransaction(pool, async (client) => {
    // `inserted`: a new row (xmax 0), not one of a re-run of its as-of updated in place, which is not judged again
    const stored = await query<{ score_id: number; inserted: boolean }>(client, insertScores(JSON.stringify(rows), scoredAt));
    const ids = stored.filter((r) => r.inserted).map((r) => r.score_id);
    const [a] = await query<{ alerts: number; queued: number }>(client, detectAlerts(ids, config.alerts, tierBoundaries(config), config.default_segment));
    return { stored: stored.length, alerts: a.alerts, queued: a.queued };
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
  /** the account's status now (lists of latest scores); stored scores are of active accounts and trials (tier `trial`) */
  status?: Score['status'];
}

const SUMMARY_COLUMNS = `score_id, account_id, as_of, scored_at, model_version, feature_set_version, segment, churn_probability,
  health_score, tier, recommended_action, scorecard_score, components`;

/** A stored score's status: the account's now when the list worked it out, else what the score was of (a trial's carries tier `trial`). */
export function storedStatus(r: Pick<StoredScoreRow, 'status' | 'tier'>): Score['status'] {
  return r.status ?? (r.tier === 'trial' ? 'trial' : 'active');
}

/** A stored score's action: its own for a customer; for an account that is not one now, that of its status (`NOT_CUSTOMER`). */
export function storedAction(r: Pick<StoredScoreRow, 'status' | 'tier' | 'recommended_action'>): string {
  const status = storedStatus(r);
  return status === 'active' ? r.recommended_action : NOT_CUSTOMER[status].action;
}

export function rowToScore(r: StoredScoreRow): Score {
  return {
    account_id: r.account_id, as_of: r.as_of.toISOString(), model_version: r.model_version, feature_set_version: r.feature_set_version,
    segment: r.segment, status: storedStatus(r), churn_probability: r.churn_probability, health_score: r.health_score, tier: r.tier,
    recommended_action: storedAction(r), scorecard_score: r.scorecard_score, components: r.components,
    base_value: r.base_value, drivers: r.drivers,
  };
}

/**
 * The subscription period in force at `at` (the latest one started by then and not ended), as a
 * lateral join `alias`: its plan, MRR and renewal date, which is the period's recorded end, else its
 * next billing boundary after `at` (monthly or annual from its start, in UTC). One index probe
 * (subscriptions_account_idx). `at` is SQL text: a column or a bound parameter, never a request value.
 */
const currentPeriod = (alias: string, at: string): string => `LEFT JOIN LATERAL (
    SELECT true AS in_force, s.is_trial, s.plan, s.mrr, coalesce(s.ended_at,
        ((s.started_at AT TIME ZONE 'UTC') + make_interval(months => b.step * (b.elapsed / b.step + 1))) AT TIME ZONE 'UTC') AS renewal_date
    FROM source.subscriptions s
    CROSS JOIN LATERAL (SELECT CASE s.billing_period WHEN 'annual' THEN 12 ELSE 1 END AS step,
        (SELECT (extract(year FROM g) * 12 + extract(month FROM g))::int FROM age(${at} AT TIME ZONE 'UTC', s.started_at AT TIME ZONE 'UTC') g) AS elapsed) b
    WHERE s.account_id = a.account_id AND s.started_at <= ${at} AND (s.ended_at IS NULL OR s.ended_at > ${at})
    ORDER BY s.started_at DESC LIMIT 1) ${alias} ON true`;

/**
 * The trend windows: health points against the stored score of the same model version nearest to this
 * many days before (after a champion change a trend waits for the new model's own history: a drop
 * between two models is the models' difference, not the account's).
 */
export const TREND_DAYS = { change_7d: 7, change_30d: 30 } as const;

/**
 * A lateral join `alias` holding `health_score`: that of the account's stored score nearest to `days`
 * days before `at`, among those at most half the window away from that day (a score of yesterday is
 * never the one of 7 days before) and scored by model version `model`; no row when there is none.
 * Two index probes of LIMIT 1 (score_history_account_idx). `account`, `at` and `model` are SQL text:
 * columns or bound parameters.
 */
const nearestHealth = (alias: string, account: string, at: string, days: number, model: string): string => {
  const target = `(${at} - interval '${days} days')`;
  const half = `interval '${days * 12} hours'`;
  return `LEFT JOIN LATERAL (SELECT n.health_score FROM (
      (SELECT h.health_score, h.as_of FROM churn.score_history h WHERE h.account_id = ${account} AND h.model_version = ${model}
        AND h.as_of <= ${target} AND h.as_of >= ${target} - ${half} ORDER BY h.as_of DESC, h.score_id DESC LIMIT 1)
      UNION ALL
      (SELECT h.health_score, h.as_of FROM churn.score_history h WHERE h.account_id = ${account} AND h.model_version = ${model}
        AND h.as_of > ${target} AND h.as_of <= ${target} + ${half} ORDER BY h.as_of, h.score_id LIMIT 1)
    ) n ORDER BY abs(extract(epoch FROM n.as_of - ${target})), n.as_of LIMIT 1) ${alias} ON true`;
};

/** `change_7d` and `change_30d` of a row holding `health_score` and `as_of`, and their lateral joins. */
const TRENDS = {
  columns: `x.health_score - w7.health_score AS change_7d, x.health_score - w30.health_score AS change_30d`,
  joins: `${nearestHealth('w7', 'x.account_id', 'x.as_of', TREND_DAYS.change_7d, 'x.model_version')}
    ${nearestHealth('w30', 'x.account_id', 'x.as_of', TREND_DAYS.change_30d, 'x.model_version')}`,
};

/** Sorts of the account list: the key (SQL over a listed row, from this table only) and its natural direction. */
export const ACCOUNT_SORTS = {
  risk: { key: 'churn_probability', order: 'desc', trend: false },
  change_7d: { key: 'change_7d::float8', order: 'asc', trend: true },
  change_30d: { key: 'change_30d::float8', order: 'asc', trend: true },
  mrr: { key: 'mrr::float8', order: 'desc', trend: false },
  renewal_date: { key: 'extract(epoch FROM renewal_date)::float8', order: 'asc', trend: false },
} as const;
export type AccountSort = keyof typeof ACCOUNT_SORTS;

export interface AccountFilters {
  /** tier now (a churned account's tier is `churned`) */
  tier?: string;
  /** the account's data segment (source.accounts.segment) */
  segment?: string;
  owner?: string;
  /** renewal date from now to this many days ahead */
  renewalWithinDays?: number;
  mrrMin?: number;
  mrrMax?: number;
}

/**
 * A position in a sorted list: the group (0: customers with a value of the sort key, 1: customers
 * without one, 2: accounts that are not customers now), the sort key and the account id.
 */
export interface AccountCursor {
  group: 0 | 1 | 2;
  value: number;
  id: string;
}

export interface AccountListOptions extends AccountFilters {
  sort: AccountSort;
  order: 'asc' | 'desc';
  after?: AccountCursor;
  limit: number;
}

/**
 * Steps 1-2 of the account list and summary ($1-$5: segment, owner, MRR min and max, renewal days):
 * 1. every account's latest stored score (one index probe each, whatever the history's length), its
 *    facts and the subscription period in force now;
 * 2. its status now and what follows from it: an account on a trial, or that has churned (or never
 *    subscribed) since, is not tiered as a customer (its tier is its status; its action is set by
 *    `storedAction` when the row is read).
 */
const LISTED = `base AS (
      SELECT l.*, a.name, a.segment AS account_segment, coalesce(cur.plan, a.plan) AS plan, a.owner, cur.mrr, cur.renewal_date,
        CASE WHEN cur.in_force THEN CASE WHEN cur.is_trial THEN 'trial' ELSE 'active' END
          WHEN EXISTS (SELECT 1 FROM source.subscriptions s WHERE s.account_id = a.account_id AND s.started_at <= now()) THEN 'churned'
          ELSE 'never_subscribed' END AS status
      FROM source.accounts a
      CROSS JOIN LATERAL (SELECT ${SUMMARY_COLUMNS} FROM churn.score_history h WHERE h.account_id = a.account_id
        ORDER BY h.as_of DESC, h.score_id DESC LIMIT 1) l
      ${currentPeriod('cur', 'now()')}
      WHERE ($1::text IS NULL OR a.segment = $1) AND ($2::text IS NULL OR a.owner = $2)),
    listed AS (
      SELECT b.*, CASE WHEN b.status = 'active' THEN b.tier ELSE b.status END AS tier_now
      FROM base b
      WHERE ($3::numeric IS NULL OR b.mrr >= $3) AND ($4::numeric IS NULL OR b.mrr <= $4)
        AND ($5::int IS NULL OR (b.renewal_date >= now() AND b.renewal_date < now() + make_interval(days => $5))))`;

const filterValues = (f: AccountFilters): unknown[] => [f.segment ?? null, f.owner ?? null, f.mrrMin ?? null, f.mrrMax ?? null, f.renewalWithinDays ?? null];

/** What the account views show of an account beside its score: who it is and its current subscription period. */
export interface AccountFacts {
  name: string;
  account_segment: string;
  plan: string;
  owner: string | null;
  mrr: number | null;
  renewal_date: Date | null;
}

/** A row of the account list: the latest stored score (tier and action as of now) and the account's context. */
export interface AccountListRow extends Omit<StoredScoreRow, 'drivers' | 'base_value'>, AccountFacts {
  change_7d: number | null;
  change_30d: number | null;
  sort_group: 0 | 1 | 2;
  sort_value: number;
}

/**
 * Latest stored score per account with its context, filtered, sorted (customers with a value of the
 * key, then customers without one, then accounts that are not customers now, whose stored risk is no
 * customer's; within each, by the key and then by account id in the same direction) and after a keyset cursor ($6 tier, $7-$9 cursor, $10 limit). The trend is
 * computed for every listed account when the list is sorted by it, else for the page only.
 * 3. the trend (when sorted by it), the sort key and the tier filter; 4. the page; 5. the trend of the page.
 */
export const latestScores = (opts: AccountListOptions): Sql => {
  const sort = ACCOUNT_SORTS[opts.sort];
  const dir = opts.order === 'asc' ? 'ASC' : 'DESC';
  const past = opts.order === 'asc' ? '>' : '<';
  const order = `sort_group, sort_value ${dir}, account_id ${dir}`;
  return {
    text: `WITH ${LISTED},
    keyed AS (
      SELECT y.*, CASE WHEN y.status <> 'active' THEN 2 WHEN k.v IS NULL THEN 1 ELSE 0 END AS sort_group, coalesce(k.v, 0)::float8 AS sort_value
      FROM (SELECT x.*${sort.trend ? `, ${TRENDS.columns} FROM listed x ${TRENDS.joins}` : ' FROM listed x'}) y
      CROSS JOIN LATERAL (SELECT ${sort.key} AS v) k
      WHERE $6::text IS NULL OR y.tier_now = $6),
    page AS (
      SELECT * FROM keyed
      WHERE $7::int IS NULL OR sort_group > $7 OR (sort_group = $7 AND (sort_value ${past} $8 OR (sort_value = $8 AND account_id ${past} $9::text)))
      ORDER BY ${order} LIMIT $10)
    SELECT x.score_id, x.account_id, x.as_of, x.scored_at, x.model_version, x.feature_set_version, x.segment, x.churn_probability, x.health_score,
      x.tier_now AS tier, x.recommended_action, x.scorecard_score, x.components, x.status,
      x.name, x.account_segment, x.plan, x.owner, x.mrr, x.renewal_date, ${sort.trend ? 'x.change_7d, x.change_30d' : TRENDS.columns}, x.sort_group, x.sort_value
    FROM page x ${sort.trend ? '' : TRENDS.joins}
    ORDER BY ${order}`,
    values: [...filterValues(opts), opts.tier ?? null, opts.after?.group ?? null, opts.after?.value ?? null, opts.after?.id ?? null, opts.limit],
  };
};

export interface TierSummaryRow {
  tier: string;
  accounts: number;
  /** the MRR of the tier's accounts (periods in force now) */
  mrr: number;
  /** the sum over the tier's customers of MRR x churn probability: the MRR the model expects to be lost */
  expected_mrr_loss: number;
}

/** Accounts with a stored score and their MRR per tier now, with the list's filters (but the tier). */
export const accountSummary = (f: Omit<AccountFilters, 'tier'>): Sql => ({
  text: `WITH ${LISTED}
    SELECT tier_now AS tier, count(*)::int AS accounts, coalesce(sum(mrr), 0) AS mrr,
      round(coalesce(sum(mrr * churn_probability::numeric) FILTER (WHERE status = 'active'), 0), 2) AS expected_mrr_loss
    FROM listed GROUP BY tier_now ORDER BY tier_now`,
  values: filterValues(f),
});

export interface AccountContextRow extends AccountFacts {
  account_id: string;
  /** health of the stored scores of the model version nearest to 7 and 30 days before `trendAt` (none: null) */
  health_7d: number | null;
  health_30d: number | null;
}

/** The context statement; `one`: of one account (`= $1`), whose generic plan PostgreSQL keeps (with `ANY` it re-plans each time). */
const contextText = (one: boolean) => `SELECT a.account_id, a.name, a.segment AS account_segment, coalesce(cur.plan, a.plan) AS plan, a.owner, cur.mrr, cur.renewal_date,
    w7.health_score AS health_7d, w30.health_score AS health_30d
  FROM source.accounts a
  ${currentPeriod('cur', 'coalesce($2::timestamptz, now())')}
  ${nearestHealth('w7', 'a.account_id', '$3::timestamptz', TREND_DAYS.change_7d, '$4::int')}
  ${nearestHealth('w30', 'a.account_id', '$3::timestamptz', TREND_DAYS.change_30d, '$4::int')}
  WHERE ${one ? 'a.account_id = $1::text' : 'a.account_id = ANY($1::text[])'}`;
const CONTEXT = { one: contextText(true), many: contextText(false) };

/**
 * The context of accounts for scores computed now (one set-based statement, prepared once per
 * connection): facts, the subscription period in force at `periodAt` (null: now), and the health of
 * the stored scores of `modelVersion` nearest to 7 and 30 days before `trendAt`. For one account the statement runs on
 * its generic plan: about 0.12 ms of database time and 0.3 ms round trip on the benchmark data
 * (5,000 accounts, 90 daily scores each), where re-planning it each time took 0.75 ms.
 */
export async function readAccountContexts(db: Queryable, ids: readonly string[], periodAt: Date | null, trendAt: Date, modelVersion: number | null): Promise<Map<string, AccountContextRow>> {
  if (!ids.length) return new Map();
  const one = ids.length === 1;
  const res = await (db as Pool).query<AccountContextRow>({
    name: one ? 'churn_account_context_one' : 'churn_account_context', text: one ? CONTEXT.one : CONTEXT.many, values: [one ? ids[0] : ids, periodAt, trendAt, modelVersion],
  });
  return new Map(res.rows.map((r) => [r.account_id, r]));
}

export const accountHistory = (accountId: string, limit: number): Sql => ({
  text: `SELECT ${SUMMARY_COLUMNS} FROM churn.score_history WHERE account_id = $1 ORDER BY as_of DESC, score_id DESC LIMIT $2`,
  values: [accountId, limit],
});

/** The latest stored score at or before a time (or the latest of all); `before`: strictly before it (an earlier as-of). */
export async function storedScoreAt(db: Queryable, accountId: string, at: Date | null, opts: { before?: boolean } = {}): Promise<StoredScoreRow | null> {
  const rows = await query<StoredScoreRow>(db, {
    text: `SELECT * FROM churn.score_history WHERE account_id = $1 AND ($2::timestamptz IS NULL OR as_of < $2 OR (as_of = $2 AND NOT $3))
      ORDER BY as_of DESC, score_id DESC LIMIT 1`,
    values: [accountId, at, opts.before ?? false],
  });
  return rows[0] ?? null;
}

/** Whether any stored score carries this tier (a tier of an earlier serving configuration still names accounts). */
export async function tierInHistory(db: Queryable, tier: string): Promise<boolean> {
  const rows = await query(db, { text: 'SELECT 1 FROM churn.score_history WHERE tier = $1 LIMIT 1', values: [tier] });
  return rows.length > 0;
}

/** The account segments (source.accounts.segment) in the data, when `segment` is not one of them (null when it is). */
export async function otherSegments(db: Queryable, segment: string): Promise<string[] | null> {
  const rows = await query<{ segment: string; hit: boolean }>(db, {
    text: 'SELECT segment, segment = $1 AS hit FROM (SELECT DISTINCT segment FROM source.accounts WHERE segment IS NOT NULL) s ORDER BY segment',
    values: [segment],
  });
  return rows.some((r) => r.hit) ? null : rows.map((r) => r.segment);
}

/** How many scores a model version has stored as of a time (what a start or the daily job would make). */
export async function scoresAsOf(db: Queryable, modelVersion: number | null, asOf: Date): Promise<number> {
  const [r] = await query<{ n: number }>(db, { text: 'SELECT count(*)::int AS n FROM churn.score_history WHERE as_of = $1 AND model_version = $2', values: [asOf, modelVersion] });
  return r.n;
}

export async function accountExists(db: Queryable, accountId: string): Promise<boolean> {
  const rows = await query(db, { text: 'SELECT 1 FROM source.accounts WHERE account_id = $1', values: [accountId] });
  return rows.length > 0;
}
