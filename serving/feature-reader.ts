import type { Pool } from '../core/db.ts';
import type { Catalog } from '../features/catalog.ts';
import { computeFeatures } from '../features/materialize.ts';
import { batchFeatureReads } from './feature-batcher.ts';
import type { RowValue } from './score-builder.ts';
import type { FeatureReader } from './scorer-service.ts';

/** Feature rows keyed by name, from catalogue-ordered value arrays. */
export function toRecords(catalog: Catalog, arrays: Map<string, (number | null)[]> | Iterable<[string, (number | null)[]]>): Map<string, Record<string, RowValue>> {
  const out = new Map<string, Record<string, RowValue>>();
  for (const [id, values] of arrays) {
    const row: Record<string, RowValue> = {};
    for (let i = 0; i < catalog.names.length; i++) row[catalog.names[i]] = values[i] ?? null;
    out.set(id, row);
  }
  return out;
}

/**
 * The scoring fast path: the catalogue's compiled statement restricted to the requested accounts and
 * one as-of time (a prepared statement), for any account that existed then, active or not. Concurrent
 * reads for the same as-of time are coalesced into one statement (see feature-batcher.ts).
 */
export function createFeatureReader(db: Pool, catalog: Catalog, opts: { maxInFlight?: number; maxBatch?: number } = {}): FeatureReader {
  return batchFeatureReads({
    featureSetVersion: catalog.version,
    read: async (ids, asOf) => toRecords(catalog, await computeFeatures(db, catalog, ids, asOf, { requireActive: false })),
  }, opts);
}
