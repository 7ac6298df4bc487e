import { randomUUID } from 'node:crypto';
import type { Pool, PoolClient, Queryable } from '../core/db.ts';
import { query, withTransaction } from '../core/db.ts';
import { ChurnError } from '../core/errors.ts';
import { noProgress, type Progress } from '../core/progress.ts';
import { ensureFeatureSet, type Catalog } from './catalog.ts';
import type { AccountStatus } from './online.ts';
import { compileFeatures, groupByTimeOfDay, isUtcMidnight, type CompiledFeatures, type EventSource } from './compile.ts';

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

/** A row of `selectFeatures`: with `accountFacts`, also the account's segment, sign-up time and status at the date. */
export interface SelectedRow {
  as_of: Date;
  account_id: string;
  feature_values: (number | null)[];
  segment?: string;
  created_at?: Date;
  status?: AccountStatus;
}

/** Runs the compiled statement and returns its rows without storing them (QA, tests, the scheduled scoring of every account). */
export async function selectFeatures(db: Queryable, catalog: Catalog, asOfs: readonly Date[], opts: { accountIds?: readonly string[]; requireActive?: boolean; events?: 'auto' | 'raw' | 'rollup'; accountFacts?: boolean } = {}) {
  const out: SelectedRow[] = [];
  const groups = groupByTimeOfDay(asOfs);
  const sources = opts.events === 'rollup' ? groups.map((): EventSource => 'rollup') : await eventSources(db, groups, opts.events ?? 'raw');
  for (const [k, g] of groups.entries()) {
    const q = compileFeatures(catalog, g, { accountIds: opts.accountIds, requireActive: opts.requireActive, events: sources[k], accountFacts: opts.accountFacts });
    out.push(...(await query<SelectedRow>(db, q)));
  }
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
