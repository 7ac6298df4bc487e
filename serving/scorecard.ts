import { FAMILIES, type Family, type ServingConfig, type Weights } from './config.ts';

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
  const sums = new Map<Family, { total: number; n: number }>();
  for (const m of metrics) {
    const v = valueOf(m.feature);
    if (v === undefined) continue;
    const num = typeof v === 'number' && Number.isFinite(v) ? v : null;
    const band = num === null ? undefined : m.bands.find((b) => num >= b.min);
    const points = band ? band.points : m.else_points;
    const s = sums.get(m.family) ?? { total: 0, n: 0 };
    s.total += points;
    s.n += 1;
    sums.set(m.family, s);
  }
  let weighted = 0;
  let weightSum = 0;
  for (const f of FAMILIES) {
    const s = sums.get(f);
    if (!s || weights[f] <= 0) continue;
    weighted += (weights[f] * s.total) / s.n;
    weightSum += weights[f];
  }
  // With no usable metric the scorecard is neutral.
  return weightSum > 0 ? Math.round(weighted / weightSum) : 50;
}
