/**
 * Benchmark: `churn generate` at full size (20,000 accounts x 12 months by default) into its own
 * database (`churn_bench` on the server of DATABASE_URL, kept afterwards for other benchmarks).
 * Baseline, measured in the same run: a plain COPY of pre-built event rows (same columns, primary
 * key and secondary index as source.events) into a scratch table. Ends with one JSON line.
 *
 *   npm run bench:generate -- [--accounts 20000] [--months 12] [--db churn_bench] [--end YYYY-MM-DD] [--baseline-rows 2000000]
 */
import { performance } from 'node:perf_hooks';
import { z } from 'zod';
import { createPool, ensureDatabase, query, type Pool } from '../core/db.ts';
import { createProgress } from '../core/progress.ts';
import { migrate } from '../features/migrate.ts';
import { generate } from '../features/generate/index.ts';
import { CopySink } from '../features/generate/copy-sink.ts';
import { benchArgs } from './args.ts';

const Args = z.object({
  accounts: z.coerce.number().int().min(1).default(20_000),
  months: z.coerce.number().int().min(1).max(60).default(12),
  db: z.string().regex(/^[a-z_][a-z0-9_]*$/).default('churn_bench'),
  end: z.string().regex(/^\d{4}-\d{2}-\d{2}$/).default(new Date().toISOString().slice(0, 10)),
  'baseline-rows': z.coerce.number().int().min(10_000).default(2_000_000),
});

/** COPY of `rows` pre-built event rows into a scratch copy of the events table; returns rows per second. */
async function baselineCopy(pool: Pool, rows: number): Promise<{ seconds: number; rowsPerSecond: number }> {
  await query(pool, 'DROP TABLE IF EXISTS source.bench_events_baseline');
  await query(pool, `CREATE TABLE source.bench_events_baseline (event_id bigint NOT NULL, account_id text NOT NULL, user_id text,
    event_type text NOT NULL, occurred_at timestamptz NOT NULL, quantity integer NOT NULL DEFAULT 1 CHECK (quantity >= 0),
    PRIMARY KEY (event_id, occurred_at))`);
  await query(pool, 'CREATE INDEX bench_events_baseline_idx ON source.bench_events_baseline (account_id, occurred_at) INCLUDE (event_type, user_id, quantity)');
  const chunks: string[] = [];
  let chunk = '';
  for (let i = 1; i <= rows; i++) {
    const acc = Math.floor(i / 1700) + 1;
    chunk += `${i}\tacc_${String(acc).padStart(5, '0')}\tusr_${String(acc).padStart(5, '0')}_${String(i % 13).padStart(3, '0')}\tdashboard_view\t2026-0${1 + (i % 9)}-1${i % 10} 1${i % 10}:${10 + (i % 50)}:00+00\t${1 + (i % 7)}\n`;
    if (chunk.length > 1 << 20) {
      chunks.push(chunk);
      chunk = '';
    }
  }
  chunks.push(chunk);
  const t0 = performance.now();
  const sink = await CopySink.open(pool, 'source', 'bench_events_baseline', ['event_id', 'account_id', 'user_id', 'event_type', 'occurred_at', 'quantity']);
  for (const c of chunks) {
    sink.add(c);
    await sink.flush();
  }
  await sink.finish();
  const seconds = (performance.now() - t0) / 1000;
  await query(pool, 'DROP TABLE source.bench_events_baseline');
  return { seconds, rowsPerSecond: rows / seconds };
}

async function main(): Promise<void> {
  const args = benchArgs('bench:generate', Args, { options: { accounts: { type: 'string' }, months: { type: 'string' }, db: { type: 'string' }, end: { type: 'string' }, 'baseline-rows': { type: 'string' } } });
  const adminUrl = process.env.DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres';
  await ensureDatabase(adminUrl, args.db);
  const url = new URL(adminUrl);
  url.pathname = `/${args.db}`;
  const pool = createPool(url.toString(), { max: 12, applicationName: 'churnlens-bench' });
  try {
    await migrate(pool);
    const baseline = await baselineCopy(pool, args['baseline-rows']);
    console.log(`baseline: plain COPY of ${args['baseline-rows']} pre-built event rows: ${baseline.seconds.toFixed(2)}s, ${Math.round(baseline.rowsPerSecond)} rows/s`);
    const r = await generate(pool, { accounts: args.accounts, months: args.months, seed: 42, end: args.end, replace: true }, createProgress('generate'));
    const totalRows = Object.values(r.rowCounts).reduce((a, b) => a + b, 0);
    const eventsPerSecond = r.rowCounts.events / r.seconds;
    console.log(`generate: ${args.accounts} accounts x ${args.months} months in ${r.seconds}s (${JSON.stringify(r.phases)})`);
    console.log(`rows: ${JSON.stringify(r.rowCounts)}`);
    console.log(`events/s end to end: ${Math.round(eventsPerSecond)}; all rows/s: ${Math.round(totalRows / r.seconds)}; ratio to plain COPY: ${(eventsPerSecond / baseline.rowsPerSecond).toFixed(2)}`);
    console.log(JSON.stringify({
      bench: 'generate', database: args.db, accounts: args.accounts, months: args.months, seconds: r.seconds, phases: r.phases,
      events: r.rowCounts.events, total_rows: totalRows, events_per_second: Math.round(eventsPerSecond), rows_per_second: Math.round(totalRows / r.seconds),
      baseline_copy_rows_per_second: Math.round(baseline.rowsPerSecond), ratio_to_plain_copy: Number((eventsPerSecond / baseline.rowsPerSecond).toFixed(3)), row_counts: r.rowCounts,
    }));
  } finally {
    await pool.end();
  }
}

main().catch((err: unknown) => {
  console.error(err);
  process.exitCode = 1;
});
