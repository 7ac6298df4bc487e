import type { KindDef } from '../definitions/schema.ts';
import { daysBefore, type Template } from './builder.sql.ts';

/*
 * The customer's own event types and account attributes (features/config.ts). Event-type features
 * read the raw events of the window from one aggregate per (as_of, account), `ety`, restricted to
 * the longest window of those features; days are whole 24-hour buckets counted back from as_of, as
 * everywhere else (day 0 = the last 24 hours).
 */

/** The event `e` is one of the bound types and inside the window. */
function inTypesAndWindow(def: KindDef<'type_count' | 'type_days'>, types: string): string {
  const w = def.window;
  return `e.event_type = ANY(${types}) AND e.occurred_at >= ${daysBefore('p.as_of', w.offsetDays + w.days)} AND e.occurred_at < ${daysBefore('p.as_of', w.offsetDays)}`;
}

/** Sum of the quantities of the window's events of these types (0 without any). */
export const typeCount: Template<KindDef<'type_count'>> = (def, b) =>
  `coalesce(${b.col('ety', `sum(e.quantity) FILTER (WHERE ${inTypesAndWindow(def, b.bind(def.eventTypes, 'text[]'))})`)}, 0)`;

/** Days of the window with at least one event of these types. */
export const typeDays: Template<KindDef<'type_days'>> = (def, b) =>
  `coalesce(${b.col('ety', `count(DISTINCT floor(extract(epoch FROM (p.as_of - e.occurred_at)) / 86400)) FILTER (WHERE ${inTypesAndWindow(def, b.bind(def.eventTypes, 'text[]'))})`)}, 0)`;

/** How far back the event-type features reach (days). */
export function typeReach(defs: readonly { kind: string; window?: { days: number; offsetDays: number } }[]): number {
  return Math.max(1, ...defs.filter((d) => (d.kind === 'type_count' || d.kind === 'type_days') && d.window).map((d) => d.window!.offsetDays + d.window!.days));
}

/** A number written as text (ingestion stores every attribute as text), small enough for float8. */
const NUMERIC = String.raw`^\s*[-+]?([0-9]{1,15}(\.[0-9]*)?|\.[0-9]+)([eE][-+]?[0-9]{1,2})?\s*$`;

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
  return `CASE WHEN ${v} ~ ${b.bind(NUMERIC, 'text')} THEN ${v}::float8 END`;
};
