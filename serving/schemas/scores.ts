import { z } from 'zod';
import { ScoreSchema } from '../../scoring/schema.ts';
import { AccountIdSchema, AsOfSchema, MAX_TOP, TopSchema } from './common.ts';
import { withFastPath } from './fast-path.ts';

const DEFAULT_TOP = TopSchema.parse(undefined);

export const BatchBodySchema = z.object({
  account_ids: z.array(AccountIdSchema).min(1).max(1000),
  as_of: AsOfSchema.optional(),
}).strict();

export const TopQuerySchema = withFastPath(z.object({ top: TopSchema }).strict(), (q) => {
  // the common query strings (none, `top=all`, `top=N`) without zod's walk; anything else goes to zod
  if (typeof q !== 'object' || q === null) return undefined;
  let top: unknown;
  let seen = false;
  for (const k in q) {
    if (k !== 'top') return undefined;
    top = (q as { top: unknown }).top;
    seen = true;
  }
  if (!seen) return { value: { top: DEFAULT_TOP } };
  if (top === 'all') return { value: { top: 'all' as const } };
  if (typeof top === 'string' && /^[1-9][0-9]{0,5}$/.test(top) && Number(top) <= MAX_TOP) return { value: { top: Number(top) } };
  return undefined;
});

type FeatureValue = number | string | boolean | null;
const isFeatureValue = (v: unknown): v is FeatureValue =>
  v === null || typeof v === 'boolean' || (typeof v === 'number' && Number.isFinite(v)) || (typeof v === 'string' && v.length <= 200);

const NOT_AN_OBJECT = 'an instance is an object of feature name -> value';
const LONG_NAME = 'a feature name has at most 100 characters';
const BAD_VALUE = 'a feature value is a finite number, a string of up to 200 characters, a boolean or null';

/**
 * The rule for one instance, shared by the zod schema and the body's fast path: true when valid.
 * With `report`, every problem is reported; without, it stops at the first.
 */
function checkInstance(rec: unknown, report?: (message: string, path?: string[]) => void): boolean {
  if (rec === null || typeof rec !== 'object' || Array.isArray(rec)) {
    report?.(NOT_AN_OBJECT);
    return false;
  }
  let valid = true;
  for (const k in rec) {
    const problem = k.length > 100 ? LONG_NAME : isFeatureValue((rec as Record<string, unknown>)[k]) ? null : BAD_VALUE;
    if (problem === null) continue;
    if (!report) return false;
    valid = false;
    report(problem, [problem === LONG_NAME ? k.slice(0, 100) : k]);
  }
  return valid;
}

/**
 * One instance: feature name -> value (a finite number, a string of up to 200 characters, a boolean
 * counted as 1/0, or null for missing). Checked in one pass (this is the hot path of /v1/predict).
 */
const InstanceSchema = z.any().superRefine((rec, ctx) => {
  checkInstance(rec, (message, path) => ctx.addIssue({ code: 'custom', message, ...(path ? { path } : {}) }));
}).transform((rec) => rec as Record<string, FeatureValue>).meta({
  type: 'object',
  additionalProperties: { anyOf: [{ type: 'number' }, { type: 'string', maxLength: 200 }, { type: 'boolean' }, { type: 'null' }] },
  description: 'feature name -> value: a finite number, a string (up to 200 characters), a boolean (1/0) or null (missing)',
});

const MAX_INSTANCES = 1000;

/**
 * `POST /v1/predict`. Its fast path accepts a body the schema accepts (an object with only
 * `instances`, 1-1000 valid instances, and an optional valid `as_of`) and returns what the schema
 * would: the same instance objects, `as_of` as a Date. Anything else goes to zod.
 */
export const PredictBodySchema = withFastPath(z.object({
  instances: z.array(InstanceSchema).min(1).max(MAX_INSTANCES),
  as_of: AsOfSchema.optional(),
}).strict(), (data) => {
  if (data === null || typeof data !== 'object' || Array.isArray(data)) return undefined;
  const body = data as Record<string, unknown>;
  let hasAsOf = false;
  for (const k in body) {
    if (k === 'as_of') hasAsOf = true;
    else if (k !== 'instances') return undefined;
  }
  const instances = body.instances;
  if (!Array.isArray(instances) || instances.length < 1 || instances.length > MAX_INSTANCES) return undefined;
  for (let i = 0; i < instances.length; i++) if (!checkInstance(instances[i])) return undefined;
  if (!hasAsOf) return { value: { instances: instances as Record<string, FeatureValue>[] } };
  const asOf = AsOfSchema.safeParse(body.as_of);
  return asOf.success ? { value: { instances: instances as Record<string, FeatureValue>[], as_of: asOf.data } } : undefined;
});

export const ScoresResponseSchema = z.object({ scores: z.array(ScoreSchema) });
