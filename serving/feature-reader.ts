import type { Pool } from '../core/db.ts';
import type { Catalog } from '../features/catalog.ts';
import { featureConcurrency } from '../core/config.ts';
import { PER_ACCOUNT_MAX, utcMidnightOf } from '../features/compile.ts';
import { createFastPathPool, readFeatureRows } from '../features/materialize.ts';
import { batchFeatureReads } from './feature-batcher.ts';
import type { RowValue } from '../scoring/build-score.ts';
import type { AccountFeatures, FeatureReader } from '../scoring/score-accounts.ts';

/** Feature rows keyed by name, from catalogue-ordered value arrays. */
export function toRecords(catalog: Catalog, arrays: Map<string, (number | null)[]> | Iterable<[string, (number | null)[]]>): Map<string, Record<string, RowValue>> {
  const out = new Map<string, Record<string, RowValue>>();
  for (const [id, values] of arrays) {
    out.set(id, toRecord(catalog, values));
  }
  return out;
}

/** One feature row keyed by name, from its catalogue-ordered values. */
function toRecord(catalog: Catalog, values: (number | null)[]): Record<string, RowValue> {
  const row: Record<string, RowValue> = {};
  for (let i = 0; i < catalog.names.length; i++) row[catalog.names[i]] = values[i] ?? null;
  return row;
}

/**
 * The scoring fast path: the catalogue's compiled statement restricted to the requested accounts and
 * one as-of time (a prepared statement; at a UTC midnight, its form reading the event rollup, about
 * half the PostgreSQL CPU), for any account that existed then, active or not, with each
 * account's segment and sign-up time from the same statement (no second read per score). Concurrent
 * reads for the same as-of time are coalesced into one statement (see feature-batcher.ts). The reads
 * run on a pool of their own (`createFastPathPool`: one round trip per read), one connection per
 * statement at once plus one for a batch read (over `maxBatch` accounts) beside them, kept open;
 * `warm()` opens and prepares them all (so the first scores after a start are not the slow ones),
 * `close()` ends them.
 */
export function createFeatureReader(db: Pool, catalog: Catalog, opts: { maxInFlight?: number; maxBatch?: number } = {}): FeatureReader & { warm(): Promise<void>; close(): Promise<void> } {
  const maxInFlight = opts.maxInFlight ?? featureConcurrency();
  const pool = createFastPathPool(db, maxInFlight + 1);
  const reader = batchFeatureReads({
    featureSetVersion: catalog.version,
    read: async (ids, asOf) => {
      const out = new Map<string, AccountFeatures>();
      for (const r of await readFeatureRows(pool, catalog, ids, asOf, { requireActive: false })) {
        out.set(r.account_id, { row: toRecord(catalog, r.feature_values), segment: r.segment, createdAt: r.created_at.getTime() });
      }
      return out;
    },
  }, { ...opts, maxInFlight });
  let closed: Promise<void> | null = null;
  return {
    ...reader,
    // every connection opened, set up and each form of the statement planned (a few accounts, more;
    // from the raw events, and from the event rollup for as-of times at a UTC midnight): a round of
    // reads for no account per form, each round holding all the connections at once
    warm: async () => {
      const now = new Date();
      for (const asOf of [now, utcMidnightOf(now)]) {
        for (const ids of [[''], Array<string>(PER_ACCOUNT_MAX + 1).fill('')]) {
          await Promise.all(Array.from({ length: maxInFlight + 1 }, () => readFeatureRows(pool, catalog, ids, asOf, { requireActive: false })));
        }
      }
    },
    close: () => (closed ??= pool.end()),
  };
}
