/**
 * Customer health from a churn probability and its explanation, pure and small (the API, the CLI and
 * the report share it).
 * - health score, 0-100 and monotone decreasing in the churn probability p, by one of three mappings:
 *   - `relative` (default): `100 / (1 + exp(steepness * (logit(p) - logit(m))))` with the midpoint
 *     `m = min(0.5, multiple * base rate)`, base rate being the model's training churn rate: an account
 *     at `multiple` times the usual risk scores 50, a typical one scores about 80 (with multiple 4),
 *     whatever the horizon or how rare churn is;
 *   - `logistic`: the same curve around a fixed midpoint probability;
 *   - `linear`: `100 * (1 - p)`.
 * - tier: `healthy` at or above `healthy` (default 70), `at_risk` at or above `at_risk` (default 40),
 *   otherwise `critical`.
 * - family sub-scores: with c the sum of a family's contributions (log-odds), `round(100 / (1 + e^c))`:
 *   50 means "like the reference (typical) account", above 50 the family lowers risk, below raises it.
 */
export type Tier = 'healthy' | 'at_risk' | 'critical';

export interface TierThresholds {
  healthy: number;
  at_risk: number;
}

export const defaultTierThresholds: TierThresholds = { healthy: 70, at_risk: 40 };
export const SCORE_FAMILIES = ['engagement', 'usage', 'adoption', 'support'] as const;

export type HealthMapping =
  | { kind: 'relative'; multiple: number; steepness: number }
  | { kind: 'logistic'; midpoint: number; steepness: number }
  | { kind: 'linear' };

export const DEFAULT_HEALTH_MAPPING: HealthMapping = { kind: 'relative', multiple: 4, steepness: 1 };

const logit = (p: number) => Math.log(p / (1 - p));

/** The probability that scores 50 under a mapping (null for `linear`, where it is 0.5 by construction). */
export function healthMidpoint(mapping: HealthMapping, baseRate: number): number | null {
  if (mapping.kind === 'linear') return null;
  if (mapping.kind === 'logistic') return mapping.midpoint;
  return Math.min(0.5, Math.max(1e-4, mapping.multiple * baseRate));
}

/** 0-100 health from a churn probability; `baseRate` is the model's training churn rate (for `relative`). */
export function healthScore(probability: number, mapping: HealthMapping = DEFAULT_HEALTH_MAPPING, baseRate = 0.1): number {
  const p = Math.min(1 - 1e-9, Math.max(1e-9, probability));
  const mid = healthMidpoint(mapping, baseRate);
  const raw = mid === null ? 100 * (1 - p) : 100 / (1 + Math.exp((mapping as { steepness: number }).steepness * (logit(p) - logit(mid))));
  return Math.max(0, Math.min(100, Math.round(raw)));
}

export function tierFor(score: number, thresholds: TierThresholds = defaultTierThresholds): Tier {
  if (score >= thresholds.healthy) return 'healthy';
  if (score >= thresholds.at_risk) return 'at_risk';
  return 'critical';
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

/** 0-100 sub-score per family (null when the model has no feature of that family). */
export function familyScores(families: readonly string[], contributions: ArrayLike<number>, names: readonly string[] = SCORE_FAMILIES): Record<string, number | null> {
  const sums = familyContributions(families, contributions);
  return Object.fromEntries(names.map((f) => [f, f in sums ? Math.round(100 / (1 + Math.exp(sums[f]))) : null]));
}

export interface Driver {
  feature: string;
  family: string;
  contribution: number;
  direction: 'raises_risk' | 'lowers_risk';
}

/** The `top` largest contributions by absolute size (all when `top` is undefined), largest first. */
export function topDrivers(featureNames: readonly string[], families: readonly string[], contributions: ArrayLike<number>, top?: number): Driver[] {
  const idx = Array.from({ length: featureNames.length }, (_, j) => j);
  idx.sort((i, j) => Math.abs(contributions[j]) - Math.abs(contributions[i]) || i - j);
  return idx.slice(0, top ?? idx.length).map((j) => ({
    feature: featureNames[j],
    family: families[j] ?? 'other',
    contribution: contributions[j],
    direction: contributions[j] > 0 ? 'raises_risk' : 'lowers_risk',
  }));
}

/** `feature:+0.42;feature:-0.10` (the CSV form of the drivers). */
export function formatDrivers(drivers: readonly Driver[]): string {
  return drivers.map((d) => `${d.feature}:${d.contribution >= 0 ? '+' : ''}${d.contribution.toFixed(2)}`).join(';');
}
