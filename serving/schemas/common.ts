import { InstantSchema } from '../../core/time.ts';
import { z } from 'zod';

/** Account ids as the source tables hold them: 1-128 characters, no control characters. */
// eslint-disable-next-line no-control-regex
export const AccountIdSchema = z.string().min(1).max(128).regex(/^[^\u0000-\u001f\u007f]+$/, 'an account id is 1-128 characters without control characters');

/** A time that has happened: a date (00:00 UTC) or an ISO 8601 timestamp with a zone, a real calendar date, not in the future (core/time.ts). */
export const AsOfSchema = InstantSchema;

export const MAX_TOP = 1000;
/** `?top=N` (1-1000) or `?top=all`. */
const TOP_RULE = `expected a whole number of drivers, 1-${MAX_TOP}, or all`;
export const TopSchema = z.union([z.literal('all'), z.coerce.number().int({ error: TOP_RULE }).min(1, { error: TOP_RULE }).max(MAX_TOP, { error: TOP_RULE })], { error: TOP_RULE }).default(5);

export const BoolQuerySchema = z.enum(['true', 'false', '1', '0']).transform((v) => v === 'true' || v === '1');

export const AccountParamsSchema = z.object({ id: AccountIdSchema.describe('the account id (source.accounts.account_id)').meta({ examples: ['acc_00042'] }) }).strict();

/**
 * The path of the first string (or object key) in `value` that holds a NUL character, which no
 * PostgreSQL text can store (22021): null when there is none. Bodies, query strings and parameters are
 * checked with it before validation, so a NUL never reaches SQL as a 500. (The path is built only
 * when one is found: a 1,000-instance predict body is walked in about a millisecond.)
 */
export function findNul(value: unknown): string[] | null {
  if (typeof value === 'string') return value.includes('\u0000') ? [] : null;
  if (value === null || typeof value !== 'object') return null;
  if (Array.isArray(value)) {
    for (let i = 0; i < value.length; i++) {
      const found = findNul(value[i]);
      if (found) return [String(i), ...found];
    }
    return null;
  }
  for (const k in value) {
    if (!Object.hasOwn(value, k)) continue;
    if (k.includes('\u0000')) return [k.replaceAll('\u0000', '\\u0000')];
    const found = findNul((value as Record<string, unknown>)[k]);
    if (found) return [k, ...found];
  }
  return null;
}
