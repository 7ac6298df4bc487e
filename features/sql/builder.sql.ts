import type { FeatureDef, Window } from '../definitions/schema.ts';

/** Where a feature's aggregate lives: one CTE per source, each one row per (as_of, account_id). */
export type SourceName = 'evf' | 'ety' | 'tk' | 'usr' | 'inv' | 'pay' | 'srv' | 'fv' | `so${number}`;
/**
 * How far back the event rollup must reach: `sum` for event counts (summed per segment between
 * window edges), `word` for everything read from per-day activity bitmaps (at most 128 days).
 */
export type EventReach = 'sum' | 'word';
/** GROUPING(user_id, event_type) of the rollup's grouping sets (area rows are keyed by event type, then mapped to areas). */
export const EVENT_SET_ID = { segment: 3, user: 1, area: 2 } as const;
export const MAX_WORD_REACH = 128;

const SECONDS_PER_DAY = 86_400;

/** A whole number as SQL text; throws on anything else (only validated catalogue numbers get here). */
export function int(n: number): string {
  if (!Number.isSafeInteger(n)) throw new Error(`not an integer: ${n}`);
  return String(n);
}

/** A finite number as SQL text (catalogue constants such as thresholds). */
export function num(n: number): string {
  if (!Number.isFinite(n)) throw new Error(`not a finite number: ${n}`);
  return `${n}::float8`;
}

/** `ts` moved back by whole 24-hour days (a pure-seconds interval: no time-zone or DST effects). */
export function daysBefore(ts: string, days: number): string {
  return days === 0 ? ts : `(${ts} - interval '${int(days * SECONDS_PER_DAY)} seconds')`;
}

/** `col` falls in the half-open window [as_of - (offset + days), as_of - offset). */
export function inWindow(col: string, asOf: string, w: Window): string {
  return `${col} >= ${daysBefore(asOf, w.offsetDays + w.days)} AND ${col} < ${daysBefore(asOf, w.offsetDays)}`;
}

/** Whole days between two timestamps, in 24-hour units. */
export function daysBetween(from: string, to: string): string {
  return `floor(extract(epoch FROM (${to} - ${from})) / 86400)`;
}

/**
 * Collects what the compiled statement needs while the per-kind templates run: bound values,
 * aggregate columns per source CTE (deduplicated by their SQL), how far back each event rollup
 * must reach, and the final expression of every feature (for derived features to reuse).
 */
export class SqlBuilder {
  /** bound values: the reserved leading slots (filled when the statement is run), then the catalogue's constants */
  readonly values: unknown[] = [];
  private readonly columns = new Map<string, Map<string, string>>();
  readonly reach: Record<EventReach, number> = { sum: 0, word: 0 };
  /** event-count windows (their edges cut the per-segment sums) */
  readonly sumWindows: Window[] = [];
  readonly exprs = new Map<string, string>();
  /** every longest-gap window of the catalogue (the rollup path computes them in one pass per row) */
  gapWindows: Window[] = [];
  /** the event types the event-type features read, each with its 1-based position in the statement's sorted list */
  typeIndex = new Map<string, number>();
  /** the distinct windows of the event-type features (their sums and day counts are columns s<i>, n<i>) */
  typeWindows: Window[] = [];

  /** `reserved`: how many leading parameters ($1..$reserved) the statement binds by name (see compile.ts) */
  constructor(reserved: number) {
    this.values.length = reserved;
  }

  bind(value: unknown, cast: string): string {
    this.values.push(value);
    return `$${this.values.length}::${cast}`;
  }

  /** Registers an aggregate in a source CTE and returns how the final SELECT refers to it. */
  col(source: SourceName | 'evk', sql: string): string {
    let cols = this.columns.get(source);
    if (!cols) this.columns.set(source, (cols = new Map()));
    let alias = cols.get(sql);
    if (!alias) cols.set(sql, (alias = `c${cols.size + 1}`));
    return source === 'evk' ? alias : `${source}.${alias}`;
  }

  columnsOf(source: string): [alias: string, sql: string][] {
    return [...(this.columns.get(source) ?? new Map<string, string>()).entries()].map(([sql, alias]) => [alias, sql]);
  }

  sources(): string[] {
    return [...this.columns.keys()];
  }

  /** The event rollup must cover `days` before each as_of for this use. */
  needEvents(use: EventReach, days: number): void {
    this.reach[use] = Math.max(this.reach[use], days);
  }

  exprOf(name: string): string {
    const e = this.exprs.get(name);
    if (!e) throw new Error(`feature ${name} used before it was compiled`);
    return `(${e})`;
  }
}

export type Template<D extends FeatureDef = FeatureDef> = (def: D, b: SqlBuilder) => string;
