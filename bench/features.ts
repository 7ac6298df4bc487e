/**
 * Benchmark: the point-in-time feature build on the generated data set (20,000 accounts x 12
 * months by default), against the practical floor measured in the same run: one sequential pass
 * over the same events, `SELECT account_id, count(*) FROM source.events GROUP BY 1`.
 * Times (each the best of --runs after a warm-up): the floor; the one-account fast path (p50/p99
 * over 200 random active accounts, measured before the bulk builds); building and storing every
 * feature for one as-of date; and for 12 monthly dates in one statement (per shard). Uses
 * BENCH_DATABASE_URL (default the `churn_bench` database that `npm run bench:generate` leaves); generates into it first when it is empty. Ends with one
 * JSON line. Every statement runs with jit off and the build's work_mem, the floor included. The
 * builds are split by account across --shards concurrent connections (default 2, one per core: the
 * floor's scan runs in parallel on both cores too).
 *
 * The builds at these UTC midnights read the event rollup (migration 010), which triggers keep up to
 * date as events arrive. Its cost is paid when events are loaded, not per build: the run also times
 * one full recomputation of it (what `churn generate` does after a load and a migration does on an
 * upgraded database) against the same floor, and with --compare-raw the 12-date build from the raw
 * events, for the before/after figure.
 *
 *   npm run bench:features -- [--runs 2] [--fast 200] [--work-mem 1GB] [--shards 2] [--compare-raw]
 */
import { performance } from 'node:perf_hooks';
import { z } from 'zod';
import { createPool, ensureDatabase, query, type Pool } from '../core/db.ts';
import { createProgress } from '../core/progress.ts';
import { loadCatalog } from '../features/catalog.ts';
import { generate } from '../features/generate/index.ts';
import { DEFAULT_SHARDS, buildSnapshots } from '../features/materialize.ts';
import { createOnlineReader } from '../features/online.ts';
import { mulberry32 } from '../core/random.ts';
import { migrate } from '../features/migrate.ts';
import { refreshEventRollup } from '../features/rollup.ts';
import { shuffleInPlace } from '../training/models/network.ts';
import { benchArgs } from './args.ts';

const Args = z.object({
  runs: z.coerce.number().int().min(1).max(10).default(2),
  fast: z.coerce.number().int().min(10).max(5000).default(200),
  'work-mem': z.string().regex(/^\d{1,6}(kB|MB|GB)$/).default('1GB'),
  shards: z.coerce.number().int().min(1).max(64).default(DEFAULT_SHARDS),
  'compare-raw': z.boolean().default(false),
});

async function best<T>(runs: number, fn: () => Promise<T>): Promise<{ seconds: number; result: T }> {
  let seconds = Infinity;
  let result!: T;
  for (let i = 0; i < runs; i++) {
    const t = performance.now();
    result = await fn();
    seconds = Math.min(seconds, (performance.now() - t) / 1000);
  }
  return { seconds, result };
}

async function ensureData(pool: Pool, url: string): Promise<{ end: Date }> {
  await migrate(pool);
  const [{ n }] = await query<{ n: number }>(pool, 'SELECT count(*)::int AS n FROM source.accounts');
  if (n === 0) {
    console.log('the benchmark database is empty: generating 20,000 accounts x 12 months first');
    const end = new Date().toISOString().slice(0, 10);
    // the generator loads several tables at once: a pool of its own, as `churn generate` has
    const loader = createPool(url, { applicationName: 'churn-bench-features generate' });
    try {
      await generate(loader, { accounts: 20_000, months: 12, seed: 42, end }, createProgress('generate'));
    } finally {
      await loader.end();
    }
  }
  const [run] = await query<{ end_date: string | null; max: Date | null }>(pool,
    `SELECT (SELECT end_date::text FROM churn.generation_runs ORDER BY run_id DESC LIMIT 1) AS end_date, (SELECT max(occurred_at) FROM source.events) AS max`);
  const end = run.end_date ? new Date(`${run.end_date}T00:00:00Z`) : new Date(Math.ceil(run.max!.getTime() / 86_400_000) * 86_400_000);
  return { end };
}

async function main(): Promise<void> {
  const args = benchArgs('bench:features', Args, { options: { runs: { type: 'string' }, fast: { type: 'string' }, 'work-mem': { type: 'string' }, shards: { type: 'string' }, 'compare-raw': { type: 'boolean' } } });
  const adminUrl = process.env.DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres';
  const url = process.env.BENCH_DATABASE_URL ?? (() => { const u = new URL(adminUrl); u.pathname = '/churn_bench'; return u.toString(); })();
  if (!process.env.BENCH_DATABASE_URL) await ensureDatabase(adminUrl, 'churn_bench');
  const pool = createPool(url, { max: Math.max(2, args.shards), applicationName: 'churn-bench-features' });
  try {
    const { end } = await ensureData(pool, url);
    const catalog = loadCatalog();
    const [{ accounts, events }] = await query<{ accounts: number; events: number }>(pool,
      'SELECT (SELECT count(*) FROM source.accounts)::int AS accounts, (SELECT count(*) FROM source.events)::bigint AS events');
    const one = [end];
    const twelve = Array.from({ length: 12 }, (_, k) => { const d = new Date(end); d.setUTCMonth(end.getUTCMonth() - 11 + k); return d; });
    console.log(`${accounts} accounts, ${events} events; feature set ${catalog.version} (${catalog.features.length} features); as of ${end.toISOString().slice(0, 10)}; best of ${args.runs} after a warm-up; builds split across ${args.shards} connection(s)`);

    const client = await pool.connect();
    let floor: number;
    try {
      await client.query(`SET work_mem = '${args['work-mem']}'`);
      await client.query('SET jit = off');
      const scan = () => client.query('SELECT account_id, count(*) FROM source.events GROUP BY 1');
      await scan(); // warm-up: the events in the cache, as for the builds below
      floor = (await best(args.runs, scan)).seconds;
    } finally {
      client.release();
    }
    console.log(`floor  SELECT account_id, count(*) FROM events GROUP BY 1: ${floor.toFixed(2)} s`);

    // the fast path first, on the quiet database: right after the bulk builds below, their write-back
    // (checkpoint, autovacuum of the snapshot tables) runs for a while and slows every small query
    const active = (await query<{ account_id: string }>(pool, `SELECT DISTINCT s.account_id FROM source.subscriptions s JOIN source.accounts a USING (account_id)
       WHERE a.created_at < $1 AND s.started_at < $1 AND (s.ended_at IS NULL OR s.ended_at >= $1) ORDER BY 1`, [end])).map((r) => r.account_id);
    shuffleInPlace(active, mulberry32(7));
    const ids = active.slice(0, args.fast);
    // through the API's online reader (its own connections: one round trip per read), raw events
    const reader = createOnlineReader(pool, catalog, { concurrency: 1, events: 'raw' });
    for (const id of ids.slice(0, 10)) await reader.read([id], end); // warm-up (prepares the statement)
    const times: number[] = [];
    for (const id of ids) {
      const t = performance.now();
      const got = await reader.read([id], end);
      times.push(performance.now() - t);
      if (!got.has(id)) throw new Error(`the fast path returned nothing for active account ${id}`);
    }
    await reader.close();
    times.sort((a, b) => a - b);
    const pct = (p: number) => times[Math.min(times.length - 1, Math.ceil((p / 100) * times.length) - 1)];
    console.log(`fast path    one account as of ${end.toISOString().slice(0, 10)}: p50 ${pct(50).toFixed(2)} ms, p99 ${pct(99).toFixed(2)} ms over ${times.length} accounts (target p99 < 20 ms)`);

    const rolled = await refreshEventRollup(pool, { shards: args.shards });
    const refresh = rolled.seconds;
    const rollupRows = rolled.rows;
    console.log(`event rollup ${rollupRows} rows recomputed from all events: ${refresh.toFixed(2)} s = ${(refresh / floor).toFixed(2)}x the floor (once per load, on ${rolled.shards} connections; triggers keep it current)`);

    const build = (dates: Date[], events: 'auto' | 'raw' = 'auto') => () => buildSnapshots(pool, catalog, dates, { workMem: args['work-mem'], shards: args.shards, events });
    await build(one)(); // warm-up
    const oneDate = await best(args.runs, build(one));
    console.log(`one date     ${oneDate.result.rows} rows: ${oneDate.seconds.toFixed(2)} s = ${(oneDate.seconds / floor).toFixed(2)}x the floor (target <= 3x; events from the ${oneDate.result.events === 'rollup' ? 'rollup' : 'raw events'})`);
    const twelveDates = await best(args.runs, build(twelve));
    console.log(`12 dates     ${twelveDates.result.rows} rows: ${twelveDates.seconds.toFixed(2)} s = ${(twelveDates.seconds / floor).toFixed(2)}x the floor (target <= 6x; events from the ${twelveDates.result.events === 'rollup' ? 'rollup' : 'raw events'})`);
    const raw = args['compare-raw'] ? await best(1, build(twelve, 'raw')) : null;
    if (raw) console.log(`12 dates from the raw events: ${raw.seconds.toFixed(2)} s = ${(raw.seconds / floor).toFixed(2)}x the floor (the rollup build is ${(raw.seconds / twelveDates.seconds).toFixed(1)}x faster)`);

    console.log(JSON.stringify({
      benchmark: 'features', accounts, events: Number(events), features: catalog.features.length, feature_set_version: catalog.version,
      floor_seconds: round(floor), one_date_seconds: round(oneDate.seconds), twelve_dates_seconds: round(twelveDates.seconds),
      ratio_one_date: round(oneDate.seconds / floor), ratio_twelve_dates: round(twelveDates.seconds / floor),
      events_source: twelveDates.result.events, rollup_refresh_seconds: round(refresh), ratio_rollup_refresh: round(refresh / floor), rollup_rows: Number(rollupRows),
      ...(raw ? { twelve_dates_raw_seconds: round(raw.seconds), ratio_twelve_dates_raw: round(raw.seconds / floor) } : {}),
      rows_one_date: oneDate.result.rows, rows_twelve_dates: twelveDates.result.rows,
      fast_path_p50_ms: round(pct(50)), fast_path_p99_ms: round(pct(99)), fast_path_accounts: times.length, work_mem: args['work-mem'], shards: args.shards, runs: args.runs,
    }));
  } finally {
    await pool.end();
  }
}

const round = (x: number) => Math.round(x * 1000) / 1000;

main().catch((err) => {
  console.error(err instanceof Error ? err.stack ?? err.message : String(err));
  process.exitCode = 1;
});
