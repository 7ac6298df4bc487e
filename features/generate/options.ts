import { z } from 'zod';
import { ChurnError, describeIssues } from '../../core/errors.ts';
import { DAY_MS, addMonths } from './calendar.ts';

/** Demo size: small enough that `npm start` generates it in seconds. */
export const DEMO_ACCOUNTS = 1500;

const DateLike = z.union([z.date(), z.string().regex(/^\d{4}-\d{2}-\d{2}(T.*)?$/, 'expected an ISO date (YYYY-MM-DD)')]);

export const GenerateOptionsSchema = z.object({
  accounts: z.coerce.number().int().min(1).max(1_000_000).default(DEMO_ACCOUNTS),
  months: z.coerce.number().int().min(1).max(60).default(12),
  seed: z.coerce.number().int().min(0).max(Number.MAX_SAFE_INTEGER).default(42),
  /** End of the data (exclusive), truncated to 00:00 UTC; the data covers [end - months, end). */
  end: DateLike,
  /** Truncate the source tables and the ground truth first; without it a non-empty database is refused. */
  replace: z.boolean().default(false),
  /** Drop the events index during the load and rebuild it afterwards (the faster choice, see docs). */
  dropEventIndex: z.boolean().default(true),
});

export type GenerateOptionsInput = z.input<typeof GenerateOptionsSchema>;
export type GenerateOptions = z.output<typeof GenerateOptionsSchema>;

export interface GenerationWindow {
  seed: number;
  accounts: number;
  months: number;
  startDay: number;
  /** Exclusive. */
  endDay: number;
  startMs: number;
  endMs: number;
}

export function parseGenerateOptions(raw: unknown): GenerateOptions {
  const parsed = GenerateOptionsSchema.safeParse(raw);
  if (!parsed.success) throw new ChurnError('CHURN_ERR_VALIDATION', `invalid generate options: ${describeIssues(parsed.error.issues)}`);
  return parsed.data;
}

export function windowOf(opts: GenerateOptions): GenerationWindow {
  const endDate = typeof opts.end === 'string' ? new Date(opts.end.length === 10 ? `${opts.end}T00:00:00Z` : opts.end) : opts.end;
  if (Number.isNaN(endDate.getTime())) throw new ChurnError('CHURN_ERR_VALIDATION', `invalid generate options: end: not a date (${String(opts.end)})`);
  const endDay = Math.floor(endDate.getTime() / DAY_MS);
  const startDay = addMonths(endDay, -opts.months);
  return { seed: opts.seed, accounts: opts.accounts, months: opts.months, startDay, endDay, startMs: startDay * DAY_MS, endMs: endDay * DAY_MS };
}
