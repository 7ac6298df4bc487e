import { z } from 'zod';

/** How far past the server's clock a time may lie (clients' clocks run a little ahead). */
export const CLOCK_SKEW_MS = 5 * 60_000;
const DAY_MS = 86_400_000;

const DATE = /^(\d{4})-(\d{2})-(\d{2})$/;
const TIMESTAMP = /^(\d{4})-(\d{2})-(\d{2})[T ](\d{2}):(\d{2})(?::(\d{2})(\.\d{1,9})?)?(Z|[+-]\d{2}(?::?\d{2})?)$/i;

/**
 * Reads a time as every input of the product takes it (`as_of`, `from`, `to`, `--as-of`, dates lists):
 * a calendar date `YYYY-MM-DD` (00:00 UTC of that day) or an ISO 8601 timestamp WITH a zone (`Z` or
 * `+02:00`). Refused, with the reason: impossible dates (2026-02-30; JavaScript would roll them into
 * March), a timestamp without a zone (it would be read in the server's own zone), years outside
 * 1970-2100, and, unless `future` allows it, a time after now plus a small clock skew.
 */
export function parseInstant(text: string, opts: { now?: number; future?: boolean } = {}): { ok: true; value: Date } | { ok: false; reason: string } {
  const s = text.trim();
  const d = DATE.exec(s);
  const t = d ? null : TIMESTAMP.exec(s);
  if (!d && !t) {
    const noZone = /^\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}(:\d{2}(\.\d+)?)?$/.test(s);
    return { ok: false, reason: noZone ? `"${s}" has no time zone: add Z (UTC) or an offset such as +02:00` : `"${s}" is not a date (YYYY-MM-DD) or an ISO 8601 timestamp with a zone` };
  }
  const [y, mo, day] = (d ?? t!).slice(1, 4).map(Number);
  const [h, mi, sec] = t ? [Number(t[4]), Number(t[5]), Number(t[6] ?? 0)] : [0, 0, 0];
  const daysInMonth = new Date(Date.UTC(y, mo, 0)).getUTCDate();
  if (mo < 1 || mo > 12 || day < 1 || day > daysInMonth || h > 23 || mi > 59 || sec > 59) return { ok: false, reason: `"${s}" is not a real date or time` };
  if (y < 1970 || y > 2100) return { ok: false, reason: `"${s}" lies outside 1970-2100` };
  // the zone: Z, or an offset of hours and minutes (+02, +0200, +02:00; JavaScript reads only the last)
  const zone = t ? /^([+-])(\d{2}):?(\d{2})?$/.exec(t[8]) : null;
  const [offH, offM] = zone ? [Number(zone[2]), Number(zone[3] ?? 0)] : [0, 0];
  if (offH > 23 || offM > 59) return { ok: false, reason: `"${s}" has no real time zone offset (at most ±23:59)` };
  const offsetMs = zone ? (zone[1] === '-' ? -1 : 1) * (offH * 60 + offM) * 60_000 : 0;
  const ms = t?.[7] ? Math.floor(Number(t[7]) * 1000) : 0;
  const value = new Date(Date.UTC(y, mo - 1, day, h, mi, sec, ms) - offsetMs);
  const now = opts.now ?? Date.now();
  if (!opts.future && value.getTime() > now + CLOCK_SKEW_MS) return { ok: false, reason: `"${s}" lies in the future (now is ${new Date(now).toISOString()})` };
  return { ok: true, value };
}

/** `parseInstant` as a zod schema (text in, Date out). */
export function instantSchema(opts: { future?: boolean } = {}) {
  return z.string().max(40).transform((s, ctx) => {
    const r = parseInstant(s, opts);
    if (r.ok) return r.value;
    ctx.addIssue({ code: 'custom', message: r.reason });
    return z.NEVER;
  });
}

/** A time that has happened: a date or a zoned timestamp, not in the future. */
export const InstantSchema = instantSchema();

/**
 * The as-of time of a score or a feature build when none is given: the latest UTC midnight ("data
 * through yesterday"). Training snapshots are taken at UTC midnights, so scores see their features
 * exactly as the model saw them in training (the same partial-day effects: none), and the event
 * rollup serves the read.
 */
export function defaultAsOf(now = Date.now()): Date {
  return new Date(Math.floor(now / DAY_MS) * DAY_MS);
}

let lastMidnight = NaN;
let lastMidnightText = '';
/** `defaultAsOf().toISOString()`, made once a day: POST /v1/predict needs the text on every request (a Date and its text: 0.8 us). */
export function defaultAsOfText(now = Date.now()): string {
  const midnight = Math.floor(now / DAY_MS) * DAY_MS;
  if (midnight !== lastMidnight) {
    lastMidnightText = new Date(midnight).toISOString();
    lastMidnight = midnight;
  }
  return lastMidnightText;
}
