import { z } from 'zod';

/** Account ids as the source tables hold them: 1-128 characters, no control characters. */
// eslint-disable-next-line no-control-regex
export const AccountIdSchema = z.string().min(1).max(128).regex(/^[^\u0000-\u001f\u007f]+$/, 'an account id is 1-128 characters without control characters');

/** An ISO 8601 date or timestamp between 1970 and 2100, as a Date. */
export const AsOfSchema = z.string().max(40).refine((s) => /^\d{4}-\d{2}-\d{2}([T ][0-9:.]+(Z|[+-]\d{2}:?\d{2})?)?$/.test(s), 'use an ISO 8601 date or timestamp')
  .transform((s, ctx) => {
    const d = new Date(s);
    if (Number.isNaN(d.getTime()) || d.getUTCFullYear() < 1970 || d.getUTCFullYear() > 2100) {
      ctx.addIssue({ code: 'custom', message: 'not a valid date between 1970 and 2100' });
      return z.NEVER;
    }
    return d;
  });

export const MAX_TOP = 1000;
/** `?top=N` (1-1000) or `?top=all`. */
export const TopSchema = z.union([z.literal('all'), z.coerce.number().int().min(1).max(MAX_TOP)]).default(5);

export const BoolQuerySchema = z.enum(['true', 'false', '1', '0']).transform((v) => v === 'true' || v === '1');

export const AccountParamsSchema = z.object({ id: AccountIdSchema }).strict();
