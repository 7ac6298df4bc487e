import type { KindDef, Window } from '../definitions/schema.ts';
import { daysBefore, int, type SqlBuilder, type Template } from './builder.sql.ts';

/*
 * The customer's own event types and account attributes (features/config.ts). Event-type features
 * read the raw events of the longest window of those features in three steps: summed per (as_of,
 * account, type, day); then per (as_of, account, type) one sum `s<i>` and one day count `n<i>` per
 * distinct window i of the catalogue; then per (as_of, account) each feature picks its type's row
 * (`x.k`, the type's position in the statement's list: integers, as comparing text under the
 * database's collation for every row and feature cost more than all the rest). Days are 24-hour
 * buckets counted back from as_of that tile the windows exactly: d = ceil((as_of - t) / 1 day) - 1,
 * so the window [as_of - (offset + days), as_of - offset) holds offset <= d < offset + days.
 */

/** The column index of a window among the event-type windows (registered on first use). */
function windowIndex(b: SqlBuilder, w: Window): number {
  let i = b.typeWindows.findIndex((x) => x.days === w.days && x.offsetDays === w.offsetDays);
  if (i < 0) i = b.typeWindows.push({ days: w.days, offsetDays: w.offsetDays }) - 1;
  return i;
}

/** The row `x` is of one of these types. */
function ofTypes(types: readonly string[], b: SqlBuilder): string {
  const ks = [...new Set(types.map((t) => b.typeIndex.get(t)!))].sort((p, q) => p - q).map(int);
  return ks.length === 1 ? `x.k = ${ks[0]}` : `x.k IN (${ks.join(', ')})`;
}

/** Sum of the quantities of the window's events of these types (0 without any). */
export const typeCount: Template<KindDef<'type_count'>> = (def, b) =>
  `coalesce(${b.col('ety', `sum(x.s${windowIndex(b, def.window)}) FILTER (WHERE ${ofTypes(def.eventTypes, b)})`)}, 0)`;

/** Days of the window with at least one event of this type. */
export const typeDays: Template<KindDef<'type_days'>> = (def, b) =>
  `coalesce(${b.col('ety', `sum(x.n${windowIndex(b, def.window)}) FILTER (WHERE ${ofTypes(def.eventTypes, b)})`)}, 0)`;

/**
 * The per-type window sums the event-type features aggregate, for the rows of `pop` (alias p): the
 * day sums' select list over source.events (`events`, alias e) joined `on` the `reach` days before
 * each as_of (only of `types`), and the per-type select list over them (alias y).
 */
export function typeWindowSums(reach: number, types: string, windows: readonly Window[]): { days: string; events: string; on: string; perType: string } {
  const age = 'extract(epoch FROM (p.as_of - e.occurred_at))';
  const inW = (w: Window) => `y.d >= ${int(w.offsetDays)} AND y.d < ${int(w.offsetDays + w.days)}`;
  return {
    days: `array_position(${types}, e.event_type) AS k, ceil(${age} / 86400)::int - 1 AS d, sum(e.quantity) AS q`,
    events: 'source.events e',
    on: `e.account_id = p.account_id AND e.occurred_at >= ${daysBefore('p.as_of', reach)} AND e.occurred_at < p.as_of AND e.event_type = ANY(${types})`,
    perType: ['y.k', ...windows.flatMap((w, i) => [`sum(y.q) FILTER (WHERE ${inW(w)}) AS s${i}`, `count(*) FILTER (WHERE ${inW(w)}) AS n${i}`])].join(', '),
  };
}

/** Every event type the catalogue's event-type features read. */
export function typesOf(defs: readonly { kind: string; eventTypes?: string[] }[]): string[] {
  return [...new Set(defs.flatMap((d) => (d.kind === 'type_count' || d.kind === 'type_days' ? d.eventTypes ?? [] : [])))].sort();
}

/** How far back the event-type features reach (days). */
export function typeReach(defs: readonly { kind: string; window?: { days: number; offsetDays: number } }[]): number {
  return Math.max(1, ...defs.filter((d) => (d.kind === 'type_count' || d.kind === 'type_days') && d.window).map((d) => d.window!.offsetDays + d.window!.days));
}

/** A number written as text (ingestion stores every attribute as text), small enough for float8. */
export const NUMERIC_TEXT = String.raw`^\s*[-+]?([0-9]{1,15}(\.[0-9]*)?|\.[0-9]+)([eE][-+]?[0-9]{1,2})?\s*$`;

/** Account attributes that are columns of source.accounts rather than keys of `attributes`. */
export const COLUMN_ATTRIBUTES = ['industry', 'region'] as const;

/**
 * An account attribute (a key of `attributes`, or the industry or region column): its number (NULL
 * when missing or not a number), or with `equals` 1 when it has that value and 0 for another (NULL
 * when missing).
 */
export const attribute: Template<KindDef<'attribute'>> = (def, b) => {
  const v = (COLUMN_ATTRIBUTES as readonly string[]).includes(def.attr) ? `p.${def.attr}` : `(p.attributes ->> ${b.bind(def.attr, 'text')})`;
  if (def.equals !== undefined) return `(${v} = ${b.bind(def.equals, 'text')})::int`;
  return `CASE WHEN ${v} ~ ${b.bind(NUMERIC_TEXT, 'text')} THEN ${v}::float8 END`;
};
