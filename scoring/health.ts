/**
 * Customer health from a churn probability, and where an account stands: its segment (which tiers
 * and scorecard weights apply) and its tier. Pure and small; every score, stored or served, comes
 * through here.
 *
 * Health score, 0-100 and monotone decreasing in the churn probability p, by one of three mappings
 * (`ServingConfig['health']`):
 *  - `relative` (default): `100 / (1 + exp(steepness * (logit(p) - logit(m))))` with the midpoint
 *    `m = min(0.5, multiple * base rate)`, the base rate being the model's training churn rate: an
 *    account at `multiple` times the usual risk scores 50, a typical one about 80 (multiple 4),
 *    whatever the horizon or how rare churn is;
 *  - `logistic`: the same curve around a fixed midpoint probability;
 *  - `linear`: `100 * (1 - p)`.
 */
import type { ServingConfig, Tier, Weights } from './config.ts';

export type HealthMapping = ServingConfig['health'];

const logit = (p: number) => Math.log(p / (1 - p));

/** The probability that scores 50 under a mapping (null for `linear`, where it is 0.5 by construction). */
export function healthMidpoint(mapping: HealthMapping, baseRate: number): number | null {
  if (mapping.kind === 'linear') return null;
  if (mapping.kind === 'logistic') return mapping.midpoint;
  return Math.min(0.5, Math.max(1e-4, mapping.multiple * baseRate));
}

/** 0-100 health from a churn probability; `baseRate` is the model's training churn rate (for `relative`). */
export function healthScore(probability: number, mapping: HealthMapping, baseRate: number): number {
  const p = Math.min(1 - 1e-9, Math.max(1e-9, probability));
  const mid = healthMidpoint(mapping, baseRate);
  const raw = mid === null || mapping.kind === 'linear' ? 100 * (1 - p) : 100 / (1 + Math.exp(mapping.steepness * (logit(p) - logit(mid))));
  return Math.max(0, Math.min(100, Math.round(raw)));
}

/** What decides an account's segment. */
export interface SegmentInfo {
  /** source.accounts.segment, when known */
  accountSegment: string | null;
  tenureDays: number | null;
}

export interface ResolvedSegment {
  name: string;
  tiers: Tier[];
  weights: Weights;
}

/** The first configured segment the account matches, else the default segment. */
export function resolveSegment(config: ServingConfig, info: SegmentInfo): ResolvedSegment {
  for (const s of config.segments) {
    if (s.account_segments && (info.accountSegment === null || !s.account_segments.includes(info.accountSegment))) continue;
    if (s.max_tenure_days !== undefined && (info.tenureDays === null || info.tenureDays > s.max_tenure_days)) continue;
    if (s.min_tenure_days !== undefined && (info.tenureDays === null || info.tenureDays < s.min_tenure_days)) continue;
    return { name: s.name, tiers: s.tiers ?? config.tiers, weights: s.scorecard_weights ?? config.scorecard.weights };
  }
  return { name: config.default_segment, tiers: config.tiers, weights: config.scorecard.weights };
}

/** The tier for a health score and its rank (0 = best). */
export function tierOf(health: number, tiers: Tier[]): { tier: Tier; rank: number } {
  const rank = tiers.findIndex((t) => health >= t.min_health);
  const i = rank < 0 ? tiers.length - 1 : rank;
  return { tier: tiers[i], rank: i };
}

/** Every tier name any segment can produce (for the `tier` filter). */
export function allTierNames(config: ServingConfig): string[] {
  const names = new Set(config.tiers.map((t) => t.name));
  for (const s of config.segments) for (const t of s.tiers ?? []) names.add(t.name);
  return [...names];
}

/** Sum of contributions per family. */
export function familyContributions(families: readonly string[], contributions: ArrayLike<number>): Record<string, number> {
  const out: Record<string, number> = {};
  for (let j = 0; j < families.length; j++) out[families[j]] = (out[families[j]] ?? 0) + contributions[j];
  return out;
}

export interface FamilyDriver {
  family: string;
  /** sum of the family's contributions (log-odds): its exact share of `logit - baseValue` */
  contribution: number;
  direction: 'raises_risk' | 'lowers_risk' | 'neutral';
}

/**
 * Families ranked by their summed contribution, the one that raises risk most first (ties by name).
 *
 * Why sum: features of one family are strongly correlated (the same measure over 7, 28 and 90 days, or
 * a count and its share), and a model spreads the credit among them, sometimes with opposite signs.
 * One feature's contribution then understates (or hides) what the family as a whole does, while the
 * family's sum is its exact share of the explanation (contributions are additive), so it is the stable
 * way to name the driving family. Measured on a synthetic world (bench/eval-drivers.ts), naming the
 * family this way matches the true churn driver more often than the family of the top single feature.
 */
export function familyDrivers(families: readonly string[], contributions: ArrayLike<number>): FamilyDriver[] {
  return Object.entries(familyContributions(families, contributions))
    .sort((a, b) => b[1] - a[1] || (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0))
    .map(([family, c]) => ({ family, contribution: c, direction: c > 0 ? 'raises_risk' : c < 0 ? 'lowers_risk' : 'neutral' }));
}

/** The family whose summed contribution raises risk most, or null when no family raises risk. */
export function topRiskFamily(families: readonly string[], contributions: ArrayLike<number>): FamilyDriver | null {
  const [top] = familyDrivers(families, contributions);
  return top && top.contribution > 0 ? top : null;
}
