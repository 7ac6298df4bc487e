/**
 * Monthly partitions of source.events, created in short transactions of their own and never inside a
 * long one. Creating a partition locks source.events exclusively, and every reader that comes after
 * the request queues behind it, so each attempt waits at most `lockTimeoutMs` for that lock and then
 * gives way (readers pause at most that long); attempts repeat, further apart each time, until
 * `waitMs` has passed.
 */
import { performance } from 'node:perf_hooks';
import { setTimeout as sleep } from 'node:timers/promises';
import type { Pool, PoolClient, Sql } from '../../core/db.ts';
import { ChurnError } from '../../core/errors.ts';

export interface PartitionLockOptions {
  /** the longest one attempt waits for the lock on source.events (default 200 ms) */
  lockTimeoutMs?: number;
  /** the longest all attempts together wait (default 15 minutes) */
  waitMs?: number;
  /** a statement run first in each attempt's transaction (an ingest waits for its table's turn there) */
  before?: Sql;
}

/** How many months after the current one `churn db migrate` and each events ingest prepare. */
export const MONTHS_AHEAD = 3;

const LOCK_NOT_AVAILABLE = '55P03';

async function attempt(client: PoolClient, q: Sql, lockTimeoutMs: number, before?: Sql): Promise<number> {
  await client.query('BEGIN');
  try {
    if (before) await client.query(before.text, before.values);
    await client.query(`SET LOCAL lock_timeout = ${Math.max(1, Math.round(lockTimeoutMs))}`);
    const res = await client.query<{ created: number }>(q.text, q.values);
    await client.query('COMMIT');
    return Number(res.rows[0]?.created ?? 0);
  } catch (err) {
    await client.query('ROLLBACK').catch(() => undefined);
    throw err;
  }
}

async function withRetries(client: PoolClient, q: Sql, opts: PartitionLockOptions, what: string): Promise<number> {
  const lockTimeoutMs = opts.lockTimeoutMs ?? 200;
  const waitMs = opts.waitMs ?? 15 * 60_000;
  const started = performance.now();
  for (let pause = 100; ; pause = Math.min(pause * 2, 2000)) {
    try {
      return await attempt(client, q, lockTimeoutMs, opts.before);
    } catch (err) {
      if ((err as { code?: string }).code !== LOCK_NOT_AVAILABLE) throw err;
      const waited = performance.now() - started;
      if (waited + pause > waitMs) {
        throw new ChurnError('CHURN_ERR_DATABASE', `${what}: other sessions held source.events for ${Math.round(waited / 1000)} s (a long query, load or build); try again later`, { cause: err });
      }
      await sleep(pause);
    }
  }
}

/** The monthly partitions covering [from, to), each missing one created; returns how many were created. */
export function createEventPartitions(client: PoolClient, from: Date, to: Date, opts: PartitionLockOptions = {}): Promise<number> {
  const q = { text: 'SELECT source.ensure_event_partitions($1::timestamptz, $2::timestamptz) AS created', values: [from, to] };
  return withRetries(client, q, opts, `cannot create the monthly event partitions from ${from.toISOString()} to ${to.toISOString()}`);
}

/**
 * This month's partition and the next `MONTHS_AHEAD`, so that loads of current data never create
 * one. Best effort: a database without migration 013, a busy source.events (one short attempt) or a
 * month whose events sit in the default partition leave it for later; returns how many were created.
 */
export async function createEventPartitionsAhead(db: Pool | PoolClient, opts: PartitionLockOptions = {}): Promise<number> {
  const client = 'release' in db ? db : await db.connect();
  try {
    const [{ ok }] = (await client.query<{ ok: boolean }>("SELECT to_regprocedure('source.ensure_event_partitions_ahead(integer)') IS NOT NULL AS ok")).rows;
    if (!ok) return 0;
    const q = { text: 'SELECT source.ensure_event_partitions_ahead($1) AS created', values: [MONTHS_AHEAD] };
    return await withRetries(client, q, { ...opts, waitMs: opts.waitMs ?? 1000 }, 'months ahead').catch(() => 0);
  } finally {
    if (client !== db) (client as PoolClient).release();
  }
}
