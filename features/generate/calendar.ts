/**
 * Time for the generator: integer UTC day numbers (days since 1970-01-01), millisecond timestamps,
 * calendar-month arithmetic, the weekday and seasonal rhythm, and fast text formatting for COPY.
 */

export const DAY_MS = 86_400_000;
export const HOUR_MS = 3_600_000;
export const MINUTE_MS = 60_000;

export function dayOf(ms: number): number {
  return Math.floor(ms / DAY_MS);
}

export function dayStart(day: number): number {
  return day * DAY_MS;
}

/** The same day of month `k` months later (clamped to the month's last day), as a day number. */
export function addMonths(day: number, k: number): number {
  const d = new Date(day * DAY_MS);
  const y = d.getUTCFullYear();
  const m = d.getUTCMonth() + k;
  const lastDay = new Date(Date.UTC(y, m + 1, 0)).getUTCDate();
  return Math.floor(Date.UTC(y, m, Math.min(d.getUTCDate(), lastDay)) / DAY_MS);
}

/** Weekday multiplier for activity (0 = Sunday). */
const WEEKDAY = [0.12, 1.05, 1.02, 1.0, 0.97, 0.86, 0.18];

/**
 * Activity multiplier of a calendar day: weekday rhythm times a seasonal curve with a summer lull
 * (August) and a December holiday dip (20 December to 2 January).
 */
export function dayRhythm(day: number): number {
  const d = new Date(day * DAY_MS);
  const month = d.getUTCMonth();
  const date = d.getUTCDate();
  let season = 1 + 0.06 * Math.cos(((month - 2) / 12) * 2 * Math.PI); // peak in March, low in September
  if (month === 7) season *= 0.85;
  if ((month === 11 && date >= 20) || (month === 0 && date <= 2)) season *= 0.5;
  return WEEKDAY[d.getUTCDay()] * season;
}

export function isWeekend(day: number): boolean {
  const wd = (day + 4) % 7; // 1970-01-01 was a Thursday
  return wd === 0 || wd === 6;
}

function pad2(n: number): string {
  return n < 10 ? `0${n}` : String(n);
}

/** Formats timestamps as PostgreSQL text (`YYYY-MM-DD HH:MM:SS+00`), caching the date part per day. */
export class TimeFormatter {
  private readonly days = new Map<number, string>();
  /** `HH:MM:00+00` for every minute of the day. */
  readonly minutes: string[] = [];

  constructor() {
    for (let m = 0; m < 1440; m++) this.minutes.push(`${pad2(Math.floor(m / 60))}:${pad2(m % 60)}:00+00`);
  }

  /** `YYYY-MM-DD ` (with the trailing space) for a day number. */
  datePart(day: number): string {
    let s = this.days.get(day);
    if (s === undefined) {
      s = `${new Date(day * DAY_MS).toISOString().slice(0, 10)} `;
      this.days.set(day, s);
    }
    return s;
  }

  /** A full timestamp, to the second. */
  ts(ms: number): string {
    const day = Math.floor(ms / DAY_MS);
    const rest = Math.floor((ms - day * DAY_MS) / 1000);
    const h = Math.floor(rest / 3600);
    const m = Math.floor((rest % 3600) / 60);
    const s = rest % 60;
    return `${this.datePart(day)}${pad2(h)}:${pad2(m)}:${pad2(s)}+00`;
  }

  /** A date (`YYYY-MM-DD`). */
  date(day: number): string {
    return this.datePart(day).slice(0, 10);
  }
}

/** COPY text format: NULL marker. */
export const NULL = '\\N';

/** Optional timestamp as COPY text. */
export function tsOrNull(fmt: TimeFormatter, ms: number | undefined): string {
  return ms === undefined ? NULL : fmt.ts(ms);
}
