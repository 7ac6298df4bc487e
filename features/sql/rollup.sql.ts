import type { KindDef, Window } from '../definitions/schema.ts';
import { daysBefore, daysBetween, int, type SqlBuilder, type Template } from './builder.sql.ts';
import { REACH_TOKEN, firstKeyProbe } from './events.sql.ts';

/*
 * Event features read from the event rollup (`churn.event_rollup`, migration 010) instead of the raw
 * events; used when every date is a UTC midnight, so that a date's day index `gj` (days since
 * 1970-01-01) splits whole UTC days exactly as the rollup does. Two aggregation levels:
 *   evk: per (as_of, account), over the account's user and feature-area rows (`r`), each holding a
 *        bit per day since `r.base_day`: a window's days are a substring of it
 *   evf: per (as_of, account), the account row (`a`): its active days ascending and the quantity
 *        summed through each, so a window's active days and events are two binary searches
 *        (width_bucket) away
 * Both are MATERIALIZED (with one date the planner expects a handful of rows and would otherwise
 * re-aggregate evk once per account) and joined to the population separately. The values equal
 * those of the raw path (tests/features-rollup.test.ts compares both).
 */

/** Bits of rollup row `r` inside window `w` of the date (a shorter string where the row starts later). */
const windowBits = (col: string, w: Window) => `substring(${col} from g.gj - ${int(w.offsetDays + w.days)} - r.base_day + 1 for ${int(w.days)})`;
const anyIn = (col: string, w: Window) => `bit_count(${windowBits(col, w)}) > 0`;
/** Index in `a.days` of the last active day before `day` (0 when none). */
const before = (day: string) => `width_bucket(${day} - 1, a.days)`;
const edge = (offset: number) => `g.gj - ${int(offset)}`;
/** The account's active days in window `w` (from the account row `a`). */
const activeIn = (w: Window) => `${before(edge(w.offsetDays))} - ${before(edge(w.offsetDays + w.days))}`;

export const eventCount: Template<KindDef<'event_count'>> = (def, b) => {
  const w = def.window;
  const upTo = (day: string) => `coalesce(a.cum[${before(day)}], 0)`;
  return `coalesce(${b.col('evf', `${upTo(edge(w.offsetDays))} - ${upTo(edge(w.offsetDays + w.days))}`)}, 0)`;
};

export const activeDays: Template<KindDef<'active_days'>> = (def, b) => `coalesce(${b.col('evf', activeIn(def.window))}, 0)`;

/** An evk aggregate over windows `ws` (which set how far back evk reads rows), as the final SELECT refers to it. */
function fromEvk(b: SqlBuilder, sql: string, ...ws: Window[]): string {
  for (const w of ws) b.needEvents('word', w.offsetDays + w.days);
  return `evk.${b.col('evk', sql)}`;
}

export const activeUsers: Template<KindDef<'active_users'>> = (def, b) =>
  `coalesce(${fromEvk(b, `count(*) FILTER (WHERE r.kind = 1 AND ${anyIn('r.bits', def.window)})`, def.window)}, 0)`;

export const stickiness: Template<KindDef<'stickiness'>> = (def, b) => {
  const w = def.window;
  const days = fromEvk(b, `sum(bit_count(${windowBits('r.bits', w)})) FILTER (WHERE r.kind = 1)`, w);
  const users = fromEvk(b, `count(*) FILTER (WHERE r.kind = 1 AND ${anyIn('r.bits', w)})`, w);
  return `${days}::float8 / ${int(w.days)} / nullif(${users}, 0)`;
};

/**
 * Longest run of inactive days in the window, counting only the days since sign-up (`a.cday`, the
 * UTC day of created_at: the window starts there when that came later): the days before its first
 * active day, after its last, and the largest gap stored before each active day after the first one
 * inside it. The largest inner gaps of all the catalogue's longest-gap windows come from one scan of
 * the widest slice of `a.gaps` per row (a subquery per row is the expensive part).
 */
export const longestGap: Template<KindDef<'longest_gap'>> = (def, b) => {
  const ws = b.gapWindows.length ? b.gapWindows : [def.window];
  const k = ws.findIndex((w) => w.days === def.window.days && w.offsetDays === def.window.offsetDays);
  const from = (w: Window) => `greatest(${edge(w.offsetDays + w.days)}, a.cday)`;
  const to = (w: Window) => edge(w.offsetDays);
  const reach = Math.max(...ws.map((w) => w.offsetDays + w.days));
  const near = Math.min(...ws.map((w) => w.offsetDays));
  // f0/l0: the first and last active-day index of the widest range; f<i>/l<i>: of window i
  const bounds = [`${before(`greatest(${edge(reach)}, a.cday)`)} + 1 AS f0`, `${before(edge(near))} AS l0`,
    ...ws.map((w, i) => `${before(from(w))} + 1 AS f${i + 1}, ${before(to(w))} AS l${i + 1}`)].join(', ');
  const maxima = ws.map((_, i) => `max(u.v) FILTER (WHERE u.j > k.f${i + 1} - k.f0 AND u.j <= k.l${i + 1} - k.f0)`).join(', ');
  const inner = b.col('evf', `(SELECT ARRAY[${maxima}] FROM (SELECT ${bounds} OFFSET 0) k, unnest(a.gaps[k.f0 + 1 : k.l0]) WITH ORDINALITY AS u(v, j))`);
  const w = def.window;
  const first = `${before(from(w))} + 1`;
  const last = before(to(w));
  const active = b.col('evf', `${last} >= ${first}`);
  const lead = b.col('evf', `a.days[${first}] - ${from(w)}`);
  const tail = b.col('evf', `${to(w)} - 1 - a.days[${last}]`);
  // never active in the window (or no event at all): the window's lived days
  const start = `greatest(p.gj - ${int(w.offsetDays + w.days)}, floor(date_part('epoch', p.created_at) / 86400)::int)`;
  const lived = `greatest(0, least(${int(w.days)}, p.gj - ${int(w.offsetDays)} - ${start}))`;
  return `coalesce(CASE WHEN ${active} THEN greatest(${lead}, ${tail}, ${inner}[${k + 1}]) END, ${lived})`;
};

export const daysSinceLast: Template<KindDef<'days_since_last'>> = (_def, b) =>
  b.col('evf', `g.gj - 1 - a.days[${before('g.gj')}]`);

export const distinctAreas: Template<KindDef<'distinct_areas'>> = (def, b) => {
  const count = `coalesce(${fromEvk(b, `count(*) FILTER (WHERE r.kind = 2 AND ${anyIn(def.keyOnly ? 'r.key_bits' : 'r.bits', def.window)})`, def.window)}, 0)`;
  if (!def.share) return count;
  const total = `(SELECT count(DISTINCT t.feature_area) FROM source.event_types t${def.keyOnly ? ' WHERE t.is_key_feature' : ''})`;
  return `${count}::float8 / nullif(${total}, 0)`;
};

/** Area-days (a feature area's active days, summed over areas) over the account's active days in the window. */
export const areaBreadth: Template<KindDef<'area_breadth'>> = (def, b) => {
  const w = def.window;
  const areaDays = fromEvk(b, `sum(bit_count(${windowBits('r.bits', w)})) FILTER (WHERE r.kind = 2)`, w);
  return `${areaDays}::float8 / nullif(${b.col('evf', activeIn(w))}, 0)`;
};

/**
 * Days from sign-up to the first key-feature event at or after it, if within `withinDays` of sign-up
 * and before as_of: the account's first key-feature event on record, or an index probe when that
 * came before sign-up.
 */
export const firstValue: Template<KindDef<'first_value'>> = (def, b) => {
  const first = b.col('evf', 'CASE WHEN a.first_key_at < g.as_of THEN a.first_key_at END');
  return `CASE WHEN ${first} < p.created_at THEN ${firstKeyProbe(def.withinDays)}
      WHEN ${first} < ${daysBefore('p.created_at', -def.withinDays)} THEN greatest(0, ${daysBetween('p.created_at', first)}) END`;
};

/** The rollup CTEs the registered columns need (evk, evf: each joined to the population by the caller), as CTE text. */
export function rollupCtes(b: SqlBuilder, accountFilter: ((col: string) => string) | null): string {
  const cols = (source: string) => b.columnsOf(source).map(([alias, sql]) => `,\n         ${sql} AS ${alias}`).join('');
  const only = (col: string) => (accountFilter ? ` AND ${accountFilter(col)}` : '');
  const ctes: string[] = [];
  if (b.columnsOf('evk').length) {
    ctes.push(`-- 3. per (as_of, account): the rollup rows of its users and feature areas active before as_of and within the activity windows' reach
evk AS MATERIALIZED (
  SELECT g.as_of, r.account_id${cols('evk')}
  FROM grid g JOIN churn.event_rollup r ON r.kind > 0 AND r.base_day < g.gj AND r.last_day >= g.gj - ${REACH_TOKEN.word}${only('r.account_id')}
  GROUP BY g.as_of, r.account_id
)`);
  }
  if (b.columnsOf('evf').length) {
    ctes.push(`-- 4. the account rows, their arrays copied out of TOAST storage once (each reference below would decompress them again), with the UTC day of sign-up
ea AS MATERIALIZED (
  SELECT a.account_id, a.days[:] AS days, a.cum[:] AS cum, a.gaps[:] AS gaps, a.first_key_at,
         floor(date_part('epoch', ac.created_at) / 86400)::int AS cday
  FROM churn.event_rollup a JOIN source.accounts ac ON ac.account_id = a.account_id WHERE a.kind = 0${only('a.account_id')}
),
-- 5. per (as_of, account) with any event before as_of: the account row's windows
evf AS MATERIALIZED (
  SELECT g.as_of, a.account_id${cols('evf')}
  FROM grid g JOIN ea a ON a.days[1] < g.gj
)`);
  }
  return ctes.join(',\n');
}
