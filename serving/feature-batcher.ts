import { featureConcurrency } from '../core/config.ts';
import type { AccountFeatures, FeatureReader } from '../scoring/score-accounts.ts';

interface Pending {
  ids: string[];
  resolve: (rows: Map<string, AccountFeatures>) => void;
  reject: (err: unknown) => void;
}

/**
 * Coalesces concurrent feature reads for the same as-of time into one statement. At most
 * `maxInFlight` statements run at once (default: one per core; on a 2-core machine with PostgreSQL
 * on it, 2 sustained 460-470 account scores/s against 370-380 with 1, when a read still took three
 * round trips);
 * requests that arrive meanwhile wait and go out together in the next statement (up to `maxBatch`
 * accounts), so under load one statement serves many requests (each extra account costs a fraction
 * of a statement) and at low load a request waits for nothing. Reads of more than `maxBatch` accounts
 * (batch scoring) run on their own, so they never hold up single-account reads.
 */
export function batchFeatureReads(inner: FeatureReader, opts: { maxInFlight?: number; maxBatch?: number } = {}): FeatureReader {
  const maxInFlight = opts.maxInFlight ?? featureConcurrency();
  const maxBatch = opts.maxBatch ?? 64;
  const queues = new Map<number, Pending[]>(); // by as-of (ms), oldest key first (insertion order)
  let inFlight = 0;
  let waiters: (() => void)[] = [];
  const settleIdle = (): void => {
    if (inFlight > 0 || queues.size > 0) return;
    const w = waiters;
    waiters = [];
    for (const resolve of w) resolve();
  };

  const drain = (): void => {
    while (inFlight < maxInFlight && queues.size > 0) {
      const [key, queue] = queues.entries().next().value as [number, Pending[]];
      const batch: Pending[] = [];
      let n = 0;
      while (queue.length && (batch.length === 0 || n + queue[0].ids.length <= maxBatch)) {
        const p = queue.shift()!;
        batch.push(p);
        n += p.ids.length;
      }
      if (!queue.length) queues.delete(key);
      inFlight++;
      const ids = [...new Set(batch.flatMap((p) => p.ids))];
      inner.read(ids, new Date(key)).then(
        (rows) => {
          for (const p of batch) {
            if (batch.length === 1) p.resolve(rows);
            else p.resolve(new Map(p.ids.filter((id) => rows.has(id)).map((id) => [id, rows.get(id)!])));
          }
        },
        (err) => {
          for (const p of batch) p.reject(err);
        },
      ).finally(() => {
        inFlight--;
        drain();
        settleIdle();
      });
    }
  };

  return {
    featureSetVersion: inner.featureSetVersion,
    idle: () => new Promise<void>((resolve) => {
      waiters.push(resolve);
      settleIdle();
    }),
    read: (ids, asOf) => ids.length > maxBatch ? inner.read(ids, asOf) : new Promise((resolve, reject) => {
      const key = asOf.getTime();
      const queue = queues.get(key);
      if (queue) queue.push({ ids, resolve, reject });
      else queues.set(key, [{ ids, resolve, reject }]);
      drain();
    }),
  };
}
