/**
 * The customer's own features, declared in a JSON file (CHURN_FEATURES_CONFIG, docs/features.md):
 * per event type counts, active days, rates and changes over a standard window; ratios between event
 * types; account attributes (numbers, or one flag per category). The file expands into ordinary
 * catalogue definitions (features/definitions/schema.ts), so the same SQL compiler, point-in-time
 * rules, explanations and feature-set versions apply. `discoverFeaturesConfig` proposes a file from
 * what is loaded (`churn features config --discover`).
 */
import fs from 'node:fs';
import { z } from 'zod';
import { query, type Queryable } from '../core/db.ts';
import { ChurnError, describeIssues } from '../core/errors.ts';
import { ALL_DEFINITIONS } from './definitions/index.ts';
import { AttributeName, FAMILIES, counted, type FeatureInput } from './definitions/schema.ts';
import { NUMERIC_TEXT } from './sql/types.sql.ts';

/** What each configured event type contributes (all by default). */
export const PER_TYPE = ['count', 'prev_count', 'change', 'days', 'per_active_day', 'per_user'] as const;
export type PerType = (typeof PER_TYPE)[number];

const Risk = z.enum(['increasing', 'decreasing']);
const Label = z.string().min(2).max(32).refine((s) => !/_/.test(s), 'a label is plain words, not snake_case');
const EventTypeName = z.string().min(1).max(200);
const EventTypeEntry = z.union([
  EventTypeName,
  z.strictObject({
    name: EventTypeName,
    family: z.enum(FAMILIES).optional(),
    /** how churn risk moves as these events become more frequent, where you know it */
    risk: Risk.optional(),
    label: Label.optional(),
  }),
]);
const TypeList = z.union([EventTypeName, z.array(EventTypeName).min(1).max(100)]);
const FeatureName = z.string().regex(/^[a-z][a-z0-9_]{1,62}$/, 'must be snake_case (a-z, 0-9, _), 2-63 characters');

export const FeaturesConfigSchema = z.strictObject({
  /** keep the product's own catalogue (engagement, usage, adoption, support, commercial, sentiment); default true */
  builtIn: z.boolean().default(true),
  /** event types (as in source.event_types) that get features of their own */
  eventTypes: z.array(EventTypeEntry).max(100).default([]),
  /** which features each event type gets (default: all of PER_TYPE) */
  perType: z.array(z.enum(PER_TYPE)).min(1).default([...PER_TYPE]),
  /** the window of the per-type features, in days (the previous window is as long) */
  windowDays: z.number().int().min(7).max(64).default(28),
  /** ratios between event types over the window, such as replies per message */
  ratios: z.array(z.strictObject({
    name: FeatureName,
    numerator: TypeList,
    denominator: TypeList,
    label: Label.optional(),
    risk: Risk.optional(),
    family: z.enum(FAMILIES).optional(),
  })).max(100).default([]),
  /** account attributes: keys of source.accounts.attributes (the accounts file's own columns), or the industry and region columns */
  attributes: z.array(z.strictObject({
    name: AttributeName,
    type: z.enum(['numeric', 'category']),
    /** category: the values that get a flag each (others and missing share the flags' zero) */
    values: z.array(z.string().min(1).max(200)).min(1).max(30).optional(),
    label: Label.optional(),
    risk: Risk.optional(),
    family: z.enum(FAMILIES).optional(),
  }).refine((a) => a.type === 'numeric' || a.values !== undefined, { message: 'a category attribute lists its values', path: ['values'] })
    .refine((a) => a.type === 'category' || a.values === undefined, { message: 'values are for category attributes only', path: ['values'] })
    .refine((a) => a.type === 'numeric' || a.risk === undefined, { message: 'risk applies to numeric attributes only', path: ['risk'] }))
    .max(100).default([]),
});
export type FeaturesConfig = z.infer<typeof FeaturesConfigSchema>;
export type FeaturesConfigInput = z.input<typeof FeaturesConfigSchema>;

function invalid(where: string, message: string): never {
  throw new ChurnError('CHURN_ERR_VALIDATION', `features configuration ${where}: ${message}`);
}

/** Validates a configuration object (from a file or code). */
export function parseFeaturesConfig(input: unknown, where = '(object)'): FeaturesConfig {
  const r = FeaturesConfigSchema.safeParse(input);
  if (!r.success) invalid(where, describeIssues(r.error.issues));
  return r.data;
}

/** Reads and validates the JSON file at `file`. */
export function readFeaturesConfig(file: string): FeaturesConfig {
  let text: string;
  try {
    text = fs.readFileSync(file, 'utf8');
  } catch (e) {
    invalid(file, `cannot be read (${(e as NodeJS.ErrnoException).code ?? (e as Error).message}); CHURN_FEATURES_CONFIG names a JSON file`);
  }
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (e) {
    invalid(file, `is not JSON (${(e as Error).message})`);
  }
  return parseFeaturesConfig(json, file);
}

/** A snake_case fragment of a name for feature names: lower case, runs of other characters as `_`, at most 40 characters. */
export function slugOf(text: string): string {
  const s = text.toLowerCase().normalize('NFKD').replace(/[^a-z0-9]+/g, '_').replace(/^_+|_+$/g, '').slice(0, 40).replace(/_+$/, '');
  return s === '' ? 'x' : /^[a-z]/.test(s) ? s : `t_${s}`.slice(0, 40);
}

/** Plain words for a chart label: underscores as spaces, at most 32 characters. */
function labelOf(text: string): string {
  const s = text.replace(/_/g, ' ').replace(/\s+/g, ' ').trim();
  return s.length <= 32 ? s.padEnd(2, '.') : `${s.slice(0, 31).trimEnd()}…`;
}

const upperFirst = (text: string) => text.charAt(0).toUpperCase() + text.slice(1);

const quoted = (types: string[]) => (types.length === 1 ? `"${types[0]}"` : types.map((t) => `"${t}"`).join(' or '));

/**
 * The definitions a configuration declares (without the built-in catalogue). The features per event
 * type `t` with window W (slug `s`): ev_s_Wd (count), ev_s_prev_Wd, ev_s_trend_Wd (relative
 * change), ev_s_days_Wd, ev_s_per_day_Wd (per active day of the account), ev_s_per_user_Wd (per
 * active user); then the ratios by their names; then attr_<name> (numbers) or attr_<name>_<value>.
 */
export function configuredDefinitions(config: FeaturesConfig): FeatureInput[] {
  const W = config.windowDays;
  const out: FeatureInput[] = [];
  const want = new Set(config.perType);
  const builtIn = config.builtIn ? ALL_DEFINITIONS : [];
  const byName = new Set<string>();
  const add = (def: FeatureInput) => {
    if (byName.has(def.name) || builtIn.some((d) => d.name === def.name)) {
      throw new ChurnError('CHURN_ERR_VALIDATION', `features configuration: two features would be named ${def.name}; rename an event type, ratio or attribute so their names differ`);
    }
    byName.add(def.name);
    out.push(def);
  };
  /** A feature of `kind` over the whole window: the built-in one when it exists, else a new one. */
  const accountWide = (kind: 'active_days' | 'active_users', name: string, wording: { description: string; singular?: string }, label: string): string => {
    const existing = builtIn.find((d) => d.kind === kind && 'window' in d && d.window?.days === W && !d.window.offsetDays);
    if (existing) return existing.name;
    if (!byName.has(name)) add({ name, kind, family: 'usage', unit: kind === 'active_days' ? 'days' : 'users', window: { days: W }, label, ...wording } as FeatureInput);
    return name;
  };
  const countName = new Map<string, string>();
  for (const entry of config.eventTypes) {
    const e = typeof entry === 'string' ? { name: entry } : entry;
    const s = slugOf(e.name);
    const family = e.family ?? 'usage';
    const human = e.label ?? labelOf(e.name);
    const q = `"${e.name}"`;
    const count = `ev_${s}_${W}d`;
    const prev = `ev_${s}_prev_${W}d`;
    const needCount = want.has('count') || want.has('change') || want.has('per_active_day') || want.has('per_user');
    if (needCount) {
      add({ name: count, kind: 'type_count', eventTypes: [e.name], window: { days: W }, family, unit: 'events', risk: e.risk, label: labelOf(`${human}, ${W}d`),
        ...counted(`{value} ${q} event{s} in the last ${W} days`) });
      countName.set(e.name, count);
    }
    if (want.has('prev_count') || want.has('change')) {
      add({ name: prev, kind: 'type_count', eventTypes: [e.name], window: { days: W, offsetDays: W }, family, unit: 'events', risk: e.risk, label: labelOf(`${human}, previous ${W}d`),
        ...counted(`{value} ${q} event{s} in the ${W} days before the last ${W}`), whenNull: `Account created within the last ${W} days: no ${q} events before then` });
    }
    if (want.has('change')) {
      add({ name: `ev_${s}_trend_${W}d`, kind: 'change', mode: 'relative', dependsOn: [count, prev], family, unit: 'change', risk: e.risk, label: labelOf(`Change in ${human}`),
        description: `${q} events changed by {value} against the previous ${W} days`, whenNull: `No ${q} events in the previous ${W} days to compare with (none, or the account is newer)` });
    }
    if (want.has('days')) {
      add({ name: `ev_${s}_days_${W}d`, kind: 'type_days', eventTypes: [e.name], window: { days: W }, family, unit: 'days', risk: e.risk, label: labelOf(`${human} days, ${W}d`),
        description: `${q} events on {value} of the last ${W} days` });
    }
    if (want.has('per_active_day')) {
      const days = accountWide('active_days', `ev_active_days_${W}d`, { description: `Active on {value} of the last ${W} days` }, labelOf(`Active days, last ${W}`));
      add({ name: `ev_${s}_per_day_${W}d`, kind: 'ratio', dependsOn: [count, days], family, unit: 'events_per_day', risk: e.risk, label: labelOf(`${human} per active day`),
        ...counted(`{value} ${q} event{s} per active day over the last ${W} days`), whenNull: `No activity in the last ${W} days` });
    }
    if (want.has('per_user')) {
      const users = accountWide('active_users', `ev_active_users_${W}d`, counted(`{value} user{s} active in the last ${W} days`), labelOf(`Active users, last ${W}`));
      add({ name: `ev_${s}_per_user_${W}d`, kind: 'ratio', dependsOn: [count, users], family, unit: 'events_per_user', risk: e.risk, label: labelOf(`${human} per active user`),
        ...counted(`{value} ${q} event{s} per active user over the last ${W} days`), whenNull: `No active users in the last ${W} days` });
    }
  }
  /** A count over the window of `types`: the per-type count when there is one, else a new feature. */
  const countOf = (types: string[], name: string, family: FeatureInput['family']): string => {
    if (types.length === 1 && countName.has(types[0])) return countName.get(types[0])!;
    add({ name, kind: 'type_count', eventTypes: types, window: { days: W }, family, unit: 'events', label: labelOf(`${name}`),
      ...counted(`{value} ${quoted(types)} event{s} in the last ${W} days`) });
    return name;
  };
  for (const r of config.ratios) {
    const num = typeof r.numerator === 'string' ? [r.numerator] : r.numerator;
    const den = typeof r.denominator === 'string' ? [r.denominator] : r.denominator;
    const family = r.family ?? 'engagement';
    const top = countOf(num, `${r.name}_numerator`.slice(0, 63), family);
    const bottom = countOf(den, `${r.name}_denominator`.slice(0, 63), family);
    add({ name: r.name, kind: 'ratio', dependsOn: [top, bottom], family, unit: 'ratio', risk: r.risk, label: r.label ?? labelOf(r.name),
      ...counted(`{value} ${quoted(num)} event{s} per ${quoted(den)} event over the last ${W} days`), whenNull: `No ${quoted(den)} events in the last ${W} days` });
  }
  for (const a of config.attributes) {
    const family = a.family ?? 'commercial';
    const human = a.label ?? labelOf(a.name);
    if (a.type === 'numeric') {
      add({ name: `attr_${a.name}`.slice(0, 63), kind: 'attribute', attr: a.name, family, unit: 'score', risk: a.risk, label: human,
        description: `${human}: {value}`, whenNull: `No ${human.toLowerCase()} on record` });
      continue;
    }
    for (const v of a.values!) {
      add({ name: `attr_${a.name}_${slugOf(v)}`.slice(0, 63), kind: 'attribute', attr: a.name, equals: v, family, unit: 'flag', label: labelOf(`${human} ${v}`),
        description: `${human} is "${v}": {value} (1 yes, 0 no)`, yesNo: { yes: upperFirst(`${human} is "${v}"`), no: upperFirst(`${human} is not "${v}"`) }, whenNull: `No ${human.toLowerCase()} on record` });
    }
  }
  return out;
}

/** The built-in catalogue (unless `builtIn` is false) followed by the configured features. */
export function definitionsFromConfig(config: FeaturesConfig): FeatureInput[] {
  return [...(config.builtIn ? ALL_DEFINITIONS : []), ...configuredDefinitions(config)];
}

/**
 * The definitions every entry point uses: the built-in catalogue, extended (or replaced) by the
 * file CHURN_FEATURES_CONFIG names when it is set.
 */
export function productDefinitions(env: NodeJS.ProcessEnv = process.env): readonly FeatureInput[] {
  const file = env.CHURN_FEATURES_CONFIG;
  if (file === undefined || file === '') return ALL_DEFINITIONS;
  return definitionsFromConfig(readFeaturesConfig(file));
}

/**
 * A configuration for what is loaded: every event type that has events (busiest first), and every
 * attribute of the accounts (with industry and region): numeric when all its values are numbers, else a category with its
 * `topValues` most frequent values (those held by at least 1% of the accounts that have it).
 */
export async function discoverFeaturesConfig(db: Queryable, opts: { topValues?: number; builtIn?: boolean } = {}): Promise<FeaturesConfig> {
  const top = opts.topValues ?? 8;
  const types = await query<{ event_type: string }>(db, {
    text: `SELECT t.event_type FROM source.event_types t
           JOIN (SELECT event_type, count(*) AS n FROM source.events GROUP BY event_type) c ON c.event_type = t.event_type
           ORDER BY c.n DESC, t.event_type`,
    values: [],
  });
  const attrs = await query<{ key: string; numeric: boolean; holders: string; values: { v: string; n: string }[] | null }>(db, {
    text: `WITH kv AS (SELECT k.key, k.value FROM source.accounts a CROSS JOIN LATERAL jsonb_each_text(a.attributes) k
                      UNION ALL SELECT 'industry', industry FROM source.accounts WHERE industry IS NOT NULL
                      UNION ALL SELECT 'region', region FROM source.accounts WHERE region IS NOT NULL),
           counted AS (SELECT key, value, count(*) AS n FROM kv GROUP BY key, value)
           SELECT key, bool_and(value ~ $1) AS numeric, sum(n) AS holders,
                  (array_agg(jsonb_build_object('v', value, 'n', n) ORDER BY n DESC, value))::jsonb[] AS values
           FROM counted GROUP BY key ORDER BY key`,
    values: [NUMERIC_TEXT],
  });
  const attributes: FeaturesConfigInput['attributes'] = [];
  for (const a of attrs) {
    if (!AttributeName.safeParse(a.key).success) continue;
    if (a.numeric) {
      attributes.push({ name: a.key, type: 'numeric' });
      continue;
    }
    const min = Math.max(1, Math.ceil(Number(a.holders) * 0.01));
    const values = (a.values ?? []).filter((x) => Number(x.n) >= min && x.v.length <= 200 && x.v.length > 0).slice(0, top).map((x) => x.v);
    if (values.length) attributes.push({ name: a.key, type: 'category', values });
  }
  return parseFeaturesConfig({ builtIn: opts.builtIn ?? true, eventTypes: types.map((t) => t.event_type), attributes }, '(discovered)');
}
