import type { z } from 'zod';
import type { ChangeResponseSchema } from './schema.ts';
import type { Driver, Score } from './schema.ts';

type Change = z.infer<typeof ChangeResponseSchema>;
const logit = (p: number) => Math.log(Math.max(1e-12, p) / Math.max(1e-12, 1 - p));

/**
 * Why a score moved: per feature, the change in contribution between two stored scores (largest
 * first). On the log-odds scale, logit_change = base_value_change + sum(contribution_change); the base
 * value changes when the two scores come from different models (`model_changed`: then part of the
 * change is the models' difference, not the account's), or when the account passed its first 30 or
 * 90 days in between (it is then explained against the references of older accounts).
 */
export function scoreChange(from: Score, to: Score): Change {
  const a = new Map<string, Driver>(from.drivers.map((d) => [d.feature, d]));
  const b = new Map<string, Driver>(to.drivers.map((d) => [d.feature, d]));
  const names = [...new Set([...b.keys(), ...a.keys()])];
  const changes = names.map((feature) => {
    const x = a.get(feature);
    const y = b.get(feature);
    const fc = x?.contribution ?? 0;
    const tc = y?.contribution ?? 0;
    const delta = tc - fc;
    return {
      feature,
      family: (y ?? x)!.family,
      from_value: x?.value ?? null,
      to_value: y?.value ?? null,
      from_contribution: fc,
      to_contribution: tc,
      contribution_change: delta,
      direction: delta > 0 ? 'raises_risk' as const : delta < 0 ? 'lowers_risk' as const : 'neutral' as const,
      description: y?.description ?? x!.description,
    };
  }).sort((p, q) => Math.abs(q.contribution_change) - Math.abs(p.contribution_change));
  return {
    account_id: to.account_id,
    from,
    to,
    health_change: to.health_score - from.health_score,
    probability_change: to.churn_probability - from.churn_probability,
    logit_change: logit(to.churn_probability) - logit(from.churn_probability),
    base_value_change: to.base_value - from.base_value,
    model_changed: from.model_version !== to.model_version,
    changes,
  };
}
