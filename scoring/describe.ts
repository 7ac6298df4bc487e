import type { FeatureDef } from '../features/catalog.ts';
import { describeFeature } from '../features/describe-value.ts';

const MAX_SENTENCES = 50_000;
const sentences = new Map<string, string>();

const fmt = (v: number | string): string => (typeof v === 'number' ? (Number.isInteger(v) ? String(v) : v.toFixed(Math.abs(v) < 1 ? 2 : 1)) : v);

/**
 * A driver's plain-language description. Catalogue features use the catalogue's sentence
 * (features/describe-value.ts: "Active on 3 of the last 28 days; typical retained account: 17");
 * features without a definition (a model trained on a prepared table, text columns) are described by
 * name, with the reference when there is one.
 */
export function describeValue(name: string, def: FeatureDef | undefined, value: number | string | null, reference: number | string | null): string {
  if (def && typeof value !== 'string' && typeof reference !== 'string') {
    // The same sentences recur (integers, references): keep them rather than format them again.
    const key = `${def.name}\u0000${value}\u0000${reference}`;
    let text = sentences.get(key);
    if (text === undefined) {
      if (sentences.size >= MAX_SENTENCES) sentences.clear();
      text = describeFeature(def, value, reference);
      sentences.set(key, text);
    }
    return text;
  }
  const text = value === null ? `${name.replace(/_/g, ' ')}: no value` : `${name.replace(/_/g, ' ')}: ${fmt(value)}`;
  return reference === null ? text : `${text}; typical retained account: ${fmt(reference)}`;
}
