import { randomUUID } from 'node:crypto';
import pg from 'pg';
import type { Pool, PoolClient, Queryable } from '../core/db.ts';
import { derivePool, query, withTransaction } from '../core/db.ts';
import { ChurnError } from '../core/errors.ts';
import { noProgress, type Progress } from '../core/progress.ts';
import { ensureFeatureSet, type Catalog } from './catalog.ts';
import { compileFeatures, featureStatement, groupByTimeOfDay, isUtcMidnight, type CompiledFeatures, type EventSource, type FeatureStatement } from './compile.ts';

/**
 * The only module that runs feature SQL. Snapshots are computed and stored inside PostgreSQL
 * (INSERT ... SELECT of the compiled statement); nothing but the row count comes back to Node.
 */
export interface BuildOptions {
  /** per-transaction work_mem for the hash aggregates of the event rollup (default 1GB: the planner's group estimates are far too high, and with less it sorts instead of hashing) */
  workMem?: string;
  /**
   * how many concurrent connections share the build, each computing a disjoint shard of the accounts
   * (default 2: one per core; the event rollup of several dates runs on one core in PostgreSQL 15).
   * With 1, the statement runs inside the storing transaction itself, without staging.
   */
  shards?: number;
  /**
   * where event features come from: `auto` (default) reads the event rollup for dates at 00:00 UTC
   * while it is valid (see `rollupValid`), else the raw events; `raw` always reads the raw events
   */
  events?: 'auto' | 'raw';
  progress?: Progress;
}

export interface BuildResult {
  rows: number;
  seconds: number;
  version: string;
  asOfs: Date[];
  shards: number;
  /** whether the event features came from the event rollup (for some date) or only from the raw events */
  events: EventSource;
}

export const DEFAULT_SHARDS = 2;
const WORK_MEM = /^\d{1,6}(kB|MB|GB)$/;

/** Whether `churn.event_rollup` matches `source.events` (false while a bulk load has suspended it, or before migration 010). */
export async function rollupValid(db: Queryable): Promise<boolean> {
  const rows = await query<{ valid: boolean | null }>(db, "SELECT CASE WHEN to_regclass('churn.event_rollup_state') IS NOT NULL THEN (SELECT valid FROM churn.event_rollup_state) END AS valid");
  return rows[0]?.valid === true;
}

/** The event source for each group of dates: the rollup for UTC midnights when it may be used and is valid. */
async function eventSources(db: Queryable, groups: Date[][], mode: 'auto' | 'raw' | undefined): Promise<EventSource[]> {
  const midnight = groups.map((g) => isUtcMidnight(g[0]));
  const valid = mode !== 'raw' && midnight.some(Boolean) && (await rollupValid(db));
  return midnight.map((m) => (m && valid ? 'rollup' : 'raw'));
}

async function tune(client: PoolClient, workMem: string): Promise<void> {
  await client.query(`SET LOCAL work_mem = '${workMem}'`);
  await client.query('SET LOCAL jit = off'); // compiling this wide statement costs more than it saves
}

/** Stores the rows of one compiled statement: into the snapshots, or into the staging rows of build `buildId`. */
async function insertRows(client: PoolClient, q: CompiledFeatures, version: string, buildId: string | null): Promise<number> {
  const vi = q.values.length + 1;
  const res = buildId === null
    ? await client.query(`INSERT INTO churn.feature_snapshots (feature_set_version, as_of, account_id, feature_values)
         SELECT $${vi}::text, f.as_of, f.account_id, f.feature_values FROM (${q.text}) f`, [...q.values, version])
    : await client.query(`INSERT INTO churn.feature_snapshot_staging (build_id, feature_set_version, as_of, account_id, feature_values)
         SELECT $${vi + 1}::uuid, $${vi}::text, f.as_of, f.account_id, f.feature_values FROM (${q.text}) f`, [...q.values, version, buildId]);
  return res.rowCount ?? 0;
}

const deleteStored = (client: PoolClient, catalog: Catalog, asOfs: readonly Date[]) =>
  client.query('DELETE FROM churn.feature_snapshots WHERE feature_set_version = $1 AND as_of = ANY($2::timestamptz[])', [catalog.version, asOfs.map((d) => d.toISOString())]);

/**
 * Builds and stores the snapshots of every active account at each date, replacing the rows already
 * stored for the same (feature-set version, as_of) atomically. Dates that share a time of day are
 * computed by one statement (one pass over the events). With several shards, each connection runs
 * that statement for its accounts into staging rows under a fresh build id; then one short
 * transaction swaps them in. If any shard fails, the build's staging rows are deleted and the stored
 * snapshots are left exactly as they were.
 */
export async function buildSnapshots(pool: Pool, catalog: Catalog, asOfs: readonly Date[], opts: BuildOptions = {}): Promise<BuildResult> {
  const workMem = opts.workMem ?? '1GB';
  if (!WORK_MEM.test(workMem)) throw new ChurnError('CHURN_ERR_VALIDATION', `invalid work_mem: ${workMem}`);
  const shards = opts.shards ?? DEFAULT_SHARDS;
  if (!Number.isInteger(shards) || shards < 1 || shards > 64) throw new ChurnError('CHURN_ERR_VALIDATION', `invalid shard count: ${shards} (1 to 64)`);
  const groups = groupByTimeOfDay(asOfs);
  const sources = await eventSources(pool, groups, opts.events);
  // compiled (and so validated) before anything is written
  const plans = Array.from({ length: shards }, (_, index) => groups.map((g, k) => compileFeatures(catalog, g, { events: sources[k], ...(shards > 1 ? { shard: { count: shards, index } } : {}) })));
  const progress = opts.progress ?? noProgress;
  const started = performance.now();
  progress.start(shards * groups.length);
  let rows = 0;
  try {
    if (shards === 1) {
      rows = await withTransaction(pool, async (client) => {
        await ensureFeatureSet(client, catalog);
        await tune(client, workMem);
        await deleteStored(client, catalog, asOfs);
        let n = 0;
        for (const q of plans[0]) {
          n += await insertRows(client, q, catalog.version, null);
          progress.increment();
        }
        return n;
      });
    } else {
      rows = await shardedBuild(pool, catalog, asOfs, plans, workMem, progress);
    }
  } finally {
    progress.stop();
  }
  return { rows, seconds: (performance.now() - started) / 1000, version: catalog.version, asOfs: groups.flat(), shards, events: sources.includes('rollup') ? 'rollup' : 'raw' };
}

async function shardedBuild(pool: Pool, catalog: Catalog, asOfs: readonly Date[], plans: CompiledFeatures[][], workMem: string, progress: Progress): Promise<number> {
  const buildId = randomUUID();
  let failure: { reason: unknown } | null = null; // the first shard to fail; the others stop at their next statement
  await Promise.all(plans.map((plan) => withTransaction(pool, async (client) => {
    await tune(client, workMem);
    // the shards are the parallelism: no parallel workers inside each one
    await client.query('SET LOCAL max_parallel_workers_per_gather = 0');
    for (const q of plan) {
      if (failure) throw failure.reason;
      await insertRows(client, q, catalog.version, buildId);
      progress.increment();
    }
  }).catch((reason: unknown) => {
    failure ??= { reason };
  })));
  try {
    if (failure) throw (failure as { reason: unknown }).reason;
    return await withTransaction(pool, async (client) => {
      await ensureFeatureSet(client, catalog);
      await deleteStored(client, catalog, asOfs);
      // in key order: the shards' rows arrive interleaved, and ordered index inserts are much cheaper
      const res = await client.query(`INSERT INTO churn.feature_snapshots (feature_set_version, as_of, account_id, feature_values)
         SELECT feature_set_version, as_of, account_id, feature_values FROM churn.feature_snapshot_staging WHERE build_id = $1
         ORDER BY as_of, account_id`, [buildId]);
      // this build's rows, and any a crashed process left behind a day ago or more
      await client.query(`DELETE FROM churn.feature_snapshot_staging WHERE build_id = $1 OR staged_at < now() - interval '1 day'`, [buildId]);
      return res.rowCount ?? 0;
    });
  } catch (err) {
    await pool.query('DELETE FROM churn.feature_snapshot_staging WHERE build_id = $1', [buildId]).catch(() => undefined);
    throw err;
  }
}

/** Runs the compiled statement and returns its rows without storing them (QA, tests, benchmarks). */
export async function selectFeatures(db: Queryable, catalog: Catalog, asOfs: readonly Date[], opts: { accountIds?: readonly string[]; requireActive?: boolean; events?: 'auto' | 'raw' | 'rollup' } = {}) {
  const out: { as_of: Date; account_id: string; feature_values: (number | null)[] }[] = [];
  const groups = groupByTimeOfDay(asOfs);
  const sources = opts.events === 'rollup' ? groups.map((): EventSource => 'rollup') : await eventSources(db, groups, opts.events ?? 'raw');
  for (const [k, g] of groups.entries()) {
    const q = compileFeatures(catalog, g, { accountIds: opts.accountIds, requireActive: opts.requireActive, events: sources[k] });
    out.push(...(await query<{ as_of: Date; account_id: string; feature_values: (number | null)[] }>(db, q)));
  }
  return out;
}

/**
 * Session settings of the fast path. For a few accounts, a generic plan (pruned at execution) beats
 * re-planning this wide statement on every call, and JIT compilation costs more than it saves.
 */
const FAST_PATH_SESSION = 'SET jit = off; SET plan_cache_mode = force_generic_plan';
const fastPathPools = new WeakSet<Pool>();
/** connections of fast-path pools whose session has the settings */
const fastPathSessions = new WeakSet<PoolClient>();

/**
 * A pool of `max` connections to the database of `from` for the scoring fast path: its connections
 * keep the fast path's session settings (made on a connection's first read), so a read is one round
 * trip (the prepared statement) instead of three (settings in a transaction, the statement, the
 * commit). Idle connections stay open: a new one costs about 0.1 s on its first read (connecting,
 * then planning the statement), so closing them after a quiet spell would make the next score slow.
 * The caller ends it.
 */
export function createFastPathPool(from: Pool, max: number): Pool {
  const pool = derivePool(from, { max, applicationName: `${from.options.application_name ?? 'churnlens'} features`, idleTimeoutMillis: 0 });
  fastPathPools.add(pool);
  return pool;
}

/**
 * A `float8[]` value's text (`{1.5,NULL,-2e-05}`: one dimension, elements never quoted) as numbers.
 * The generic array parser builds every element up character by character: it allocated about half
 * of the memory of a fast-path read (15 of 36 KB), which set the pace of the server's young-generation
 * collections under load.
 */
export function parseFloat8Array(text: string): (number | null)[] {
  const out: (number | null)[] = [];
  let start = 1;
  for (let i = 1; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c !== 44 && c !== 125) continue; // ',' or '}'
    if (i > start) out.push(i - start === 4 && text.startsWith('NULL', start) ? null : Number(text.slice(start, i)));
    start = i + 1;
  }
  return out;
}

const FLOAT8_ARRAY = 1022;
/** The fast path's result types: `parseFloat8Array` for `float8[]`, pg's own parsers for the rest. */
const fastPathTypes = {
  getTypeParser: ((oid: number, format?: 'text' | 'binary') => (oid === FLOAT8_ARRAY && format !== 'binary' ? parseFloat8Array : pg.types.getTypeParser(oid, format))) as typeof pg.types.getTypeParser,
};

const literals = new WeakMap<readonly unknown[], string>();
/**
 * A one-dimensional array parameter as PostgreSQL's text literal (elements double-quoted, `"` and `\`
 * escaped, NULL for null), so pg sends it as it is instead of serialising it element by element (5 KB
 * of garbage per read). Frozen arrays (those `featureStatement` binds on every read, such as its
 * segment edges) are converted once (3.5 KB less per read, measured).
 */
export function arrayLiteral(items: readonly unknown[]): string {
  const known = literals.get(items);
  if (known !== undefined) return known;
  let s = '{';
  for (let i = 0; i < items.length; i++) {
    const v = items[i];
    if (i > 0) s += ',';
    s += v === null || v === undefined ? 'NULL' : `"${String(v).replace(/["\\]/g, '\\$&')}"`;
  }
  s += '}';
  if (Object.isFrozen(items)) literals.set(items, s);
  return s;
}

/** One row of the fast path: an account's feature values (catalogue order), segment and sign-up time. */
export interface FastPathRow {
  account_id: string;
  feature_values: (number | null)[];
  segment: string;
  created_at: Date;
}

/**
 * The fast path for scoring: the same compiled statement restricted to a few accounts and one date,
 * run as a named prepared statement (planned once per connection), its text compiled once per
 * catalogue (`featureStatement`), each row with the account's segment and sign-up time. Accounts
 * without an active subscription at `asOf` are absent unless `requireActive` is false; accounts
 * created at or after `asOf` are absent either way. On a pool from `createFastPathPool` a read is one
 * round trip; on any other pool the settings apply to its own transaction only.
 */
export async function readFeatureRows(pool: Pool, catalog: Catalog, accountIds: readonly string[], asOf: Date, opts: { requireActive?: boolean; events?: 'auto' | 'raw' } = {}): Promise<FastPathRow[]> {
  if (accountIds.length === 0) return [];
  if (opts.events !== 'raw' && isUtcMidnight(asOf)) {
    const rows = await runFastPath(pool, featureStatement(catalog, { requireActive: opts.requireActive, accounts: accountIds.length, events: 'rollup' }), accountIds, asOf);
    // read in the same snapshot as the values: while a bulk load has suspended the rollup, the raw events
    if (rows.every((r) => r.rollup_valid)) return rows;
  }
  return runFastPath(pool, featureStatement(catalog, { requireActive: opts.requireActive, accounts: accountIds.length }), accountIds, asOf);
}

async function runFastPath(pool: Pool, stmt: FeatureStatement, accountIds: readonly string[], asOf: Date): Promise<(FastPathRow & { rollup_valid?: boolean })[]> {
  const values = stmt.values(asOf, accountIds);
  for (let i = 0; i < values.length; i++) if (Array.isArray(values[i])) values[i] = arrayLiteral(values[i] as unknown[]);
  const q = { name: stmt.name, text: stmt.text, values, types: fastPathTypes };
  if (fastPathPools.has(pool)) {
    const client = await pool.connect();
    let rows: (FastPathRow & { rollup_valid?: boolean })[];
    try {
      if (!fastPathSessions.has(client)) {
        await client.query(FAST_PATH_SESSION);
        fastPathSessions.add(client);
      }
      rows = (await client.query<FastPathRow & { rollup_valid?: boolean }>(q)).rows;
    } catch (err) {
      client.release(err as Error); // discards the connection: it may be broken (the server restarted)
      throw err;
    }
    client.release();
    return rows;
  }
  return withTransaction(pool, async (tx) => {
    await tx.query(FAST_PATH_SESSION.replaceAll('SET ', 'SET LOCAL '));
    return (await tx.query<FastPathRow & { rollup_valid?: boolean }>(q)).rows;
  });
}

/** `readFeatureRows` as each account's feature values (catalogue order), keyed by account. */
export async function computeFeatures(pool: Pool, catalog: Catalog, accountIds: readonly string[], asOf: Date, opts: { requireActive?: boolean } = {}): Promise<Map<string, (number | null)[]>> {
  const out = new Map<string, (number | null)[]>();
  for (const r of await readFeatureRows(pool, catalog, accountIds, asOf, opts)) out.set(r.account_id, r.feature_values);
  return out;
}

export interface StoredSnapshot {
  asOf: Date;
  values: (number | null)[];
}

/** Each account's most recent stored snapshot of this feature set. */
export async function latestSnapshot(db: Queryable, catalog: Catalog, accountIds: readonly string[]): Promise<Map<string, StoredSnapshot>> {
  const rows = await query<{ account_id: string; as_of: Date; feature_values: (number | null)[] }>(db, {
    text: `SELECT DISTINCT ON (account_id) account_id, as_of, feature_values FROM churn.feature_snapshots
           WHERE feature_set_version = $1 AND account_id = ANY($2::text[]) ORDER BY account_id, as_of DESC`,
    values: [catalog.version, accountIds],
  });
  return new Map(rows.map((r) => [r.account_id, { asOf: r.as_of, values: r.feature_values }]));
}
