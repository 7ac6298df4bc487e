/**
 * Customer health from a churn probability and its explanation, pure and small (the API, the CLI and
 * the report share it).
 * - health score: `round(100 * (1 - p))`, 0-100, monotone decreasing in the churn probability.
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

export function healthScore(probability: number): number {
  const p = Math.min(1, Math.max(0, probability));
  return Math.round(100 * (1 - p));
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
