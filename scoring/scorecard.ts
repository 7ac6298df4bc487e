import { FAMILIES } from '../features/definitions/schema.ts';
import type { ServingConfig, Weights } from './config.ts';

/**
 * The weighted scorecard many CS teams run beside a model: each metric earns points (0-100) by
 * threshold bands, a family's score is the mean of its metrics, and the scorecard is the weighted mean
 * of the families that have at least one metric. Metrics naming features the model lacks are ignored.
 */
export function scorecardScore(
  /** feature values (a map, or a function giving undefined when the model has no such feature) */
  values: ReadonlyMap<string, number | string | null> | ((feature: string) => number | string | null | undefined),
  metrics: ServingConfig['scorecard']['metrics'],
  weights: Weights,
): number {
  const valueOf = typeof values === 'function' ? values : (f: string) => (values.has(f) ? values.get(f) ?? null : undefined);
  const total = new Float64Array(FAMILIES.length);
  const count = new Float64Array(FAMILIES.length);
  for (const m of metrics) {
    const v = valueOf(m.feature);
    if (v === undefined) continue;
    let points = m.else_points;
    if (typeof v === 'number' && Number.isFinite(v)) {
      for (const b of m.bands) {
        if (v >= b.min) {
          points = b.points;
          break;
        }
      }
    }
    const k = FAMILIES.indexOf(m.family);
    total[k] += points;
    count[k] += 1;
  }
  let weighted = 0;
  let weightSum = 0;
  for (let k = 0; k < FAMILIES.length; k++) {
    const w = weights[FAMILIES[k]];
    if (!count[k] || w <= 0) continue;
    weighted += (w * total[k]) / count[k];
    weightSum += w;
  }
  // With no usable metric the scorecard is neutral.
  return weightSum > 0 ? Math.round(weighted / weightSum) : 50;
}
