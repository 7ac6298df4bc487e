import fs from 'node:fs/promises';
import { z } from 'zod';
import { ChurnError, describeIssues } from '../core/errors.ts';
import { FAMILIES } from '../features/definitions/schema.ts';

/**
 * Serving configuration: health mapping, tiers and their recommended actions, per-segment overrides,
 * the weighted scorecard, alert thresholds and webhook receivers. Loaded from the optional JSON file
 * named by `CHURN_SERVING_CONFIG`; every field has a documented default (see DEFAULT_SERVING_CONFIG).
 *
 * Health mapping (monotone decreasing in the churn probability p, clamped to 0..100, rounded; the
 * formulas live in scoring/health.ts):
 *  - `relative` (default): the logistic curve below around `multiple` (default 4) times the model's
 *    training churn rate, so tiers mean the same for a 30-day and a 90-day model
 *  - `logistic`: health = 100 / (1 + exp(steepness * (logit(p) - logit(midpoint)))), so an account at
 *    the midpoint probability scores 50 and the curve is steeper around it
 *  - `linear`: health = 100 * (1 - p)
 */

const HealthMappingSchema = z.discriminatedUnion('kind', [
  z.object({ kind: z.literal('relative'), multiple: z.number().positive().max(1000).default(4), steepness: z.number().positive().default(1) }),
  z.object({ kind: z.literal('linear') }),
  z.object({ kind: z.literal('logistic'), midpoint: z.number().gt(0).lt(1).default(0.3), steepness: z.number().positive().default(1) }),
]);

const SNAKE_NAME = /^[a-z][a-z0-9_]*$/;
const SNAKE_RULE = 'a name is lower-case letters, digits and _, starting with a letter (at_risk)';

/** The tiers of accounts that are not paying customers (scoring/build-score.ts): a configured tier cannot take their names. */
export const NON_CUSTOMER_TIER_NAMES = ['trial', 'churned', 'never_subscribed'] as const;

const TierSchema = z.object({
  name: z.string().regex(SNAKE_NAME, SNAKE_RULE)
    .refine((n) => !(NON_CUSTOMER_TIER_NAMES as readonly string[]).includes(n), { message: `${NON_CUSTOMER_TIER_NAMES.join(', ')} are the tiers of accounts that are not customers; name a configured tier otherwise` }),
  /** lowest health score (inclusive) that still belongs to this tier */
  min_health: z.number().min(0).max(100),
  recommended_action: z.string().min(1),
});

/** Tiers best first; the last must start at 0 so every score has a tier. */
const TiersSchema = z.array(TierSchema).min(1).superRefine((tiers, ctx) => {
  for (let i = 1; i < tiers.length; i++) {
    if (tiers[i].min_health >= tiers[i - 1].min_health) ctx.addIssue({ code: 'custom', message: 'tiers must be ordered best first with decreasing min_health', path: [i, 'min_health'] });
  }
  if (tiers[tiers.length - 1].min_health !== 0) ctx.addIssue({ code: 'custom', message: 'the last tier must have min_health 0', path: [tiers.length - 1, 'min_health'] });
  if (new Set(tiers.map((t) => t.name)).size !== tiers.length) ctx.addIssue({ code: 'custom', message: 'tier names must be unique' });
});

const Weight = z.number().min(0);
const WeightsSchema = z.object({
  engagement: Weight, usage: Weight, adoption: Weight, support: Weight, commercial: Weight.default(0), sentiment: Weight.default(0),
}).refine((w) => Object.values(w).some((x) => x > 0), 'at least one weight must be positive');

/** One scorecard metric: points for the first band whose `min` the value reaches (bands highest first). */
const MetricSchema = z.object({
  feature: z.string().min(1),
  family: z.enum(FAMILIES),
  bands: z.array(z.object({ min: z.number(), points: z.number().min(0).max(100) })).min(1),
  /** points when the value is below every band or missing */
  else_points: z.number().min(0).max(100).default(0),
});

const SegmentSchema = z.object({
  name: z.string().regex(SNAKE_NAME, SNAKE_RULE),
  /** matches accounts whose `source.accounts.segment` is one of these */
  account_segments: z.array(z.string()).optional(),
  /** matches accounts at most this many days old at scoring time */
  max_tenure_days: z.number().int().min(0).optional(),
  min_tenure_days: z.number().int().min(0).optional(),
  tiers: TiersSchema.optional(),
  scorecard_weights: WeightsSchema.optional(),
});

export const ServingConfigSchema = z.object({
  health: HealthMappingSchema.prefault({ kind: 'relative' }),
  tiers: TiersSchema.default([
    { name: 'healthy', min_health: 70, recommended_action: 'expand' },
    { name: 'at_risk', min_health: 40, recommended_action: 'engage' },
    { name: 'critical', min_health: 0, recommended_action: 'rescue' },
  ]),
  /** first matching segment wins; accounts matching none are in `default_segment` */
  segments: z.array(SegmentSchema).default([
    { name: 'onboarding', max_tenure_days: 90, tiers: [
      { name: 'healthy', min_health: 75, recommended_action: 'expand' },
      { name: 'at_risk', min_health: 50, recommended_action: 'engage' },
      { name: 'critical', min_health: 0, recommended_action: 'rescue' },
    ], scorecard_weights: { engagement: 0.2, usage: 0.3, adoption: 0.4, support: 0.1, commercial: 0, sentiment: 0 } },
    { name: 'enterprise', account_segments: ['enterprise'], tiers: [
      { name: 'healthy', min_health: 75, recommended_action: 'expand' },
      { name: 'at_risk', min_health: 45, recommended_action: 'engage' },
      { name: 'critical', min_health: 0, recommended_action: 'rescue' },
    ] },
  ]),
  default_segment: z.string().regex(SNAKE_NAME, SNAKE_RULE).default('established'),
  scorecard: z.object({
    weights: WeightsSchema.prefault({ engagement: 0.25, usage: 0.35, adoption: 0.2, support: 0.2 }),
    /** metrics naming features the model does not have are ignored */
    metrics: z.array(MetricSchema).default([
      { feature: 'active_days_28d', family: 'usage', bands: [{ min: 15, points: 100 }, { min: 8, points: 60 }, { min: 3, points: 30 }], else_points: 0 },
      { feature: 'days_since_last_activity', family: 'usage', bands: [{ min: 30, points: 0 }, { min: 8, points: 40 }, { min: 0, points: 100 }], else_points: 0 },
      { feature: 'active_user_share_28d', family: 'engagement', bands: [{ min: 0.6, points: 100 }, { min: 0.3, points: 60 }, { min: 0.1, points: 25 }], else_points: 0 },
      { feature: 'stickiness_28d', family: 'engagement', bands: [{ min: 0.3, points: 100 }, { min: 0.15, points: 60 }, { min: 0.05, points: 25 }], else_points: 0 },
      { feature: 'feature_areas_28d', family: 'adoption', bands: [{ min: 5, points: 100 }, { min: 3, points: 60 }, { min: 1, points: 30 }], else_points: 0 },
      { feature: 'key_features_28d', family: 'adoption', bands: [{ min: 3, points: 100 }, { min: 1, points: 50 }], else_points: 0 },
      { feature: 'tickets_90d', family: 'support', bands: [{ min: 6, points: 10 }, { min: 3, points: 50 }, { min: 0, points: 100 }], else_points: 100 },
      { feature: 'escalated_tickets_90d', family: 'support', bands: [{ min: 2, points: 0 }, { min: 1, points: 40 }, { min: 0, points: 100 }], else_points: 100 },
    ]),
  }).prefault({}),
  alerts: z.object({
    /** an alert fires when health falls by at least this many points (or the tier worsens, see tier_dead_band) */
    drop_points: z.number().int().min(1).max(100).default(15),
    /**
     * hysteresis of tier alerts: a move into a worse tier alerts only once health is at least this many
     * points below the boundary crossed (70 -> 69 across 70 does not, 70 -> 67 does); 0 alerts on any crossing
     */
    tier_dead_band: z.number().min(0).max(100).default(3),
    /**
     * a stored score whose as-of lies more than this many hours before it was stored is a backfill: it
     * raises no alert (nor does a score older than the account's latest stored one)
     */
    backfill_after_hours: z.number().positive().max(876_000).default(48),
    /** failed attempts after which a delivery is dead-lettered (kept for `churn alerts redeliver`) */
    max_attempts: z.number().int().min(1).default(20),
    backoff_base_seconds: z.number().positive().default(5),
    backoff_max_seconds: z.number().positive().default(3600),
    timeout_ms: z.number().int().positive().default(5000),
    /** how often the server looks for due deliveries */
    poll_seconds: z.number().positive().default(5),
  }).prefault({}),
  webhooks: z.array(z.object({ url: z.url({ protocol: /^https?$/ }), secret: z.string().min(16) })).default([]),
  history: z.object({
    /**
     * scores older than this many days are thinned to each account's latest score per calendar month
     * (what `churn monitor` reads), keeping the account's latest score and every score an alert names;
     * 0 keeps every score (see history-retention.ts)
     */
    thin_after_days: z.number().int().min(0).max(36500).default(0),
  }).prefault({}),
});

export type ServingConfig = z.infer<typeof ServingConfigSchema>;
export type Tier = z.infer<typeof TierSchema>;
export type Weights = z.infer<typeof WeightsSchema>;

export const DEFAULT_SERVING_CONFIG: ServingConfig = ServingConfigSchema.parse({});

export function parseServingConfig(raw: unknown, origin = 'serving config'): ServingConfig {
  const parsed = ServingConfigSchema.safeParse(raw);
  if (!parsed.success) throw new ChurnError('CHURN_ERR_CONFIG', `invalid ${origin}: ${describeIssues(parsed.error.issues)}`);
  return parsed.data;
}

/** Reads the JSON file (if a path is given) and validates it; no path means the defaults. */
export async function loadServingConfig(file: string | undefined): Promise<ServingConfig> {
  if (!file) return DEFAULT_SERVING_CONFIG;
  let raw: unknown;
  try {
    raw = JSON.parse(await fs.readFile(file, 'utf8'));
  } catch (err) {
    throw new ChurnError('CHURN_ERR_CONFIG', `cannot read serving config ${file}: ${(err as Error).message}`, { cause: err });
  }
  return parseServingConfig(raw, `serving config ${file}`);
}
