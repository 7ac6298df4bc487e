import { ChurnError } from '../../core/errors.ts';
import type { KindDef, Window } from '../definitions/schema.ts';
import { EVENT_SET_ID, MAX_WORD_REACH, daysBefore, daysBetween, int, type SqlBuilder, type Template } from './builder.sql.ts';

/*
 * Event features. The events of [scan_from, scan_to) are read once and rolled up in the same pass
 * into three small grouping sets, with days counted in whole 24-hour buckets `j` from scan_from ($2):
 *   segment (account, seg):        summed quantity per segment between consecutive window edges ($5)
 *   user    (account, user, word): a 64-day bitmap of the days each user was active
 *   area    (account, event type, word): the same per event type, then mapped to its feature area
 *                                   (with a bitmap of key-feature days) on the small rollup
 * Level 1 (`evk`) joins the rollup to the dates and shifts each bitmap into the date's own window,
 * giving per (as_of, account, user/area) a text of '0'/'1' of length W (the word reach), whose
 * character i (1-based) says whether there was activity i - 1 whole days before as_of. Level 2
 * (`evf`) aggregates per (as_of, account) and ORs the user bitmaps into the account's day string `ds`.
 */

/** Placeholders resolved when the statement is assembled (the final reaches are known only then). */
export const REACH_TOKEN = { sum: '/*reach:sum*/', word: '/*reach:word*/' } as const;
const W = REACH_TOKEN.word;
const reachOf = (w: Window) => w.offsetDays + w.days;

/** The part of a day string inside window `w`. */
const cut = (str: string, w: Window) => `substr(${str}, ${int(w.offsetDays + 1)}, ${int(w.days)})`;
const anyIn = (str: string, w: Window) => `strpos(${cut(str, w)}, '1') > 0`;
const countIn = (str: string, w: Window) => `length(replace(${cut(str, w)}, '0', ''))`;
const keyed = (set: 'user' | 'area') => `gs = ${EVENT_SET_ID[set]} AND k IS NOT NULL`;

function needWords(b: SqlBuilder, days: number, what: string): void {
  if (days > MAX_WORD_REACH) throw new ChurnError('CHURN_ERR_VALIDATION', `feature ${what}: activity windows may reach at most ${MAX_WORD_REACH} days back (offset + days)`);
  b.needEvents('word', days);
}

/** Sum of event quantities in the window (the number of events when each row is one event). */
export const eventCount: Template<KindDef<'event_count'>> = (def, b) => {
  const w = def.window;
  b.needEvents('sum', reachOf(w));
  b.sumWindows.push(w);
  const c = b.col('evk', `sum(x.q) FILTER (WHERE x.gs = ${EVENT_SET_ID.segment} AND x.lo >= x.gj - ${int(reachOf(w))} AND x.hi <= x.gj - ${int(w.offsetDays)})`);
  return `coalesce(${b.col('evf', `sum(${c})`)}, 0)`;
};

export const activeDays: Template<KindDef<'active_days'>> = (def, b) => {
  needWords(b, reachOf(def.window), def.name);
  return `coalesce(${countIn('evf.ds', def.window)}, 0)`;
};

export const activeUsers: Template<KindDef<'active_users'>> = (def, b) => {
  needWords(b, reachOf(def.window), def.name);
  return `coalesce(${b.col('evf', `count(*) FILTER (WHERE ${keyed('user')} AND ${anyIn('s', def.window)})`)}, 0)`;
};

/** Mean daily active users over the window divided by the users active in the window (DAU/MAU). */
export const stickiness: Template<KindDef<'stickiness'>> = (def, b) => {
  needWords(b, reachOf(def.window), def.name);
  return b.col('evf', `sum(${countIn('s', def.window)}) FILTER (WHERE ${keyed('user')})::float8 / ${int(def.window.days)}
      / nullif(count(*) FILTER (WHERE ${keyed('user')} AND ${anyIn('s', def.window)}), 0)`);
};

/**
 * Longest run of consecutive inactive days inside the window, counting only the days since sign-up
 * (the day buckets that end after created_at): a 10-day-old account has at most 10 inactive days.
 * The window's lived part when never active in it.
 */
export const longestGap: Template<KindDef<'longest_gap'>> = (def, b) => {
  const w = def.window;
  needWords(b, reachOf(w), def.name);
  const lived = `greatest(0, least(${int(w.days)}, ceil(extract(epoch FROM (p.as_of - p.created_at)) / 86400)::int - ${int(w.offsetDays)}))`;
  return `coalesce((SELECT max(length(z)) FROM unnest(string_to_array(substr(evf.ds, ${int(w.offsetDays + 1)}, ${lived}), '1')) AS z), ${lived})`;
};

/**
 * Whole days since the last event (0 = within the last 24 hours). Beyond the bitmaps' reach, one
 * index probe per account that had no event inside it (`churn.last_event_before`, migration 011: a
 * function, so that the plan holds no scan of every partition); NULL when there was never any event.
 */
export const daysSinceLast: Template<KindDef<'days_since_last'>> = (def, b) => {
  needWords(b, 1, def.name);
  return `coalesce(nullif(strpos(evf.ds, '1'), 0) - 1,
      p.gj - 1 - floor((date_part('epoch', churn.last_event_before(p.account_id, p.as_of - interval '1 second' * 86400 * ${W})) - $2::float8) / 86400)::int)`;
};

/** Feature areas used in the window (or only areas whose key feature was used; optionally as a share of the catalogue). */
export const distinctAreas: Template<KindDef<'distinct_areas'>> = (def, b) => {
  needWords(b, reachOf(def.window), def.name);
  const str = def.keyOnly ? b.col('evk', `right(${shifted('keybits', 1)}::bit(64)::text || ${shifted('keybits', 0)}::bit(64)::text, ${W})`) : 's';
  const count = `coalesce(${b.col('evf', `count(*) FILTER (WHERE ${keyed('area')} AND ${anyIn(str, def.window)})`)}, 0)`;
  if (!def.share) return count;
  const total = `(SELECT count(DISTINCT t.feature_area) FROM source.event_types t${def.keyOnly ? ' WHERE t.is_key_feature' : ''})`;
  return `${count}::float8 / nullif(${total}, 0)`;
};

/** Feature areas used on an average active day of the window: area-days over active days (NULL without activity). */
export const areaBreadth: Template<KindDef<'area_breadth'>> = (def, b) => {
  needWords(b, reachOf(def.window), def.name);
  const areaDays = b.col('evf', `sum(${countIn('s', def.window)}) FILTER (WHERE ${keyed('area')})`);
  return `${areaDays}::float8 / nullif(${countIn('evf.ds', def.window)}, 0)`;
};

/**
 * The first key-feature event at or after sign-up and within `withinDays` of it, as days after
 * sign-up, by one index probe on the events of row `row` (an alias with account_id and created_at)
 * through `churn.first_key_days` (migration 011); with `beforeAsOf`, only events before the row's
 * as_of count. Events recorded before the account's creation are ignored.
 */
export function firstKeyProbe(withinDays: number, row = 'p', beforeAsOf = true): string {
  const until = daysBefore(`${row}.created_at`, -withinDays);
  return `churn.first_key_days(${row}.account_id, ${row}.created_at, ${beforeAsOf ? `least(${row}.as_of, ${until})` : until})`;
}

/**
 * Days from sign-up to the first key-feature event at or after it, if that happened within
 * `withinDays` of sign-up and before as_of; NULL otherwise. Accounts created inside the bitmaps'
 * reach are answered from the rollup (or, when an event came before sign-up, by `firstKeyProbe`);
 * older ones by one index probe per account (`fv`), whose answer no longer depends on as_of.
 */
export const firstValue: Template<KindDef<'first_value'>> = (def, b) => {
  needWords(b, def.withinDays, def.name);
  const c = b.col('evk', 'min(x.first_key_at) FILTER (WHERE x.first_key_at < x.as_of)');
  const first = b.col('evf', `min(${c}) FILTER (WHERE gs = ${EVENT_SET_ID.area})`);
  // accounts older than the reach: every event within withinDays of sign-up is before as_of
  const probe = b.col('fv', firstKeyProbe(def.withinDays, 'a', false));
  return `CASE WHEN p.created_at >= p.as_of - interval '1 second' * 86400 * ${W}
      THEN CASE WHEN ${first} < p.created_at THEN ${firstKeyProbe(def.withinDays)}
                WHEN ${first} < ${daysBefore('p.created_at', -def.withinDays)} THEN greatest(0, ${daysBetween('p.created_at', first)}) END
      ELSE ${probe} END`;
};

/**
 * A rollup word's bitmap moved into 64-bit word `k` of the date's window [gj - W, gj): a logical
 * shift by n - 64 * k with n = 64 * pos - (gj - W), zero when shifted out entirely.
 */
function shiftExpr(bits: string, n: string): string {
  return `CASE WHEN ${n} >= 64 OR ${n} <= -64 THEN 0::bigint WHEN ${n} >= 0 THEN ${bits} << ${n}
      ELSE (${bits} >> -${n}) & ((1::bigint << (64 + ${n})) - 1) END`;
}
const shifted = (bits: 'bits' | 'keybits', k: 0 | 1) => `bit_or(x.${bits === 'bits' ? 'b' : 'kb'}${k})`;

/** Sorted, distinct segment edges (days from scan_from) for the event-count windows of every date. */
export function segmentEdges(b: SqlBuilder, gjs: number[]): number[] {
  const edges = new Set<number>();
  for (const gj of gjs) for (const w of b.sumWindows) edges.add(gj - w.offsetDays - w.days).add(gj - w.offsetDays);
  return edges.size ? [...edges].sort((x, y) => x - y) : [0]; // width_bucket needs at least one edge
}

/** The single pass over the events and the two aggregation levels, as CTE text. */
export function eventCtes(b: SqlBuilder, accountFilter: ((col: string) => string) | null): string {
  const l1 = b.columnsOf('evk').map(([alias, sql]) => `,\n         ${sql} AS ${alias}`).join('');
  const l2 = b.columnsOf('evf').map(([alias, sql]) => `,\n         ${sql} AS ${alias}`).join('');
  const word = (c: string) => `coalesce(bit_or(${c}) FILTER (WHERE gs = ${EVENT_SET_ID.user}), 0)::bit(64)::text`;
  return `-- 3. one pass over the events of [scan_from, scan_to), rolled up per (account, segment), (account, user, word), (account, event type, word)
ev0 AS MATERIALIZED (
  SELECT e.account_id, GROUPING(e.user_id, e.event_type) AS gs,
         CASE GROUPING(e.user_id, e.event_type) WHEN 1 THEN e.user_id WHEN 2 THEN e.event_type END AS k,
         CASE GROUPING(e.user_id, e.event_type) WHEN 3 THEN e.seg ELSE e.w END AS pos,
         sum(e.quantity)::float8 AS q, bit_or(e.b) AS bits, min(e.occurred_at) AS first_at
  FROM (SELECT x.account_id, x.user_id, x.event_type, x.occurred_at, x.quantity, x.j >> 6 AS w, 1::bigint << (x.j & 63) AS b, width_bucket(x.j, $5::int[]) AS seg
        FROM (SELECT y.account_id, y.user_id, y.occurred_at, y.quantity, y.event_type, floor((date_part('epoch', y.occurred_at) - $2::float8) / 86400)::int AS j
              FROM source.events y
              WHERE y.occurred_at >= $3::timestamptz AND y.occurred_at < $4::timestamptz${accountFilter ? ` AND ${accountFilter('y.account_id')}` : ''}
              OFFSET 0) x) e
  GROUP BY GROUPING SETS ((e.account_id, e.seg), (e.account_id, e.user_id, e.w), (e.account_id, e.event_type, e.w))
),
-- 3b. event types mapped to their feature area (and key-feature days) on the small rollup
ev AS (
  SELECT ev0.account_id, ev0.gs, CASE WHEN ev0.gs = ${EVENT_SET_ID.area} THEN t.feature_area ELSE ev0.k END AS k, ev0.pos,
         CASE WHEN ev0.gs = ${EVENT_SET_ID.segment} THEN ($5::int[])[ev0.pos] END AS lo,
         CASE WHEN ev0.gs = ${EVENT_SET_ID.segment} THEN ($5::int[])[ev0.pos + 1] END AS hi,
         ev0.q, ev0.bits, CASE WHEN t.is_key_feature THEN ev0.bits ELSE 0 END AS keybits,
         CASE WHEN t.is_key_feature THEN ev0.first_at END AS first_key_at
  FROM ev0 LEFT JOIN source.event_types t ON ev0.gs = ${EVENT_SET_ID.area} AND t.event_type = ev0.k
),
-- 3c. for each date, the rollup positions (64-day words, segments) its windows touch: an equi-join key
gp AS (
  SELECT g.as_of, g.gj, false AS segment, w.pos FROM grid g, generate_series(greatest(g.gj - ${W}, 0) / 64, greatest(g.gj - 1, 0) / 64) AS w(pos)
  UNION ALL
  SELECT g.as_of, g.gj, true, s.pos FROM grid g, generate_series(width_bucket(g.gj - ${REACH_TOKEN.sum}, $5::int[]), width_bucket(g.gj - 1, $5::int[])) AS s(pos)
),
-- 4. rollup rows joined to the dates whose windows they touch, bitmaps shifted into each date's window
--    (OFFSET 0 keeps the shifts computed once per row), then aggregated per (as_of, account, set, key)
evk AS (
  SELECT x.as_of, x.account_id, x.gs, x.k,
         ${shifted('bits', 0)} AS w0,
         ${shifted('bits', 1)} AS w1,
         right(${shifted('bits', 1)}::bit(64)::text || ${shifted('bits', 0)}::bit(64)::text, ${W}) AS s${l1}
  FROM (SELECT y.as_of, y.gj, y.account_id, y.gs, y.k, y.q, y.lo, y.hi, y.first_key_at,
               ${shiftExpr('y.bits', 'y.n')} AS b0, ${shiftExpr('y.bits', 'y.n1')} AS b1,
               ${shiftExpr('y.keybits', 'y.n')} AS kb0, ${shiftExpr('y.keybits', 'y.n1')} AS kb1
        FROM (SELECT g.as_of, g.gj, ev.*, ev.pos * 64 - (g.gj - ${W}) AS n, ev.pos * 64 - (g.gj - ${W}) - 64 AS n1
              FROM ev JOIN gp g ON g.segment = (ev.gs = ${EVENT_SET_ID.segment}) AND g.pos = ev.pos
              WHERE (ev.gs = ${EVENT_SET_ID.segment} AND ev.lo >= g.gj - ${REACH_TOKEN.sum} AND ev.hi <= g.gj)
                 OR (ev.gs <> ${EVENT_SET_ID.segment} AND ev.pos * 64 < g.gj AND ev.pos * 64 + 64 > g.gj - ${W})
              OFFSET 0) y
        OFFSET 0) x
  GROUP BY x.as_of, x.account_id, x.gs, x.k
),
-- 5. event aggregates per (as_of, account); ds = the account's day string (any user, or a system event)
evf AS (
  SELECT evk.as_of, evk.account_id,
         right(${word('w1')} || ${word('w0')}, ${W}) AS ds${l2}
  FROM evk GROUP BY evk.as_of, evk.account_id
)`;
}
