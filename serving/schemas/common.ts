import { InstantSchema } from '../../core/time.ts';
import { z } from 'zod';

/** Account ids as the source tables hold them: 1-128 characters, no control characters. */
// eslint-disable-next-line no-control-regex
export const AccountIdSchema = z.string().min(1).max(128).regex(/^[^\u0000-\u001f\u007f]+$/, 'an account id is 1-128 characters without control characters');

/** A time that has happened: a date (00:00 UTC) or an ISO 8601 timestamp with a zone, a real calendar date, not in the future (core/time.ts). */
export const AsOfSchema = InstantSchema;

export const MAX_TOP = 1000;
/** `?top=N` (1-1000) or `?top=all`. */
export const TopSchema = z.union([z.literal('all'), z.coerce.number().int().min(1).max(MAX_TOP)]).default(5);

export const BoolQuerySchema = z.enum(['true', 'false', '1', '0']).transform((v) => v === 'true' || v === '1');

export const AccountParamsSchema = z.object({ id: AccountIdSchema }).strict();
