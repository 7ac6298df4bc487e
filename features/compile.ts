import type { Sql } from '../core/db.ts';
import { ChurnError } from '../core/errors.ts';
import type { Catalog } from './catalog.ts';
import type { FeatureDef, FeatureKind, KindDef } from './definitions/schema.ts';
import { SqlBuilder, daysBefore, int, type Template } from './sql/builder.sql.ts';
import { accountAttr, invoiceStat, paymentFailures, subscriptionAttr, tenure, userCount } from './sql/commercial.sql.ts';
import { change, ratio, threshold } from './sql/derived.sql.ts';
import { REACH_TOKEN, activeDays, activeUsers, areaBreadth, daysSinceLast, distinctAreas, eventCount, eventCtes, firstValue, longestGap, segmentEdges, stickiness } from './sql/events.sql.ts';
import * as rollup from './sql/rollup.sql.ts';
import { surveyChange, surveyLatest, surveyMean } from './sql/sentiment.sql.ts';
import { ticketCount, ticketStat } from './sql/support.sql.ts';

/** One SQL template per kind of feature. */
const TEMPLATES: { [K in FeatureKind]: Template<KindDef<K>> } = {
  event_count: eventCount, active_days: activeDays, active_users: activeUsers, stickiness, longest_gap: longestGap,
  days_since_last: daysSinceLast, distinct_areas: distinctAreas, area_breadth: areaBreadth, first_value: firstValue,
  ticket_count: ticketCount, ticket_stat: ticketStat,
  subscription_attr: subscriptionAttr, account_attr: accountAttr, tenure, user_count: userCount, invoice_stat: invoiceStat, payment_failures: paymentFailures,
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
   * also return each account's segment and sign-up time (`segment`, `created_at`), from the row the
   * population already reads: the scoring fast path needs both, and so makes no second read for them
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

export interface CompiledFeatures extends Sql {
  values: unknown[];
  /** the range of event time the statement scans */
  scanFrom: Date;
  scanTo: Date;
  /** days the event scan reaches back from the earliest date */
  reachDays: number;
}

function maxReach(defs: FeatureDef[], kind: FeatureKind): number {
  return Math.max(1, ...defs.filter((d) => d.kind === kind).map((d) => ('window' in d && d.window ? d.window.offsetDays + d.window.days : 0)));
}

/**
 * Compiles the whole catalogue to ONE statement that returns `(as_of, account_id, feature_values
 * double precision[])` for every active account at every date of `asOfs` (catalogue order). The
 * text depends only on the catalogue and on whether accounts are restricted, so it can be prepared
 * once. All dates must share one time of day (whole days apart), which lets one event rollup serve
 * the whole grid; `groupByTimeOfDay` splits other grids. Pure: no database access.
 */
export function compileFeatures(catalog: Catalog, asOfs: readonly Date[], opts: CompileOptions = {}): CompiledFeatures {
  if (asOfs.length === 0) throw new ChurnError('CHURN_ERR_VALIDATION', 'at least one as-of date is needed');
  for (const d of asOfs) if (!(d instanceof Date) || Number.isNaN(d.getTime())) throw new ChurnError('CHURN_ERR_VALIDATION', `invalid as-of date: ${String(d)}`);
  const first = asOfs[0].getTime();
  if (asOfs.some((d) => (((d.getTime() - first) % DAY_MS) + DAY_MS) % DAY_MS !== 0)) {
    throw new ChurnError('CHURN_ERR_VALIDATION', 'as-of dates compiled together must be whole days apart (same time of day)');
  }
  const useRollup = opts.events === 'rollup';
  if (useRollup) requireRollupDates(asOfs);
  const restricted = opts.accountIds !== undefined;
  const perAccount = opts.perAccount ?? (restricted && perAccountFor(opts.accountIds!.length));
  // $1 dates, $2 scan_from in epoch seconds (day 0 of the rollup), $3/$4 scan range, $5 segment edges, $6 accounts
  const b = new SqlBuilder([asOfs.map((d) => d.toISOString()), null, null, null, null, ...(restricted ? [opts.accountIds] : [])]);
  const ids = restricted ? '$6::text[]' : null;
  const shard = opts.shard ? shardPredicate(b, opts.shard) : null;
  const accountFilter = ids || shard ? (col: string) => [ids ? `${col} = ANY(${ids})` : null, shard ? shard(col) : null].filter(Boolean).join(' AND ') : null;

  for (const def of catalog.features) if (def.kind === 'longest_gap' && !b.gapWindows.some((w) => w.days === def.window.days && w.offsetDays === def.window.offsetDays)) b.gapWindows.push(def.window);
  const finals: string[] = [];
  for (const def of catalog.features) {
    const template = ((useRollup ? ROLLUP_TEMPLATES[def.kind] : undefined) ?? TEMPLATES[def.kind]) as Template;
    const expr = template(def, b);
    b.exprs.set(def.name, expr);
    finals.push(`/* ${def.name} */ (${expr})::float8`);
  }

  const reach = Math.max(b.reach.sum, b.reach.word, 1);
  const times = asOfs.map((d) => d.getTime());
  const scanFrom = new Date(Math.min(...times) - reach * DAY_MS);
  const scanTo = new Date(Math.max(...times));
  // the rollup counts days from 1970-01-01 (day index 0 = the epoch); the raw scan from scan_from
  b.values[1] = useRollup ? 0 : scanFrom.getTime() / 1000;
  b.values[2] = scanFrom.toISOString();
  b.values[3] = scanTo.toISOString();
  b.values[4] = useRollup ? [0] : segmentEdges(b, times.map((t) => Math.round((t - scanFrom.getTime()) / DAY_MS)));

  const ctes: string[] = [];
  ctes.push(`-- 1. the observation dates, each with its day index gj counted from scan_from ($2, epoch seconds)
grid AS (
  SELECT g.as_of, round((date_part('epoch', g.as_of) - $2::float8) / 86400)::int AS gj, $3::timestamptz AS scan_from, $4::timestamptz AS scan_to, $5::int[] AS edges
  FROM unnest($1::timestamptz[]) AS g(as_of)
)`);
  const active = opts.requireActive !== false;
  ctes.push(`-- 2. the population at each date: accounts created before it${active ? ' with a subscription covering it' : ''} (and that subscription)
pop AS MATERIALIZED (
  SELECT DISTINCT ON (g.as_of, a.account_id) g.as_of, g.gj, a.account_id, a.created_at, a.segment, a.industry, a.region,
         s.plan, s.mrr, s.seats, s.billing_period, s.discount_pct, s.is_trial
  FROM grid g
  JOIN source.accounts a ON a.created_at < g.as_of${accountFilter ? ` AND ${accountFilter('a.account_id')}` : ''}
  ${active ? '' : 'LEFT '}JOIN source.subscriptions s ON s.account_id = a.account_id AND s.started_at < g.as_of AND (s.ended_at IS NULL OR s.ended_at >= g.as_of)
  ORDER BY g.as_of, a.account_id, s.started_at DESC, s.subscription_id DESC
)`);
  const sources = b.sources();
  if (sources.includes('evk') || sources.includes('evf')) ctes.push(useRollup ? rollup.rollupCtes(b, accountFilter) : eventCtes(b, accountFilter));
  const joins: string[] = [];
  const per = (alias: string) => `LEFT JOIN ${alias} ON ${alias}.as_of = p.as_of AND ${alias}.account_id = p.account_id`;
  const cols = (source: string) => b.columnsOf(source).map(([alias, sql]) => `${sql} AS ${alias}`).join(',\n         ');
  // Per-date aggregates of the other sources. Grouped: one CTE per source, grouped by (as_of,
  // account) and merge-joined to the population. Per account (a few accounts, see `perAccount`):
  // one LATERAL aggregate per population row, which needs fewer plan nodes (no sort, no merge join)
  // for the executor to start on every read. The values are the same: an aggregate over no rows is
  // NULL, or a count of 0 that the templates coalesce NULL to anyway.
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
    joins.push(per(alias));
  };
  if (sources.includes('evf')) joins.push(per('evf'));
  if (useRollup && sources.includes('evk')) joins.push(per('evk'));
  if (sources.includes('tk')) grouped('tk', 'source.support_tickets t', 't.account_id = p.account_id AND t.opened_at < p.as_of', 'support tickets opened before each date');
  if (sources.includes('usr')) grouped('usr', 'source.users u', 'u.account_id = p.account_id AND u.created_at < p.as_of AND (u.deactivated_at IS NULL OR u.deactivated_at >= p.as_of)', 'users provisioned at each date');
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
  for (const so of sources.filter((s) => /^so\d+$/.test(s))) {
    const t = daysBefore('p.as_of', Number(so.slice(2)));
    if (perAccount) {
      joins.push(`LEFT JOIN LATERAL ( -- the subscription that covered each date minus ${so.slice(2)} days, as known at the date
  SELECT ${cols(so)}
  FROM source.subscriptions s WHERE s.account_id = p.account_id AND s.started_at < ${t} AND (s.ended_at IS NULL OR s.ended_at >= ${t})
  ORDER BY s.started_at DESC, s.subscription_id DESC LIMIT 1
) ${so} ON true`);
      continue;
    }
    ctes.push(`-- ${ctes.length + 1}. the subscription that covered each date minus ${so.slice(2)} days, as known at the date
${so} AS (
  SELECT DISTINCT ON (p.as_of, p.account_id) p.as_of, p.account_id,
         ${cols(so)}
  FROM pop p JOIN source.subscriptions s ON s.account_id = p.account_id AND s.started_at < ${t} AND (s.ended_at IS NULL OR s.ended_at >= ${t})${accountFilter ? `
    AND ${accountFilter('s.account_id')}` : ''}
  ORDER BY p.as_of, p.account_id, s.started_at DESC, s.subscription_id DESC
)`);
    joins.push(per(so));
  }
  if (sources.includes('fv')) {
    ctes.push(`-- ${ctes.length + 1}. per account created before the event rollup's reach: facts fixed since (first key-feature use)
fv AS (
  SELECT a.account_id,
         ${cols('fv')}
  FROM (SELECT DISTINCT account_id, created_at FROM pop WHERE created_at < as_of - interval '1 second' * 86400 * ${REACH_TOKEN.word}) a
)`);
    joins.push('LEFT JOIN fv ON fv.account_id = p.account_id');
  }
  let text = `WITH
${ctes.join(',\n')}
-- ${ctes.length + 1}. one row per (as_of, account): the features in catalogue order
SELECT p.as_of, p.account_id, ARRAY[
  ${finals.join(',\n  ')}
]::float8[] AS feature_values${opts.accountFacts ? ', p.segment, p.created_at' : ''}${useRollup && opts.rollupGuard ? ', (SELECT v.valid FROM churn.event_rollup_state v) AS rollup_valid' : ''}
FROM pop p
${joins.join('\n')}`;
  for (const use of ['sum', 'word'] as const) text = text.replaceAll(REACH_TOKEN[use], int(Math.max(b.reach[use], 1)));
  return { text, values: b.values, scanFrom, scanTo, reachDays: reach };
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

/**
 * The fast path's statement: one as-of time, a list of accounts; its text compiled once per catalogue
 * and form (per account for up to PER_ACCOUNT_MAX accounts, grouped for more). Each row also carries
 * the account's segment and sign-up time (`accountFacts`).
 */
export interface FeatureStatement {
  /** a name for preparing the statement (unique per catalogue version, population and form) */
  name: string;
  text: string;
  /** the statement's values for `asOf` and `accountIds`: those of `compileFeatures(catalog, [asOf], { accountIds, accountFacts: true })` */
  values(asOf: Date, accountIds: readonly string[]): unknown[];
}

const statements = new WeakMap<Catalog, Map<string, FeatureStatement>>();

/**
 * `compileFeatures` for one date and a list of accounts, without recompiling on every call (about
 * 0.2 ms each, on the scoring path): the text does not depend on the date or the accounts, and of the
 * values only the date, the scan range and the accounts do (the segment edges of a single date are
 * fixed, as its window edges sit at fixed day offsets from the scan's start). With `events: 'rollup'`
 * (as-of times at 00:00 UTC only) the event features come from the event rollup, and each row also
 * carries `rollup_valid` (see `rollupGuard`).
 */
export function featureStatement(catalog: Catalog, opts: { requireActive?: boolean; accounts?: number; events?: EventSource } = {}): FeatureStatement {
  const active = opts.requireActive !== false;
  const perAccount = perAccountFor(opts.accounts ?? 1);
  const useRollup = opts.events === 'rollup';
  const key = `${active ? 'active' : 'all'}${perAccount ? '' : '_many'}${useRollup ? '_rollup' : ''}`;
  let byKey = statements.get(catalog);
  if (!byKey) statements.set(catalog, (byKey = new Map()));
  const cached = byKey.get(key);
  if (cached) return cached;
  // (1970-01-01 is a UTC midnight, as the rollup form needs)
  const ref = compileFeatures(catalog, [new Date(0)], { accountIds: [], requireActive: active, perAccount, accountFacts: true, events: opts.events, rollupGuard: useRollup });
  const fixed = ref.values;
  for (const v of fixed) if (Array.isArray(v)) Object.freeze(v); // bound on every read: see arrayLiteral
  const reachMs = ref.reachDays * DAY_MS;
  const stmt: FeatureStatement = {
    name: `churn_features_${catalog.version}_${key}`,
    text: ref.text,
    values: (asOf, accountIds) => {
      const t = asOf instanceof Date ? asOf.getTime() : NaN;
      if (Number.isNaN(t)) throw new ChurnError('CHURN_ERR_VALIDATION', `invalid as-of date: ${String(asOf)}`);
      if (useRollup) requireRollupDates([asOf]);
      const iso = asOf.toISOString();
      const values = fixed.slice();
      values[0] = [iso];
      if (!useRollup) values[1] = (t - reachMs) / 1000; // the rollup counts days from the epoch: 0, fixed
      values[2] = new Date(t - reachMs).toISOString();
      values[3] = iso;
      values[5] = accountIds;
      return values;
    },
  };
  byKey.set(key, stmt);
  return stmt;
}
