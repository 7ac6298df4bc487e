import type { FeatureDef } from './definitions/schema.ts';

/** A number as people read it: integers plainly, small fractions with two significant decimals. */
export function formatNumber(value: number, unit?: FeatureDef['unit']): string {
  if (!Number.isFinite(value)) return String(value);
  if (unit === 'share') return `${Math.round(value * 100)}%`;
  if (unit === 'change') return `${value > 0 ? '+' : ''}${Math.round(value * 100)}%`;
  if (unit === 'currency') return value.toLocaleString('en-US', { minimumFractionDigits: Number.isInteger(value) ? 0 : 2, maximumFractionDigits: 2 });
  if (Number.isInteger(value)) return value.toLocaleString('en-US');
  const abs = Math.abs(value);
  const digits = abs >= 100 ? 0 : abs >= 10 ? 1 : 2;
  return value.toLocaleString('en-US', { maximumFractionDigits: digits });
}

/**
 * The plain-language sentence for a feature value, e.g. "Active on 3 of the last 28 days; typical
 * retained account: 17". NULL values use the definition's `whenNull` text.
 */
export function describeFeature(def: FeatureDef, value: number | null | undefined, reference?: number | null): string {
  const text = value === null || value === undefined || Number.isNaN(value)
    ? (def.whenNull ?? `${def.name.replace(/_/g, ' ')}: no value`)
    : def.description.replaceAll('{value}', formatNumber(value, def.unit));
  if (reference === null || reference === undefined || !Number.isFinite(reference)) return text;
  return `${text}; typical retained account: ${formatNumber(reference, def.unit)}`;
}
