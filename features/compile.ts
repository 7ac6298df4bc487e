import type { Sql } from '../core/db.ts';
import { ChurnError } from '../core/errors.ts';
import type { Catalog } from './catalog.ts';
import type { FeatureDef, FeatureKind, KindDef } from './definitions/schema.ts';
import { SqlBuilder, daysBefore, int, type Template } from './sql/builder.sql.ts';
import { accountAttr, invoiceStat, paymentFailures, subscriptionAttr, tenure, userCount, userShare } from './sql/commercial.sql.ts';
import { change, ratio, threshold } from './sql/derived.sql.ts';
import { REACH_TOKEN, activeDays, activeUsers, areaBreadth, daysSinceLast, distinctAreas, eventCount, eventCtes, firstValue, longestGap, segmentEdges, stickiness } from './sql/events.sql.ts';
import * as rollup from './sql/rollup.sql.ts';
import { surveyChange, surveyLatest, surveyMean } from './sql/sentiment.sql.ts';
import { attribute, typeCount, typeDays, typeReach, typeWindowSums, typesOf } from './sql/types.sql.ts';
import { ticketCount, ticketStat } from './sql/support.sql.ts';

/** One SQL template per kind of feature. */
const TEMPLATES: { [K in FeatureKind]: Template<KindDef<K>> } = {
  event_count: eventCount, active_days: activeDays, active_users: activeUsers, stickiness, longest_gap: longestGap,
  days_since_last: daysSinceLast, distinct_areas: distinctAreas, area_breadth: areaBreadth, first_value: firstValue,
  type_count: typeCount, type_days: typeDays,
  ticket_count: ticketCount, ticket_stat: ticketStat,
  subscription_attr: subscriptionAttr, account_attr: accountAttr, attribute, tenure, user_count: userCount, user_share: userShare, invoice_stat: invoiceStat, payment_failures: paymentFailures,
  survey_latest: surveyLatest, survey_change: surveyChange, survey_mean: surveyMean,
  ratio, change, threshold,
};

/** The event kinds read from the event rollup instead of the raw events (`events: 'rollup'`). */
const ROLLUP_TEMPLATES: Partial<typeof TEMPLATES> = {
  event_count: rollup.eventCount, active_days: rollup.activeDays, active_users: rollup.activeUsers, stickiness: rollup.stickiness,
  longest_gap: rollup.longestGap, days_since_last: rollup.daysSinceLast, distinct_areas: rollup.distinctAreas,
  area_breadth: rollup.areaBreadth, first_value: rollup.firstValue,
};

const DAY_MS = 86_400_000;

/** Whether `d` is 00:00 UTC, the only time of day the event rollup serves. */
export const isUtcMidnight = (d: Date) => d.getTime() % DAY_MS === 0;
/** The UTC midnight that starts the day of `d`. */
export const utcMidnightOf = (d: Date) => new Date(Math.floor(d.getTime() / DAY_MS) * DAY_MS);
/** The event rollup keeps whole UTC days: it serves only as-of times at 00:00 UTC. */
function requireRollupDates(asOfs: readonly Date[]): void {
  if (!asOfs.every(isUtcMidnight)) throw new ChurnError('CHURN_ERR_VALIDATION', 'the event rollup serves only as-of dates at 00:00 UTC');
}

/** Where event features come from: the raw events (any time of day) or the event rollup (UTC midnights only). */
export type EventSource = 'raw' | 'rollup';

export interface CompileOptions {
  /** restrict to these accounts (the fast path); all accounts when omitted */
  accountIds?: readonly string[];
  /** only accounts with a subscription covering as_of (default true: active customers) */
  requireActive?: boolean;
  /**
   * only the accounts of shard `index` of `count` (by a hash of the account id), for a build split
   * across connections: the shards partition the accounts, and each account's values are unchanged
   */
  shard?: { count: number; index: number };
  /** read event features from the event rollup (every date must be a UTC midnight; default raw) */
  events?: EventSource;
  /**
   * aggregate tickets, users, invoices, payments, surveys and earlier subscriptions per population row
   * (LATERAL) instead of per source grouped and joined; default: when restricted to at most
   * PER_ACCOUNT_MAX accounts. Same values; fewer plan nodes to start for a few accounts, while the
   * grouped form costs less per account for many (measured: 6-17% less for one account, even at 10,
   * 2-8% more at 50-1,000).
   */
  perAccount?: boolean;
  /**
   * also return each account's segment, sign-up time and status (`segment`, `created_at`, `status`:
   * active, trial, churned or never_subscribed), from the row the population already reads
   */
  accountFacts?: boolean;
  /**
   * with `events: 'rollup'`, also return `rollup_valid`: whether the rollup matched the events in the
   * statement's own snapshot (false while a bulk load has suspended it), so that a caller that did
   * not check first can discard the row and read the raw events instead
   */
  rollupGuard?: boolean;
}

/** The longest account list for which the statement aggregates per account by default (see `perAccount`). */
export const PER_ACCOUNT_MAX = 16;
const perAccountFor = (accounts: number) => accounts <= PER_ACCOUNT_MAX;

/**
 * The statement's leading parameters, bound by name ($1..$6 in this order); the catalogue's own
 * constants follow them.
 */
export interface StatementParams {
  /** $1: the observation dates (ISO text) */
  as_ofs: string[];
  /** $2: day 0 of the event scan, in epoch seconds (0 for the rollup, which counts days from the epoch) */
  scan_from_epoch: number;
  /** $3, $4: the range of event time scanned (ISO text) */
  scan_from: string;
  scan_to: string;
  /** $5: segment edges of the event-count windows, in days from day 0 */
  edges: number[];
  /** $6: the accounts, when the statement is restricted to some */
  account_ids?: readonly string[];
}
const PARAM_ORDER = ['as_ofs', 'scan_from_epoch', 'scan_from', 'scan_to', 'edges', 'account_ids'] as const;

/** The values of a compiled statement: its named parameters, then its constants. */
export function bindParams(params: StatementParams, constants: readonly unknown[]): unknown[] {
  const lead = PARAM_ORDER.filter((k) => k !== 'account_ids' || params.account_ids !== undefined).map((k) => params[k]);
  return [...lead, ...constants];
}

export interface CompiledFeatures extends Sql {
  values: unknown[];
  params: StatementParams;
  /** the catalogue's bound constants (after the named parameters) */
  constants: unknown[];
  /** days the event scan reaches back from the earliest date */
  reachDays: number;
}

/** Days back a source reaches for the features of `kind`: their longest window, at least `least`. */
function maxReach(defs: FeatureDef[], kind: FeatureKind, least = 1): number {
  return Math.max(least, ...defs.filter((d) => d.kind === kind).map((d) => ('window' in d && d.window ? d.window.offsetDays + d.window.days : 0)));
}

function checkDates(asOfs: readonly Date[]): void {
  if (asOfs.length === 0) throw new ChurnError('CHURN_ERR_VALIDATION', 'at least one as-of date is needed');
  for (const d of asOfs) if (!(d instanceof Date) || Number.isNaN(d.getTime())) throw new ChurnError('CHURN_ERR_VALIDATION', `invalid as-of date: ${String(d)}`);
  const first = asOfs[0].getTime();
  if (asOfs.some((d) => (((d.getTime() - first) % DAY_MS) + DAY_MS) % DAY_MS !== 0)) {
    throw new ChurnError('CHURN_ERR_VALIDATION', 'as-of dates compiled together must be whole days apart (same time of day)');
  }
}

/** What the assembly steps share: the builder, the options and the account filter. */
interface Assembly {
  b: SqlBuilder;
  catalog: Catalog;
  useRollup: boolean;
  perAccount: boolean;
  accountFilter: ((col: string) => string) | null;
  /** the CTEs, in order, and the joins of the final SELECT */
  ctes: string[];
  joins: string[];
}

/**
 * Compiles the whole catalogue to ONE statement that returns `(as_of, account_id, feature_values
 * double precision[])` for every active account at every date of `asOfs` (catalogue order). The
 * text depends only on the catalogue and on whether accounts are restricted, so it can be prepared
 * once. All dates must share one time of day (whole days apart), which lets one event rollup serve
 * the whole grid; `groupByTimeOfDay` splits other grids. Pure: no database access.
 */
export function compileFeatures(catalog: Catalog, asOfs: readonly Date[], opts: CompileOptions = {}): CompiledFeatures {
  checkDates(asOfs);
  const useRollup = opts.events === 'rollup';
  if (useRollup) requireRollupDates(asOfs);
  const restricted = opts.accountIds !== undefined;
  const b = new SqlBuilder(restricted ? 6 : 5);
  const ids = restricted ? '$6::text[]' : null;
  const shard = opts.shard ? shardPredicate(b, opts.shard) : null;
  const accountFilter = ids || shard ? (col: string) => [ids ? `${col} = ANY(${ids})` : null, shard ? shard(col) : null].filter(Boolean).join(' AND ') : null;
  const a: Assembly = { b, catalog, useRollup, perAccount: opts.perAccount ?? (restricted && perAccountFor(opts.accountIds!.length)), accountFilter, ctes: [], joins: [] };

  const finals = featureExpressions(a);
  const params = scanParams(b, asOfs, useRollup);
  if (restricted) params.account_ids = opts.accountIds;
  a.ctes.push(gridCte(), populationCte(a, opts.requireActive !== false));
  const sources = b.sources();
  if (sources.includes('evk') || sources.includes('evf')) a.ctes.push(useRollup ? rollup.rollupCtes(b, accountFilter) : eventCtes(b, accountFilter));
  if (sources.includes('evf')) a.joins.push(joinOn('evf'));
  if (useRollup && sources.includes('evk')) a.joins.push(joinOn('evk'));
  sourceAggregates(a, sources);
  let text = finalSelect(a, finals, { accountFacts: opts.accountFacts === true, rollupValid: useRollup && opts.rollupGuard === true });
  for (const use of ['sum', 'word'] as const) text = text.replaceAll(REACH_TOKEN[use], int(Math.max(b.reach[use], 1)));
  const constants = b.values.slice(restricted ? 6 : 5);
  return { text, values: bindParams(params, constants), params, constants, reachDays: Math.max(b.reach.sum, b.reach.word, 1) };
}

/**
 * A window that ends before the account was created (the 28 days before the last 28 of an account
 * created 10 days ago) has nothing to count: the value is NULL (its `whenNull` wording), not 0, and
 * so is every feature derived from it (a trend against a period the account did not exist in).
 */
function onlyOnceCreated(def: FeatureDef, expr: string): string {
  const w = 'window' in def ? def.window : undefined;
  return w && w.offsetDays > 0 ? `CASE WHEN p.created_at < ${daysBefore('p.as_of', w.offsetDays)} THEN ${expr} END` : expr;
}

/** Runs every feature's template (registering the aggregates it needs); returns the final expressions. */
function featureExpressions({ b, catalog, useRollup }: Assembly): string[] {
  typesOf(catalog.features).forEach((t, i) => b.typeIndex.set(t, i + 1));
  for (const def of catalog.features) if (def.kind === 'longest_gap' && !b.gapWindows.some((w) => w.days === def.window.days && w.offsetDays === def.window.offsetDays)) b.gapWindows.push(def.window);
  return catalog.features.map((def) => {
    const template = ((useRollup ? ROLLUP_TEMPLATES[def.kind] : undefined) ?? TEMPLATES[def.kind]) as Template;
    const expr = onlyOnceCreated(def, template(def, b));
    b.exprs.set(def.name, expr);
    return `/* ${def.name} */ (${expr})::float8`;
  });
}

/** The dates' scan range and segment edges, from how far back the templates reach. */
function scanParams(b: SqlBuilder, asOfs: readonly Date[], useRollup: boolean): StatementParams {
  const reach = Math.max(b.reach.sum, b.reach.word, 1);
  const times = asOfs.map((d) => d.getTime());
  const scanFrom = Math.min(...times) - reach * DAY_MS;
  return {
    as_ofs: asOfs.map((d) => d.toISOString()),
    // the rollup counts days from 1970-01-01 (day index 0 = the epoch); the raw scan from scan_from
    scan_from_epoch: useRollup ? 0 : scanFrom / 1000,
    scan_from: new Date(scanFrom).toISOString(),
    scan_to: new Date(Math.max(...times)).toISOString(),
    edges: useRollup ? [0] : segmentEdges(b, times.map((t) => Math.round((t - scanFrom) / DAY_MS))),
  };
}

function gridCte(): string {
  return `-- 1. the observation dates, each with its day index gj counted from scan_from ($2, epoch seconds)
grid AS (
  SELECT g.as_of, round((date_part('epoch', g.as_of) - $2::float8) / 86400)::int AS gj, $3::timestamptz AS scan_from, $4::timestamptz AS scan_to, $5::int[] AS edges
  FROM unnest($1::timestamptz[]) AS g(as_of)
)`;
}

function populationCte({ accountFilter }: Assembly, active: boolean): string {
  return `-- 2. the population at each date: accounts created before it${active ? ' with a subscription covering it' : ''} (and that subscription)
pop AS MATERIALIZED (
  SELECT DISTINCT ON (g.as_of, a.account_id) g.as_of, g.gj, a.account_id, a.created_at, a.segment, a.industry, a.region, a.attributes,
         s.subscription_id, s.plan, s.mrr, s.seats, s.billing_period, s.discount_pct, s.is_trial, s.started_at AS sub_started_at
  FROM grid g
  JOIN source.accounts a ON a.created_at < g.as_of${accountFilter ? ` AND ${accountFilter('a.account_id')}` : ''}
  ${active ? '' : 'LEFT '}JOIN source.subscriptions s ON s.account_id = a.account_id AND s.started_at < g.as_of AND (s.ended_at IS NULL OR s.ended_at >= g.as_of)
  ORDER BY g.as_of, a.account_id, s.started_at DESC, s.subscription_id DESC
)`;
}

const joinOn = (alias: string) => `LEFT JOIN ${alias} ON ${alias}.as_of = p.as_of AND ${alias}.account_id = p.account_id`;

/**
 * Per-date aggregates of the sources other than events. Grouped: one CTE per source, grouped by
 * (as_of, account) and merge-joined to the population. Per account (a few accounts, see
 * `perAccount`): one LATERAL aggregate per population row, which needs fewer plan nodes (no sort, no
 * merge join) for the executor to start on every read. The values are the same: an aggregate over
 * no rows is NULL, or a count of 0 that the templates coalesce NULL to anyway.
 */
function sourceAggregates(a: Assembly, sources: string[]): void {
  const { b, catalog, ctes, joins, perAccount, accountFilter } = a;
  const cols = (source: string) => b.columnsOf(source).map(([alias, sql]) => `${sql} AS ${alias}`).join(',\n         ');
  const grouped = (alias: string, from: string, on: string, note: string) => {
    if (perAccount) {
      joins.push(`LEFT JOIN LATERAL ( -- ${note}
  SELECT ${cols(alias)}
  FROM ${from} WHERE ${on}
) ${alias} ON true`);
      return;
    }
    ctes.push(`-- ${ctes.length + 1}. ${note}
${alias} AS (
  SELECT p.as_of, p.account_id,
         ${cols(alias)}
  FROM pop p JOIN ${from} ON ${on}
  GROUP BY p.as_of, p.account_id
)`);
    joins.push(joinOn(alias));
  };
  if (sources.includes('ety')) eventTypeAggregates(a, cols('ety'));
  if (sources.includes('tk')) grouped('tk', 'source.support_tickets t', 't.account_id = p.account_id AND t.opened_at < p.as_of', 'support tickets opened before each date');
  if (sources.includes('usr')) {
    const r = maxReach(catalog.features, 'user_share', 0); // 0: users provisioned at as_of only
    grouped('usr', 'source.users u', `u.account_id = p.account_id AND u.created_at < p.as_of AND (u.deactivated_at IS NULL OR u.deactivated_at ${r ? `> ${daysBefore('p.as_of', r)}` : '>= p.as_of'})`,
      r ? `users provisioned at some time in the ${r} days before each date` : 'users provisioned at each date');
  }
  if (sources.includes('inv')) {
    const r = maxReach(catalog.features, 'invoice_stat');
    grouped('inv', 'source.invoices i', `i.account_id = p.account_id AND i.issued_at < p.as_of AND i.due_at < p.as_of AND i.due_at >= ${daysBefore('p.as_of', r)}`, `invoices due in the ${r} days before each date`);
  }
  if (sources.includes('pay')) {
    const r = maxReach(catalog.features, 'payment_failures');
    grouped('pay', 'source.payment_attempts a', `a.account_id = p.account_id AND a.attempted_at < p.as_of AND a.attempted_at >= ${daysBefore('p.as_of', r)}`, `payment attempts in the ${r} days before each date`);
  }
  if (sources.includes('srv')) {
    const r = maxReach(catalog.features, 'survey_mean');
    ctes.push(`-- ${ctes.length + 1}. survey responses, each with the previous response's score and the time of the next response to the same survey
sr AS (
  SELECT r.account_id, r.survey_type, r.score, r.responded_at,
         lag(r.score) OVER w AS prev_score, lead(r.responded_at) OVER w AS next_at
  FROM source.survey_responses r${accountFilter ? `
  WHERE ${accountFilter('r.account_id')}` : ''}
  WINDOW w AS (PARTITION BY r.account_id, r.survey_type ORDER BY r.responded_at, r.response_id)
)`);
    grouped('srv', 'sr r', `r.account_id = p.account_id AND r.responded_at < p.as_of AND (r.next_at IS NULL OR r.next_at >= p.as_of OR r.responded_at >= ${daysBefore('p.as_of', r)})`,
      `survey responses before each date: the latest per survey, and those of the last ${r} days`);
  }
  for (const so of sources.filter((s) => /^so\d+$/.test(s))) earlierSubscription(a, so, cols(so));
  if (sources.includes('fv')) {
    ctes.push(`-- ${ctes.length + 1}. per account created before the event rollup's reach: facts fixed since (first key-feature use)
fv AS (
  SELECT a.account_id,
         ${cols('fv')}
  FROM (SELECT DISTINCT account_id, created_at FROM pop WHERE created_at < as_of - interval '1 second' * 86400 * ${REACH_TOKEN.word}) a
)`);
    joins.push('LEFT JOIN fv ON fv.account_id = p.account_id');
  }
}

/**
 * The event-type features' source (see features/sql/types.sql.ts): the events of the configured
 * types summed per (as_of, account, type, day), then per type one sum and day count per window,
 * then per (as_of, account). Per account (a few accounts): the same steps in one LATERAL per
 * population row.
 */
function eventTypeAggregates({ b, catalog, ctes, joins, perAccount }: Assembly, cols: string): void {
  const reach = typeReach(catalog.features);
  const sums = typeWindowSums(reach, b.bind([...b.typeIndex.keys()], 'text[]'), b.typeWindows); // in position order
  if (perAccount) {
    joins.push(`LEFT JOIN LATERAL ( -- events of the configured event types in the ${reach} days before each date: per type and day, per type and window
  SELECT ${cols}
  FROM (SELECT ${sums.perType} FROM (SELECT ${sums.days} FROM ${sums.events} WHERE ${sums.on} GROUP BY 1, 2) y GROUP BY y.k) x
) ety ON true`);
    return;
  }
  ctes.push(`-- ${ctes.length + 1}. events of the configured event types in the ${reach} days before each date, summed per type and day
etd AS (
  SELECT p.as_of, p.account_id, ${sums.days}
  FROM pop p JOIN ${sums.events} ON ${sums.on}
  GROUP BY p.as_of, p.account_id, 3, 4
)`);
  ctes.push(`-- ${ctes.length + 1}. the event-type features' aggregates per date and account, from per-type window sums
ety AS (
  SELECT x.as_of, x.account_id,
         ${cols}
  FROM (SELECT y.as_of, y.account_id, ${sums.perType} FROM etd y GROUP BY y.as_of, y.account_id, y.k) x
  GROUP BY x.as_of, x.account_id
)`);
  joins.push(joinOn('ety'));
}

/** The subscription that covered each date minus N days (`so<N>`), as known at the date. */
function earlierSubscription({ ctes, joins, perAccount, accountFilter }: Assembly, so: string, cols: string): void {
  const t = daysBefore('p.as_of', Number(so.slice(2)));
  if (perAccount) {
    joins.push(`LEFT JOIN LATERAL ( -- the subscription that covered each date minus ${so.slice(2)} days, as known at the date
  SELECT ${cols}
  FROM source.subscriptions s WHERE s.account_id = p.account_id AND s.started_at < ${t} AND (s.ended_at IS NULL OR s.ended_at >= ${t})
  ORDER BY s.started_at DESC, s.subscription_id DESC LIMIT 1
) ${so} ON true`);
    return;
  }
  ctes.push(`-- ${ctes.length + 1}. the subscription that covered each date minus ${so.slice(2)} days, as known at the date
${so} AS (
  SELECT DISTINCT ON (p.as_of, p.account_id) p.as_of, p.account_id,
         ${cols}
  FROM pop p JOIN source.subscriptions s ON s.account_id = p.account_id AND s.started_at < ${t} AND (s.ended_at IS NULL OR s.ended_at >= ${t})${accountFilter ? `
    AND ${accountFilter('s.account_id')}` : ''}
  ORDER BY p.as_of, p.account_id, s.started_at DESC, s.subscription_id DESC
)`);
  joins.push(joinOn(so));
}

/**
 * An account's status at the date: covered by a paid subscription (active) or a trial one (trial),
 * churned (one ended before), or never subscribed.
 */
const STATUS = `CASE WHEN p.subscription_id IS NOT NULL THEN CASE WHEN p.is_trial THEN 'trial' ELSE 'active' END
    WHEN EXISTS (SELECT 1 FROM source.subscriptions x WHERE x.account_id = p.account_id AND x.started_at < p.as_of) THEN 'churned'
    ELSE 'never_subscribed' END`;

function finalSelect({ ctes, joins }: Assembly, finals: string[], extra: { accountFacts: boolean; rollupValid: boolean }): string {
  return `WITH
${ctes.join(',\n')}
-- ${ctes.length + 1}. one row per (as_of, account): the features in catalogue order
SELECT p.as_of, p.account_id, ARRAY[
  ${finals.join(',\n  ')}
]::float8[] AS feature_values${extra.accountFacts ? `, p.segment, p.created_at, ${STATUS} AS status` : ''}${extra.rollupValid ? ', (SELECT v.valid FROM churn.event_rollup_state v) AS rollup_valid' : ''}
FROM pop p
${joins.join('\n')}`;
}

/**
 * `col` falls in the shard: abs(hashtext(id) % count) = index. Every other source reaches accounts
 * through the population (`pop`), so restricting it and the event scan restricts the whole statement.
 * Written as "is none of the other shards": the planner estimates `= k` on an expression at 0.5% of
 * the rows and then picks nested loops that cost far more than the shard saves, while `<> ALL` keeps
 * its estimate near the whole population and so the plan of the unsharded statement.
 */
function shardPredicate(b: SqlBuilder, shard: { count: number; index: number }): (col: string) => string {
  const { count, index } = shard;
  if (!Number.isInteger(count) || count < 1 || count > 64 || !Number.isInteger(index) || index < 0 || index >= count) {
    throw new ChurnError('CHURN_ERR_VALIDATION', `invalid shard ${index} of ${count}`);
  }
  const n = b.bind(count, 'int');
  const others = b.bind(Array.from({ length: count }, (_, i) => i).filter((i) => i !== index), 'int[]');
  return (col) => `abs(hashtext(${col}) % ${n}) <> ALL(${others})`;
}

/** Splits dates into groups that can be compiled together (same time of day), each sorted. */
export function groupByTimeOfDay(asOfs: readonly Date[]): Date[][] {
  const groups = new Map<number, Date[]>();
  for (const d of [...new Set(asOfs.map((x) => x.getTime()))].sort((x, y) => x - y)) {
    const key = ((d % DAY_MS) + DAY_MS) % DAY_MS;
    groups.set(key, [...(groups.get(key) ?? []), new Date(d)]);
  }
  return [...groups.values()];
}

/** The forms of the one-date statement for a list of accounts (see `featureStatement`). */
export interface StatementForm {
  /** raw events, or the event rollup (as-of times at 00:00 UTC only) */
  events: EventSource;
  /** per-account LATERAL aggregates (up to PER_ACCOUNT_MAX accounts) or grouped CTEs */
  grouping: 'per_account' | 'grouped';
  /** only accounts with a subscription covering as_of, or every account that existed then */
  population: 'active' | 'all';
}

/** The form for a read of `accounts` accounts as of `asOf`. */
export function formFor(accounts: number, asOf: Date, opts: { events?: 'auto' | 'raw'; requireActive?: boolean } = {}): StatementForm {
  return {
    events: opts.events !== 'raw' && isUtcMidnight(asOf) ? 'rollup' : 'raw',
    grouping: perAccountFor(accounts) ? 'per_account' : 'grouped',
    population: opts.requireActive === false ? 'all' : 'active',
  };
}

/**
 * The statement for one date and a list of accounts in one form, each row with the account's
 * segment, sign-up time and status (and, from the rollup, whether it was valid). Its text does not
 * depend on the date or the accounts, so it is prepared by name; `values` binds them.
 */
export interface FeatureStatement {
  /** a name for preparing the statement (unique per catalogue version and form) */
  name: string;
  text: string;
  form: StatementForm;
  values(asOf: Date, accountIds: readonly string[]): unknown[];
}

/** Compiles the one-date statement of `form` (1970-01-01 stands for the date: a UTC midnight, as the rollup form needs). */
export function featureStatement(catalog: Catalog, form: StatementForm): FeatureStatement {
  const useRollup = form.events === 'rollup';
  const ref = compileFeatures(catalog, [new Date(0)], {
    accountIds: [], requireActive: form.population === 'active', perAccount: form.grouping === 'per_account',
    accountFacts: true, events: form.events, rollupGuard: useRollup,
  });
  const reachMs = ref.reachDays * DAY_MS;
  return {
    name: `churn_features_${catalog.version}_${form.population}_${form.grouping}_${form.events}`,
    text: ref.text,
    form,
    values: (asOf, accountIds) => {
      const t = asOf instanceof Date ? asOf.getTime() : NaN;
      if (Number.isNaN(t)) throw new ChurnError('CHURN_ERR_VALIDATION', `invalid as-of date: ${String(asOf)}`);
      if (useRollup) requireRollupDates([asOf]);
      const iso = asOf.toISOString();
      // the segment edges of one date sit at fixed day offsets from the scan's start: the reference's
      return bindParams({
        as_ofs: [iso], scan_from_epoch: useRollup ? 0 : (t - reachMs) / 1000, scan_from: new Date(t - reachMs).toISOString(),
        scan_to: iso, edges: ref.params.edges, account_ids: accountIds,
      }, ref.constants);
    },
  };
}
