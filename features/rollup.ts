import type { Pool, Queryable } from '../core/db.ts';
import { query, withTransaction } from '../core/db.ts';
import { ChurnError } from '../core/errors.ts';

/**
 * The event rollup (`churn.event_rollup`, migration 010): kept current by triggers on source.events
 * and source.event_types, serialised per account under concurrent writers (migration 013);
 * recomputed from all events after a bulk load. See docs/data-model.md.
 */
export interface RollupRefresh {
  rows: number;
  seconds: number;
  shards: number;
}

/**
 * Turns the rollup's triggers on (on source.events and on each of its partitions, adding them to a
 * partition created by hand) and recomputes it from all events, split by account across
 * `shards` connections (default 2, one per core). Each shard holds a SHARE lock on source.events
 * and the rollup's locks of its accounts while it recomputes them, so writers wait for it (and their
 * triggers, already on, maintain what they write afterwards); the rollup is marked valid when every
 * shard is done. Builds read the raw events until then.
 */
export async function refreshEventRollup(pool: Pool, opts: { shards?: number } = {}): Promise<RollupRefresh> {
  const shards = opts.shards ?? 2;
  if (!Number.isInteger(shards) || shards < 1 || shards > 16) throw new ChurnError('CHURN_ERR_VALIDATION', `invalid shard count: ${shards} (1 to 16)`);
  const started = performance.now();
  await withTransaction(pool, async (client) => {
    await client.query('UPDATE churn.event_rollup_state SET valid = false');
    await client.query('SELECT churn.set_event_rollup_triggers(true)');
  });
  const counts = await Promise.all(Array.from({ length: shards }, (_, index) => withTransaction(pool, async (client) => {
    await client.query('LOCK TABLE source.events IN SHARE MODE');
    await client.query("SET LOCAL max_parallel_workers_per_gather = 0");
    const res = await client.query<{ n: string }>('SELECT churn.refresh_event_rollup(NULL, $1, $2) AS n', [shards, index]);
    return Number(res.rows[0].n);
  })));
  await query(pool, 'UPDATE churn.event_rollup_state SET valid = true, refreshed_at = now()');
  await query(pool, 'ANALYZE churn.event_rollup');
  return { rows: counts.reduce((a, b) => a + b, 0), seconds: (performance.now() - started) / 1000, shards };
}

/** Marks the rollup out of date and turns its triggers off, before a bulk load of events. */
export async function suspendEventRollup(pool: Pool): Promise<void> {
  await query(pool, 'SELECT churn.suspend_event_rollup()');
}

/**
 * Partitions of source.events without the rollup's triggers (migration 012): created by hand with
 * `CREATE TABLE ... PARTITION OF` or attached, so a write straight into them would leave the rollup
 * stale. `refreshEventRollup` adds the triggers to them.
 */
export async function unmaintainedEventPartitions(db: Queryable): Promise<string[]> {
  const rows = await query<{ part: string }>(db, `SELECT i.inhrelid::regclass::text AS part FROM pg_inherits i
    WHERE i.inhparent = 'source.events'::regclass
      AND NOT EXISTS (SELECT 1 FROM pg_trigger g WHERE g.tgrelid = i.inhrelid AND g.tgname = 'events_part_rollup_insert')
    ORDER BY 1`);
  return rows.map((r) => r.part);
}

export interface RollupSampleCheck {
  /** accounts recomputed */
  checked: number;
  /** those whose stored rollup rows differ from the recomputation, sorted */
  differing: string[];
}

/**
 * Recomputes the rollup rows of up to `sample` random accounts (of source.accounts and of the
 * rollup itself) from their events and names those whose stored rows differ
 * (`churn.event_rollup_drift`: both sides in one snapshot, so concurrent writers cause no false
 * alarm). Reads only: nothing is repaired.
 */
export async function checkEventRollupSample(db: Queryable, sample: number): Promise<RollupSampleCheck> {
  if (!Number.isInteger(sample) || sample < 0) throw new ChurnError('CHURN_ERR_VALIDATION', `invalid sample size: ${sample}`);
  if (sample === 0) return { checked: 0, differing: [] };
  const picked = await query<{ account_id: string }>(db, `SELECT a.account_id FROM (
      SELECT account_id FROM source.accounts UNION SELECT account_id FROM churn.event_rollup WHERE kind = 0) a
    ORDER BY random() LIMIT $1`, [sample]);
  if (!picked.length) return { checked: 0, differing: [] };
  const drift = await query<{ account_id: string }>(db, 'SELECT a AS account_id FROM churn.event_rollup_drift($1::text[]) a', [picked.map((r) => r.account_id)]);
  return { checked: picked.length, differing: drift.map((r) => r.account_id) };
}
