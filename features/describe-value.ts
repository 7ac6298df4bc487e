import type { FeatureDef } from './definitions/schema.ts';

/*
 * `toLocaleString('en-US', options)` builds a new Intl.NumberFormat on every call (about 30 us); the
 * few formats used here are built once and reused (the same output, ~1 us).
 */
const formats = new Map<string, Intl.NumberFormat>();
function en(minimumFractionDigits: number | undefined, maximumFractionDigits: number | undefined): Intl.NumberFormat {
  const key = `${minimumFractionDigits}/${maximumFractionDigits}`;
  let f = formats.get(key);
  if (!f) formats.set(key, (f = new Intl.NumberFormat('en-US', { minimumFractionDigits, maximumFractionDigits })));
  return f;
}

/** A number as people read it: integers plainly, small fractions with two significant decimals. */
export function formatNumber(value: number, unit?: FeatureDef['unit']): string {
  if (!Number.isFinite(value)) return String(value);
  if (unit === 'share') return `${Math.round(value * 100)}%`;
  if (unit === 'change') return `${value > 0 ? '+' : ''}${Math.round(value * 100)}%`;
  if (unit === 'currency') return en(Number.isInteger(value) ? 0 : 2, 2).format(value);
  if (Number.isInteger(value)) return en(undefined, undefined).format(value);
  const abs = Math.abs(value);
  const digits = abs >= 100 ? 0 : abs >= 10 ? 1 : 2;
  return en(undefined, digits).format(value);
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
