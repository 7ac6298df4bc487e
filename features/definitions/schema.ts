import { z } from 'zod';

/**
 * The feature-definition language: a zod discriminated union on `kind`. Definitions are plain data,
 * validated when the catalogue loads; SQL is generated from them (features/compile.ts).
 * Windows are half-open and as-of: `[as_of - (offsetDays + days), as_of - offsetDays)`, in whole
 * 24-hour days counted back from as_of.
 */
export const FAMILIES = ['engagement', 'usage', 'adoption', 'support', 'commercial', 'sentiment'] as const;
export type Family = (typeof FAMILIES)[number];

export type Unit = (typeof UNITS)[number];
export const UNITS = ['users', 'days', 'events', 'events_per_day', 'events_per_user', 'ratio', 'share', 'areas', 'features', 'tickets', 'hours', 'score', 'currency', 'seats', 'percent', 'flag', 'ordinal', 'invoices', 'payments', 'change'] as const;

const Name = z.string().regex(/^[a-z][a-z0-9_]{1,62}$/, 'must be snake_case (a-z, 0-9, _), 2-63 characters');
const Window = z.strictObject({
  days: z.number().int().min(1).max(730),
  offsetDays: z.number().int().min(0).max(730).default(0),
});
export type Window = z.infer<typeof Window>;

const base = {
  name: Name,
  family: z.enum(FAMILIES),
  unit: z.enum(UNITS),
  /**
   * A short plain-words name for charts and tables (the accuracy report), e.g. "Days since last
   * activity" for days_since_last_activity: no snake_case, at most 32 characters.
   */
  label: z.string().min(2).max(32).refine((s) => !/_/.test(s), 'a label is plain words, not snake_case').optional(),
  /*
   * The wording (label, description, singular, whenNull, yesNo, levels) is presentation only: it is
   * left out of the feature-set version, so rewording a sentence never makes trained models stale.
   */
  description: z.string().min(5).refine((s) => s.includes('{value}'), 'must contain the {value} placeholder'),
  /**
   * The description for a value shown as exactly 1, where the plural would read wrong ("{value}
   * invoice due ..." beside "{value} invoices due ...").
   */
  singular: z.string().min(5).refine((s) => s.includes('{value}'), 'must contain the {value} placeholder').optional(),
  /** Plain-language text when the value is NULL (e.g. "No NPS response yet"). */
  whenNull: z.string().min(3).optional(),
  /**
   * A flag's (unit `flag`) sentence at 1 and at 0, e.g. "Billed annually" and "Billed monthly", in
   * place of its description with the number ("Billed annually: 1").
   */
  yesNo: z.strictObject({ yes: z.string().min(3), no: z.string().min(3) }).optional(),
  /** An ordinal's (unit `ordinal`) name for each whole value from 0, shown after the number: "Plan tier 3 (business)". */
  levels: z.array(z.string().min(1).max(40)).min(2).max(50).optional(),
  /**
   * How churn risk moves as the value rises, where domain knowledge says so (more days late, more
   * escalations: `increasing`; more active days: `decreasing`). Training constrains the model so the
   * feature's effect never runs against it, and explanations never say otherwise.
   */
  risk: z.enum(['increasing', 'decreasing']).optional(),
  /**
   * What a missing value stands for on the feature's own scale, where it has a plain meaning: `lowest`
   * (no active users: stickiness as low as it goes; no invoice due: nothing paid late) or `highest`
   * (never active: more days since the last activity than any account). Training scores a missing
   * value as the lowest (or highest) value it saw, so beside `risk` a missing value can only move the
   * risk the declared way ("No activity ever recorded" never lowers it). Unset: training learns what a
   * missing value means from the data. Not part of the feature-set version: the values are the same.
   */
  missing: z.enum(['lowest', 'highest']).optional(),
};
const windowed = { ...base, window: Window };
/** Event type names as they appear in source.events (any text; bound as parameters, never spliced into SQL). */
const EventTypes = z.array(z.string().min(1).max(200)).min(1).max(100);
/** A key of source.accounts.attributes (what `churn ingest accounts` stores from the file's own columns). */
export const AttributeName = z.string().regex(/^[a-z_][a-z0-9_]{0,62}$/, 'must be a lower-case column name (a-z, 0-9, _)');
const deps = (n: number) => z.array(Name).length(n);

export const FeatureDefSchema = z.discriminatedUnion('kind', [
  // --- from the event rollup -------------------------------------------------------------------
  z.strictObject({ ...windowed, kind: z.literal('event_count') }), // sum of quantity
  z.strictObject({ ...windowed, kind: z.literal('active_days') }),
  z.strictObject({ ...windowed, kind: z.literal('active_users') }),
  z.strictObject({ ...windowed, kind: z.literal('stickiness') }), // mean daily active users / active users over the window
  z.strictObject({ ...windowed, kind: z.literal('longest_gap') }), // longest run of inactive days inside the window
  z.strictObject({ ...base, kind: z.literal('days_since_last') }),
  z.strictObject({ ...windowed, kind: z.literal('distinct_areas'), keyOnly: z.boolean().default(false), share: z.boolean().default(false) }),
  z.strictObject({ ...windowed, kind: z.literal('area_breadth') }), // feature areas used per active day (area-days / active days)
  z.strictObject({ ...base, kind: z.literal('first_value'), withinDays: z.number().int().min(1).max(365) }),
  // --- the customer's own event types (features/config.ts declares them from configuration) ----------
  z.strictObject({ ...windowed, kind: z.literal('type_count'), eventTypes: EventTypes }), // sum of quantity of these types
  z.strictObject({ ...windowed, kind: z.literal('type_days'), eventTypes: EventTypes.length(1) }), // days with an event of this type
  // --- support tickets ---------------------------------------------------------------------------
  z.strictObject({ ...base, kind: z.literal('ticket_count'), window: Window.optional(), only: z.enum(['all', 'open', 'escalated', 'high_priority']).default('all') }),
  z.strictObject({ ...windowed, kind: z.literal('ticket_stat'), stat: z.enum(['median_resolution_hours', 'mean_csat', 'high_priority_share']) }),
  // --- commercial ----------------------------------------------------------------------------------
  z.strictObject({
    ...base,
    kind: z.literal('subscription_attr'),
    attr: z.enum(['mrr', 'seats', 'discount_pct', 'billing_annual', 'is_trial', 'plan_tier', 'days_to_renewal']),
    offsetDays: z.number().int().min(0).max(730).default(0),
    planTiers: z.record(z.string().min(1), z.number()).optional(),
  }).refine((d) => d.attr !== 'plan_tier' || (d.planTiers && Object.keys(d.planTiers).length > 0), { message: 'plan_tier needs planTiers', path: ['planTiers'] })
    .refine((d) => d.attr !== 'days_to_renewal' || d.offsetDays === 0, { message: 'days_to_renewal is of the current subscription (no offsetDays)', path: ['offsetDays'] }),
  z.strictObject({ ...base, kind: z.literal('account_attr'), attr: z.enum(['segment', 'industry', 'region']), equals: z.string().min(1) }),
  z.strictObject({ ...base, kind: z.literal('tenure') }),
  // the customer's own account attributes (source.accounts.attributes): a number, or 1/0 for one category
  z.strictObject({ ...base, kind: z.literal('attribute'), attr: AttributeName, equals: z.string().min(1).max(200).optional() }),
  z.strictObject({ ...base, kind: z.literal('user_count') }),
  z.strictObject({ ...windowed, kind: z.literal('invoice_stat'), stat: z.enum(['days_late_mean', 'days_late_max', 'overdue_count']) }),
  z.strictObject({ ...windowed, kind: z.literal('payment_failures') }),
  // --- surveys --------------------------------------------------------------------------------------
  z.strictObject({ ...base, kind: z.literal('survey_latest'), survey: z.enum(['nps', 'csat']) }),
  z.strictObject({ ...base, kind: z.literal('survey_change'), survey: z.enum(['nps', 'csat']) }),
  z.strictObject({ ...windowed, kind: z.literal('survey_mean'), survey: z.enum(['nps', 'csat']) }),
  // --- derived from other features (declare dependsOn) -----------------------------------------------
  z.strictObject({ ...base, kind: z.literal('ratio'), dependsOn: z.array(Name).min(1).max(2), denominatorConstant: z.number().positive().optional() })
    .refine((d) => (d.denominatorConstant === undefined) === (d.dependsOn.length === 2), { message: 'a ratio needs two dependsOn features, or one and denominatorConstant', path: ['dependsOn'] }),
  z.strictObject({ ...base, kind: z.literal('change'), dependsOn: deps(2), mode: z.enum(['relative', 'absolute']) }),
  z.strictObject({ ...base, kind: z.literal('threshold'), dependsOn: deps(1), op: z.enum(['lte', 'gte']), value: z.number() }),
  // the users active in the window (dependsOn: an active_users feature of that window) over the users provisioned at some time in it
  z.strictObject({ ...windowed, kind: z.literal('user_share'), dependsOn: deps(1) }),
]);

export type FeatureDef = z.infer<typeof FeatureDefSchema>;
export type FeatureInput = z.input<typeof FeatureDefSchema>;
export type FeatureKind = FeatureDef['kind'];
export type KindDef<K extends FeatureKind> = Extract<FeatureDef, { kind: K }>;

/**
 * A description and its `singular` wording from one template, `{s}` marking the plural ending:
 * `counted('{value} invoice{s} due')` is "{value} invoices due", and "{value} invoice due" for 1.
 */
export function counted(template: string): { description: string; singular: string } {
  return { description: template.replaceAll('{s}', 's'), singular: template.replaceAll('{s}', '') };
}

/** Declares one feature; validation happens when the catalogue loads (so a bad one fails with its name). */
export function defineFeature<T extends FeatureInput>(def: T): T {
  return def;
}

/** The feature names a definition reads (derived kinds only). */
export function dependenciesOf(def: FeatureDef): string[] {
  return 'dependsOn' in def ? def.dependsOn : [];
}
