import { FAMILIES } from '../features/definitions/schema.ts';
import { NON_CUSTOMER_TIER_NAMES, type ServingConfig } from './config.ts';
import { healthScore, resolveSegment, tierOf, type SegmentInfo } from './health.ts';
import type { RowValue, ScoringModel } from './model.ts';
import { scorecardScore } from './scorecard.ts';
import type { AccountStatus } from '../features/online.ts';
import type { Driver, Score } from './schema.ts';

/** How many drivers a score lists: the N largest contributions, or all of them. */
export type Top = number | 'all';

/**
 * Family sub-scores (0-100, higher is healthier): 100 * sigmoid(-sum of the family's contributions).
 * A family that neither raises nor lowers the risk scores 50.
 */
export function familyComponents(slots: Int8Array, contributions: ArrayLike<number>): Score['components'] {
  const sums = new Float64Array(FAMILIES.length);
  for (let i = 0; i < slots.length; i++) if (slots[i] >= 0) sums[slots[i]] += contributions[i];
  const out = {} as Score['components'];
  for (let k = 0; k < FAMILIES.length; k++) out[FAMILIES[k]] = Math.round(100 / (1 + Math.exp(sums[k])));
  return out;
}

/** Indices of the `n` largest |values|, largest first (ties: the lower index first). */
export function topIndices(values: ArrayLike<number>, n: number): number[] {
  const len = values.length;
  if (n <= 0) return [];
  if (n * 4 >= len) {
    const order = Array.from({ length: len }, (_, i) => i).filter((i) => !Number.isNaN(values[i]));
    order.sort((a, b) => Math.abs(values[b]) - Math.abs(values[a]) || a - b);
    return order.slice(0, n);
  }
  // A few of many (the default top 5 of 60-odd): one pass keeping the best n in order, by insertion;
  // a later index never passes an equal earlier one, so ties stay in index order as with the sort.
  const top: number[] = [];
  for (let i = 0; i < len; i++) {
    const v = Math.abs(values[i]);
    if (Number.isNaN(v)) continue;
    let j = top.length;
    if (j === n) {
      if (v <= Math.abs(values[top[n - 1]])) continue;
      j = n - 1;
    }
    while (j > 0 && Math.abs(values[top[j - 1]]) < v) {
      top[j] = top[j - 1];
      j--;
    }
    top[j] = i;
  }
  return top;
}

export interface BuildScoreInput {
  model: ScoringModel;
  config: ServingConfig;
  accountId: string;
  /** ISO text of the as-of time */
  asOf: string;
  row: Readonly<Record<string, RowValue>>;
  segment: SegmentInfo;
  top: Top;
  /** where the account stands (default active): trials, churned and never-subscribed accounts are not tiered as customers */
  status?: AccountStatus;
  /** features scored as missing because the caller left them out */
  imputed?: string[];
}

/**
 * The tier and action of an account that is not a paying customer at the as-of time. The model learnt
 * from paying customers only (training leaves trials out), so what it says of a trial is not a
 * customer's health: "healthy, expand" of a trial that has not converted yet misleads.
 */
export const NOT_CUSTOMER: Record<Exclude<AccountStatus, 'active'>, { tier: (typeof NON_CUSTOMER_TIER_NAMES)[number]; action: string }> = {
  trial: { tier: 'trial', action: 'convert' },
  churned: { tier: 'churned', action: 'win_back' },
  never_subscribed: { tier: 'never_subscribed', action: 'none' },
};

/** Runs the model on one row and turns the result into the public score shape (drivers largest |contribution| first). */
export function buildScore({ model, config, accountId, asOf, row, segment, top, status = 'active', imputed }: BuildScoreInput): Score {
  const out = model.score(row);
  const seg = resolveSegment(config, segment);
  const health = healthScore(out.probability, config.health, model.baseRate);
  const { tier } = tierOf(health, seg.tiers);
  const standing = status === 'active' ? { tier: tier.name, action: tier.recommended_action } : NOT_CUSTOMER[status];
  const n = top === 'all' ? model.featureNames.length : Math.min(top, model.featureNames.length);
  // a young account is explained against the retained accounts of its age (the scorer chose the band)
  const references = out.band >= 0 ? model.youngBands[out.band].references : model.references;
  const drivers: Driver[] = topIndices(out.contributions, n).map((i) => {
    const value = row[model.featureNames[i]] ?? null;
    const c = out.contributions[i];
    return {
      feature: model.featureNames[i],
      family: model.families[i],
      value,
      reference: references[i] ?? null,
      contribution: c,
      direction: c > 0 ? 'raises_risk' : c < 0 ? 'lowers_risk' : 'neutral',
      description: model.describe(i, value, out.band),
    };
  });
  return {
    account_id: accountId,
    as_of: asOf,
    model_version: model.version,
    feature_set_version: model.featureSetVersion,
    segment: seg.name,
    status,
    churn_probability: out.probability,
    health_score: health,
    tier: standing.tier,
    recommended_action: standing.action,
    scorecard_score: scorecardScore((f) => (model.featureIndex.has(f) ? row[f] ?? null : undefined), config.scorecard.metrics, seg.weights),
    components: familyComponents(model.familySlots, out.contributions),
    base_value: Number(out.baseValue.toFixed(9)),
    drivers,
    ...(imputed ? { imputed } : {}),
  };
}
