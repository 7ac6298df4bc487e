import { ChurnError } from './errors.ts';

/**
 * Canonical JSON: object keys sorted at every depth, typed arrays as plain arrays, no whitespace,
 * undefined properties left out. Hashes of it (artifact checksums, the feature-set version) do not
 * depend on key order or on how the value was built.
 */
function normalise(value: unknown, path: string): unknown {
  if (value === null || typeof value === 'string' || typeof value === 'boolean') return value;
  if (typeof value === 'number') {
    if (!Number.isFinite(value)) throw new ChurnError('CHURN_ERR_VALIDATION', `value holds a non-finite number at ${path || '(root)'}`);
    return value;
  }
  if (ArrayBuffer.isView(value) && !(value instanceof DataView)) {
    return Array.from(value as unknown as ArrayLike<number>, (v, i) => normalise(Number(v), `${path}[${i}]`));
  }
  if (Array.isArray(value)) return value.map((v, i) => normalise(v === undefined ? null : v, `${path}[${i}]`));
  if (typeof value === 'object') {
    const withJson = value as { toJSON?: () => unknown };
    if (typeof withJson.toJSON === 'function') return normalise(withJson.toJSON(), path);
    const out: Record<string, unknown> = {};
    for (const key of Object.keys(value as object).sort()) {
      const v = (value as Record<string, unknown>)[key];
      if (v === undefined || typeof v === 'function') continue;
      out[key] = normalise(v, path ? `${path}.${key}` : key);
    }
    return out;
  }
  throw new ChurnError('CHURN_ERR_VALIDATION', `value holds what JSON cannot represent (${typeof value}) at ${path || '(root)'}`);
}

/** The canonical JSON text of a JSON-serialisable value. */
export function canonicalJson(value: unknown): string {
  if (value === undefined) throw new ChurnError('CHURN_ERR_VALIDATION', 'nothing to write: the value is undefined');
  return JSON.stringify(normalise(value, ''));
}
