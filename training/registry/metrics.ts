/** Reading stored metrics: nested numeric leaves flattened to dotted names, and one split's metric looked up. */

export interface FlatMetric {
  key: string;
  value: number;
}

/** Dotted paths to every finite number in a nested object (arrays are skipped: they are tables, not metrics). */
export function flattenNumeric(obj: unknown, prefix = ''): FlatMetric[] {
  const out: FlatMetric[] = [];
  const walk = (v: unknown, path: string) => {
    if (typeof v === 'number') {
      if (Number.isFinite(v) && path) out.push({ key: path, value: v });
    } else if (v && typeof v === 'object' && !Array.isArray(v)) {
      for (const [k, child] of Object.entries(v as Record<string, unknown>)) walk(child, path ? `${path}.${k}` : k);
    }
  };
  walk(obj, prefix);
  return out;
}

const SPLIT_NAMES: Record<string, string[]> = {
  validation: ['validation', 'valid', 'val', 'validate'],
  test: ['test', 'holdout', 'testing'],
  train: ['train', 'training'],
};

const norm = (s: string) => s.toLowerCase().replace(/[^a-z0-9]/g, '');

/**
 * The value of `metric` (e.g. `auc`) on `split` (validation, test, train) in a version's metrics,
 * whatever the nesting: `{ validation: { auc } }`, `{ valid: { metrics: { auc } } }`,
 * `{ validation_auc }`, `{ "validation.auc" }`; a point estimate `{ auc: { estimate } }` counts.
 */
export function metricValue(metrics: unknown, metric = 'auc', split = 'validation'): number | null {
  const splits = (SPLIT_NAMES[split] ?? [split]).map(norm);
  const want = norm(metric);
  const aliases = new Set([want, want === 'auc' ? 'rocauc' : want]);
  let best: { value: number; depth: number } | null = null;
  for (const { key, value } of flattenNumeric(metrics)) {
    const parts = key.split('.').map(norm);
    const leaf = parts[parts.length - 1];
    // the metric is the leaf, or the parent of a point estimate
    const metricAt = aliases.has(leaf) ? parts.length - 1 : ['estimate', 'value', 'mean'].includes(leaf) && aliases.has(parts[parts.length - 2] ?? '') ? parts.length - 2 : -1;
    let hit = metricAt >= 0 && parts.slice(0, metricAt).some((p) => splits.includes(p));
    if (!hit) hit = splits.some((s) => aliases.has(leaf.startsWith(s) ? leaf.slice(s.length) : ''));
    if (hit && (!best || parts.length < best.depth)) best = { value, depth: parts.length };
  }
  return best?.value ?? null;
}
