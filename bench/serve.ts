/**
 * Benchmark: the scoring API under autocannon, against the real server in a child process.
 * In one run: a hello-world route on the same app (the baseline) and `POST /v1/predict` for one
 * instance, measured alternately for `--rounds` rounds (each round: hello-world, then predict; the
 * ratio is taken per round, so a slow spell on a shared machine hits both sides of one ratio); each
 * round also sends the instances of 50 accounts in turn (the target's figure stays the one fixed
 * instance, the first active account; the accounts' costs to explain differ, so this shows a mix), then
 * `GET /v1/accounts/:id/score?explain=true` reading features from PostgreSQL at full speed, and the
 * account score at a fixed 500 requests per second for its p99: autocannon's rate mode for reference,
 * and the target's measure, an open-loop client sending one request every 2 ms (paced-client.ts).
 * Prints req/s, p50 and p99 of every run and the ratios to hello-world, the server's CPU per request of
 * hello-world and predict (the steadier figure when two commits are compared: the ratio also moves with
 * how the client and the workers share the cores), the event-loop blocking of one explained score, the CPU
 * time per paced account score of PostgreSQL, the server and the client (from /proc, on Linux), how that
 * work spread over the worker processes and the PostgreSQL backends (a keep-alive client reuses its most
 * recently freed connection, so one worker can carry most of the requests: round-robin balances
 * connections, not requests), and ends with
 * one JSON line (hello-world and predict: medians over the rounds; the predict ratio: the median of
 * the per-round ratios, with every round under `rounds`). Targets (2 cores): predict >= 50% of
 * hello-world throughput; account score with explanation p99 < 25 ms at 500 req/s.
 *
 * The data lives in its own database (`churn_bench_serve` on the server of DATABASE_URL): generated
 * and trained through the `churn` CLI on first use, reused afterwards (a champion of an earlier feature
 * catalogue, which the server would refuse, is replaced by a new one).
 *
 * The server runs as `churn serve --workers N` does, one worker process per core by default
 * (`--workers 1`: a single process).
 *
 * The paced client first runs `--warm` seconds at the rate, not counted (default 8): the first seconds
 * after the runs at full speed are the server's JIT re-tiering for the paced pattern (measured with
 * --trace-opt: 170-190 TurboFan compiles, 0.7-0.9 s of compiler CPU in the first 9 s, against 40 and
 * 0.2 s in the next 9), not its steady state at the rate, which is what the target is about.
 *
 * Then, by default when that is more than one process, the paced account score once more against a
 * single-process server, warmed up first: at a fixed rate a single process costs less CPU per score
 * than several (fewer wake-ups), so each run shows both (`--then-workers 0` skips it).
 *
 * After the paced account score, the first server also serves it as of today's UTC midnight
 * (`&as_of=...T00:00:00.000Z`), whose event features come from the event rollup: the same values for
 * about half the PostgreSQL CPU, so the run shows what a cheaper read does to the tail (`--no-midnight`
 * skips it). The targets are those of the default as-of time, now.
 *
 *   npm run bench:serve -- [--db churn_bench_serve] [--accounts 2000] [--seconds 8] [--warm 8] [--rounds 5] [--rate 500] [--workers N] [--then-workers N] [--model logistic|gbdt] [--in-flight N] [--no-midnight]
 */
import { execFileSync, fork, type ChildProcess } from 'node:child_process';
import cluster from 'node:cluster';
import os from 'node:os';
import { readFileSync, readdirSync } from 'node:fs';
import { monitorEventLoopDelay, performance } from 'node:perf_hooks';
import { fileURLToPath } from 'node:url';
import { createRequire } from 'node:module';
import { z } from 'zod';
import { loadConfig } from '../core/config.ts';
import { createPool, ensureDatabase, query } from '../core/db.ts';
import { createLogger } from '../core/log.ts';
import { loadCatalog } from '../features/catalog.ts';
import { utcMidnightOf } from '../features/compile.ts';
import { migrate } from '../features/migrate.ts';
import { getModel, listModels, resolveVersion } from '../training/registry/index.ts';
import { DEFAULT_SERVING_CONFIG } from '../scoring/config.ts';
import { createOnlineReader } from '../features/online.ts';
import { createApiKey } from '../serving/keys.ts';
import { registryModelSource } from '../scoring/holder.ts';
import { buildScore } from '../scoring/build-score.ts';
import { segmentAt } from '../scoring/score-accounts.ts';
import { serveAsClusterWorker, startCluster } from '../serving/cluster.ts';
import { startServer } from '../serving/server.ts';
import type { PacedOptions, PacedResult } from './paced-client.ts';
import { benchArgs } from './args.ts';

const Args = z.object({
  db: z.string().regex(/^[a-z_][a-z0-9_]*$/).default('churn_bench_serve'),
  accounts: z.coerce.number().int().min(100).default(2000),
  seconds: z.coerce.number().int().min(2).max(60).default(8),
  /** seconds at the paced rate before the paced measure, not counted */
  warm: z.coerce.number().int().min(1).max(60).default(8),
  rate: z.coerce.number().int().min(1).default(500),
  /** alternating hello-world / predict rounds */
  rounds: z.coerce.number().int().min(1).max(9).default(5),
  child: z.boolean().default(false),
  /** feature statements at once per server process (default: the server's own, the cores shared out among the workers) */
  'in-flight': z.coerce.number().int().min(1).max(16).optional(),
  /** the champion's model type: trained (and made champion) when the current one is of another */
  model: z.enum(['logistic', 'gbdt']).default('logistic'),
  /** server processes (`churn serve --workers`); default one per core */
  workers: z.coerce.number().int().min(1).max(16).default(os.availableParallelism()),
  /**
   * then the paced account score once more against a server of this many processes, in the same run
   * (default 1 when `workers` is more than 1; 0 skips it)
   */
  'then-workers': z.coerce.number().int().min(0).max(16).optional(),
  /**
   * after the paced account score, the same as of today's UTC midnight, whose event features come from
   * the event rollup instead of the raw events (`--no-midnight` skips it)
   */
  midnight: z.boolean().default(true),
});

const ROOT = fileURLToPath(new URL('..', import.meta.url));

/** Event-loop delay of a server, in ms. */
type Eld = { p50: number; p99: number; max: number };

/** "1 worker", "2 workers"; with `processes`: "1 worker process", "2 worker processes". */
const workersText = (n: number, processes = false) => (processes ? `${n} worker process${n === 1 ? '' : 'es'}` : `${n} worker${n === 1 ? '' : 's'}`);

/** The part of autocannon's API used here (the package ships no types). */
interface CannonOptions {
  url: string;
  connections?: number;
  duration?: number;
  method?: 'GET' | 'POST';
  headers?: Record<string, string>;
  body?: string;
  overallRate?: number;
  requests?: ({ method: 'GET'; setupRequest: (req: Record<string, unknown>) => Record<string, unknown> } | { method: 'POST'; body: string })[];
}
interface CannonResult {
  requests: { average: number; total: number };
  latency: { p50: number; p99: number };
  errors: number;
  timeouts: number;
  non2xx: number;
}
const autocannon = createRequire(import.meta.url)('autocannon') as (opts: CannonOptions) => Promise<CannonResult>;

function dbUrl(name: string): string {
  const u = new URL(process.env.DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres');
  u.pathname = `/${name}`;
  return u.toString();
}

/**
 * Child: the real server with a hello-world route added, reporting event-loop delay on request. With
 * `workers` > 1 this process is the cluster's primary (serving/cluster.ts, as `churn serve --workers`):
 * it forks the workers (this file again, as cluster workers) and relays the parent's messages to them;
 * the event-loop delay reported is then the worst worker's.
 */
async function child(url: string, inFlight: number | undefined, workers: number, db: string): Promise<void> {
  if (workers > 1 && cluster.isPrimary) {
    const running = await startCluster({
      workers, exec: fileURLToPath(import.meta.url), args: ['--child', '--db', db, '--workers', String(workers), ...(inFlight ? ['--in-flight', String(inFlight)] : [])],
      execArgv: ['--import', 'tsx'], env: { DATABASE_URL: url }, log: createLogger('warn'),
    });
    process.on('message', async (msg: { type: string }) => {
      if (msg.type === 'eld-reset') await running.ask({ type: 'eld-reset' });
      else if (msg.type === 'eld') {
        const all = await running.ask<Eld>({ type: 'eld' });
        process.send?.({ type: 'eld', p50: Math.max(...all.map((e) => e.p50)), p99: Math.max(...all.map((e) => e.p99)), max: Math.max(...all.map((e) => e.max)) });
      } else if (msg.type === 'stop') {
        await running.close();
        process.exit(0);
      }
    });
    process.send?.({ type: 'ready', url: running.url });
    return;
  }
  const pool = createPool(url, { max: 10 });
  const config = loadConfig({ ...process.env, DATABASE_URL: url, PORT: '0', CHURN_RATE_LIMIT: '0', CHURN_LOG_LEVEL: 'warn' });
  // a 10 ms timer (prom-client's default): at 1 ms, its thousand wake-ups a second per process cost
  // the server about 0.1 ms of CPU per paced score with 2 workers (measured); the delays reported are
  // beyond that interval
  const ELD_RESOLUTION_MS = 10;
  const eld = monitorEventLoopDelay({ resolution: ELD_RESOLUTION_MS });
  const late = (ns: number) => Math.max(0, ns / 1e6 - ELD_RESOLUTION_MS);
  const server = await startServer({
    config, pool, log: createLogger('warn'), databaseUrl: url, schedule: false, featureReads: { concurrency: inFlight },
    beforeListen: (app) => {
      app.get('/bench/hello', { schema: { hide: true } }, async () => ({ hello: 'world' }));
    },
  });
  const reply = cluster.isWorker ? ':res' : '';
  process.on('message', async (msg: { type: string }) => {
    if (msg.type === 'eld-reset') {
      eld.reset();
      eld.enable();
      if (reply) process.send?.({ type: `eld-reset${reply}` });
    } else if (msg.type === 'eld') {
      process.send?.({ type: `eld${reply}`, p50: late(eld.percentile(50)), p99: late(eld.percentile(99)), max: late(eld.max) });
    } else if (msg.type === 'stop') {
      await server.close();
      await pool.end();
      process.exit(0);
    }
  });
  if (cluster.isWorker) {
    await serveAsClusterWorker(server, createLogger('warn'));
    return;
  }
  process.send?.({ type: 'ready', url: server.url });
}

function churn(args: string[], env: NodeJS.ProcessEnv): void {
  execFileSync(process.execPath, [`${ROOT}/bin/churn.js`, ...args], { env, stdio: ['ignore', 'inherit', 'inherit'] });
}

interface Run { name: string; rps: number; p50: number; p99: number; errors: number; non2xx: number; requests?: number }

async function cannon(name: string, opts: CannonOptions): Promise<Run> {
  const r = await autocannon({ connections: 20, duration: 8, ...opts });
  return { name, rps: r.requests.average, p50: r.latency.p50, p99: r.latency.p99, errors: r.errors + r.timeouts, non2xx: r.non2xx, requests: r.requests.total };
}

/**
 * The open-loop client (paced-client.ts) in a small process of its own: its latencies count from
 * each request's scheduled time, so any pause of the client itself would be charged to the server,
 * and this process holds a model, TensorFlow.js and autocannon's results.
 */
async function pacedInChild(name: string, opts: PacedOptions, onMeasuring: () => void): Promise<Run & { max: number; cpuMs: number }> {
  const client = fork(fileURLToPath(new URL('./paced-client.ts', import.meta.url)), [], { execArgv: ['--import', 'tsx'] });
  const result = await new Promise<PacedResult>((resolve, reject) => {
    client.on('message', (m: PacedResult | { type: 'measuring' }) => ('type' in m ? onMeasuring() : resolve(m)));
    client.once('exit', (code) => reject(new Error(`the paced client exited with ${code}`)));
    client.send(opts);
  });
  return { name, ...result, non2xx: 0 };
}

/** CPU time (user + system, in ms) of each process from /proc (Linux); empty where /proc is missing. */
function processCpu(): Map<number, { ms: number; ppid: number; cmd: string }> {
  const out = new Map<number, { ms: number; ppid: number; cmd: string }>();
  let entries: string[];
  try {
    entries = readdirSync('/proc');
  } catch {
    return out;
  }
  const tick = 1000 / 100; // USER_HZ is 100 on Linux
  for (const e of entries) {
    if (!/^\d+$/.test(e)) continue;
    try {
      const stat = readFileSync(`/proc/${e}/stat`, 'utf8');
      const f = stat.slice(stat.lastIndexOf(')') + 2).split(' '); // fields from the 3rd (state) on
      const cmd = readFileSync(`/proc/${e}/cmdline`, 'utf8').replaceAll('\0', ' ');
      out.set(Number(e), { ms: (Number(f[11]) + Number(f[12])) * tick, ppid: Number(f[1]), cmd });
    } catch {
      // the process ended meanwhile
    }
  }
  return out;
}

/**
 * CPU per request of the server (process `serverPid` and its descendants) and of PostgreSQL (the
 * backends connected to database `db`) between two `processCpu` snapshots; a process started in
 * between counts whole. Also how evenly that work was spread: the busiest worker process's share of
 * the workers' CPU (null for a single process) and the busiest backend's share of PostgreSQL's. null
 * where /proc is missing.
 */
function cpuPerRequest(before: ReturnType<typeof processCpu>, after: ReturnType<typeof processCpu>, serverPid: number, db: string, requests: number): { server: number; postgres: number; busiestWorkerShare: number | null; busiestBackendShare: number } | null {
  if (!after.size) return null;
  const tree = new Set([serverPid]);
  for (let grew = true; grew;) {
    grew = false;
    for (const [pid, p] of after) {
      if (!tree.has(pid) && tree.has(p.ppid)) {
        tree.add(pid);
        grew = true;
      }
    }
  }
  let server = 0;
  let postgres = 0;
  const workers: number[] = [];
  const backends: number[] = [];
  for (const [pid, p] of after) {
    const spent = p.ms - (before.get(pid)?.ms ?? 0);
    if (tree.has(pid)) {
      server += spent;
      if (p.ppid === serverPid) workers.push(spent); // cluster workers: the children of the primary
    } else if (p.cmd.startsWith('postgres: ') && p.cmd.includes(` ${db} `)) {
      postgres += spent;
      backends.push(spent);
    }
  }
  const share = (xs: number[]) => {
    const total = xs.reduce((a, b) => a + b, 0);
    return total > 0 ? Math.max(...xs) / total : 0;
  };
  return { server: server / requests, postgres: postgres / requests, busiestWorkerShare: workers.length > 1 ? share(workers) : null, busiestBackendShare: share(backends) };
}

/** CPU per account score at the paced rate, in ms, by process (and the spread, see `cpuPerRequest`). */
type CpuPerScore = { server: number; postgres: number; client: number; busiestWorkerShare: number | null; busiestBackendShare: number };

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
}

/** The medians of a route's rounds (req/s, p50, p99 each on its own), errors summed. */
function medianRun(name: string, runs: Run[]): Run {
  return {
    name, rps: median(runs.map((r) => r.rps)), p50: median(runs.map((r) => r.p50)), p99: median(runs.map((r) => r.p99)),
    errors: runs.reduce((s, r) => s + r.errors, 0), non2xx: runs.reduce((s, r) => s + r.non2xx, 0),
  };
}

async function main(): Promise<void> {
  const args = benchArgs('bench:serve', Args, { options: { db: { type: 'string' }, accounts: { type: 'string' }, seconds: { type: 'string' }, warm: { type: 'string' }, rate: { type: 'string' }, rounds: { type: 'string' }, child: { type: 'boolean' }, 'in-flight': { type: 'string' }, workers: { type: 'string' }, 'then-workers': { type: 'string' }, midnight: { type: 'boolean' }, model: { type: 'string' } }, allowNegative: true });
  const url = dbUrl(args.db);
  if (args.child) return child(url, args['in-flight'], args.workers, args.db);

  // 1. data and a champion, through the product's own CLI on first use
  await ensureDatabase(dbUrl('postgres'), args.db);
  const pool = createPool(url, { max: 4 });
  await migrate(pool);
  const env = { ...process.env, DATABASE_URL: url, CHURN_LOG_LEVEL: 'warn' };
  const [{ n }] = await query<{ n: number }>(pool, 'SELECT count(*)::int AS n FROM source.accounts');
  if (n === 0) {
    churn(['generate', '--accounts', String(args.accounts), '--months', '12', '--seed', '7'], env); // (vacuums what it loaded)
  }
  const catalog = loadCatalog();
  const champion = await getModel(pool, 'champion').catch(() => null);
  // none yet, one of an earlier feature catalogue (the server would refuse it) or of another model
  // type: train one, and make it champion even where the promotion rule prefers the old one
  if (champion?.featureSetVersion !== catalog.version || champion.modelType !== args.model) {
    if (champion) console.log(`champion version ${champion.version} is a ${champion.modelType} model of feature set ${champion.featureSetVersion}; this run measures a ${args.model} model of ${catalog.version}: training one`);
    churn(['train', '--models', args.model, '--seed', '7'], env);
    const [{ version }] = await listModels(pool, { includeFailed: false, limit: 1 }); // the one just trained
    if ((await resolveVersion(pool, 'champion').catch(() => null)) !== version) {
      churn(['models', 'promote', String(version), '--alias', 'champion', '--force', '--reason', `bench:serve measures a ${args.model} champion`], env);
    }
  }
  const model = await registryModelSource(pool, catalog).load(await resolveVersion(pool, 'champion'));
  const key = await createApiKey(pool, { name: 'bench', scopes: ['score:read'] });
  const now = new Date();
  const ids = (await query<{ account_id: string }>(pool, {
    text: `SELECT DISTINCT account_id FROM source.subscriptions WHERE started_at <= $1 AND (ended_at IS NULL OR ended_at > $1) ORDER BY 1 LIMIT 5000`, values: [now],
  })).map((r) => r.account_id);
  if (!ids.length) throw new Error('no active accounts in the bench database');

  // 2. event-loop blocking of one explained score: the synchronous part (inference, explanation, shape)
  const reader = createOnlineReader(pool, catalog);
  const rows = await reader.read(ids.slice(0, 50), now);
  await reader.close();
  const times: number[] = [];
  for (let i = 0; i < 2000; i++) {
    const id = ids[i % 50];
    const t0 = performance.now();
    const f = rows.get(id)!;
    buildScore({ model, config: DEFAULT_SERVING_CONFIG, accountId: id, asOf: now.toISOString(), row: f.row, segment: segmentAt(f, now), top: 5 });
    times.push(performance.now() - t0);
  }
  times.sort((a, b) => a - b);
  const blockMs = { mean: times.reduce((s, t) => s + t, 0) / times.length, p99: times[Math.floor(times.length * 0.99)] };
  const instanceOf = (id: string) => Object.fromEntries(model.featureNames.map((f) => [f, rows.get(id)!.row[f] ?? null]));
  const instance = instanceOf(ids[0]);
  const mixed = ids.slice(0, 50).filter((id) => rows.has(id)).map((id) => JSON.stringify({ instances: [instanceOf(id)] }));
  await pool.end();

  // 3. the server in a child process, autocannon here
  const startChild = async (workers: number): Promise<{ server: ChildProcess; base: string }> => {
    const server = fork(fileURLToPath(import.meta.url), ['--child', '--db', args.db, '--workers', String(workers), ...(args['in-flight'] ? ['--in-flight', String(args['in-flight'])] : [])], { execArgv: ['--import', 'tsx'], env: { ...process.env, DATABASE_URL: url } });
    const base = await new Promise<string>((resolve, reject) => {
      server.once('message', (m: { type: string; url: string }) => (m.type === 'ready' ? resolve(m.url) : reject(new Error('child failed'))));
      server.once('exit', (code) => reject(new Error(`server exited with ${code}`)));
    });
    return { server, base };
  };
  /**
   * The paced account score (after a quiet spell and the client's warm-up at the rate), with the
   * server's event-loop delay and the CPU per score over the measured phase.
   */
  const pacedScore = async (server: ChildProcess, base: string, name: string, asOf = '') => {
    await new Promise((r) => setTimeout(r, 3000));
    let before = processCpu();
    const run = await pacedInChild(name, { base, paths: ids.map((id) => `/v1/accounts/${id}/score?explain=true${asOf && `&as_of=${asOf}`}`), headers: auth, rate: args.rate, seconds: d, warmSeconds: args.warm }, () => {
      server.send({ type: 'eld-reset' });
      before = processCpu();
    });
    const cpu = cpuPerRequest(before, processCpu(), server.pid!, args.db, Math.round(args.rate * d));
    server.send({ type: 'eld' });
    const eld = await new Promise<Eld>((r) => server.once('message', (m: Eld) => r(m)));
    return { run, eld, cpu: cpu && { ...cpu, client: run.cpuMs } };
  };
  const stopChild = (server: ChildProcess) => new Promise<void>((resolve) => {
    server.once('exit', () => resolve());
    server.send({ type: 'stop' });
  });
  const { server, base } = await startChild(args.workers);
  const auth = { authorization: `Bearer ${key}` };
  const d = args.seconds;
  let i = 0;
  const scoreRequest = { method: 'GET' as const, setupRequest: (req: Record<string, unknown>) => ({ ...req, path: `/v1/accounts/${ids[i++ % ids.length]}/score?explain=true` }) };
  const helloOpts: CannonOptions = { url: `${base}/bench/hello` };
  const predictOpts: CannonOptions = { url: `${base}/v1/predict`, method: 'POST', headers: { ...auth, 'content-type': 'application/json' }, body: JSON.stringify({ instances: [instance] }) };
  const mixedOpts: CannonOptions = { url: `${base}/v1/predict`, method: 'POST', headers: { ...auth, 'content-type': 'application/json' }, requests: mixed.map((body) => ({ method: 'POST' as const, body })) };
  // warm-up of every route measured (JIT, caches), the same for both sides of the ratio
  await cannon('warmup', { url: `${base}/v1/accounts/${ids[0]}/score?explain=true`, headers: auth, duration: 2 });
  await cannon('warmup', { ...helloOpts, duration: 2 });
  await cannon('warmup', { ...predictOpts, duration: 2 });
  await cannon('warmup', { ...mixedOpts, duration: 2 });
  // and the server's CPU per request of each (all its processes; from /proc): steadier than req/s,
  // which also depends on how the client, on the same cores, and the workers share them
  const serverUs = async (name: string, opts: CannonOptions): Promise<{ run: Run; us: number | null }> => {
    const before = processCpu();
    const run = await cannon(name, opts);
    const cpu = cpuPerRequest(before, processCpu(), server.pid!, args.db, run.requests ?? 1);
    return { run, us: cpu && cpu.server * 1000 };
  };
  const rounds: { hello: Run; predict: Run; mixed: Run; ratio: number; mixedRatio: number; helloUs: number | null; predictUs: number | null; mixedUs: number | null }[] = [];
  for (let r = 1; r <= args.rounds; r++) {
    const h = await serverUs(`hello-world (round ${r})`, { ...helloOpts, duration: d });
    const p = await serverUs(`POST /v1/predict, 1 instance (round ${r})`, { ...predictOpts, duration: d });
    const m = await serverUs(`  ${mixed.length} accounts in turn (round ${r})`, { ...mixedOpts, duration: d });
    rounds.push({ hello: h.run, predict: p.run, mixed: m.run, ratio: p.run.rps / h.run.rps, mixedRatio: m.run.rps / h.run.rps, helloUs: h.us, predictUs: p.us, mixedUs: m.us });
  }
  const medianUs = (xs: (number | null)[]) => (xs.every((x) => x !== null) ? median(xs as number[]) : null);
  const serverCpuUs = { hello: medianUs(rounds.map((r) => r.helloUs)), predict: medianUs(rounds.map((r) => r.predictUs)), predictMixed: medianUs(rounds.map((r) => r.mixedUs)) };
  const hello = medianRun('hello-world (median)', rounds.map((r) => r.hello));
  const predict = medianRun('POST /v1/predict (median)', rounds.map((r) => r.predict));
  const predictRatio = median(rounds.map((r) => r.ratio));
  const mixedRun = medianRun(`  ${mixed.length} accounts in turn (median)`, rounds.map((r) => r.mixed));
  const mixedRatio = median(rounds.map((r) => r.mixedRatio));
  const score = await cannon('GET /v1/accounts/:id/score?explain=true', { url: base, headers: auth, requests: [scoreRequest], duration: d });
  const bursty = await cannon(`  autocannon rate mode, ${args.rate} req/s`, { url: base, headers: auth, requests: [scoreRequest], duration: d, connections: 10, overallRate: args.rate });
  // a quiet spell between the runs at full speed and the measure of the target
  const { run: paced, eld, cpu } = await pacedScore(server, base, `account score paced at ${args.rate} req/s`);
  // the same as of today's UTC midnight (event features from the event rollup), for comparison
  const midnight = args.midnight ? await pacedScore(server, base, '  the same, as of 00:00 UTC today', utcMidnightOf(now).toISOString()) : null;
  await stopChild(server);
  // the same measure against a server of another number of processes, warmed up on the route first
  const thenWorkers = args['then-workers'] ?? (args.workers > 1 ? 1 : 0);
  let then: ({ workers: number } & Awaited<ReturnType<typeof pacedScore>>) | null = null;
  if (thenWorkers > 0) {
    const other = await startChild(thenWorkers);
    await cannon('warmup', { url: other.base, headers: auth, requests: [scoreRequest], duration: Math.max(4, d / 2) });
    then = { workers: thenWorkers, ...(await pacedScore(other.server, other.base, `  the same, ${workersText(thenWorkers, true)}`)) };
    await stopChild(other.server);
  }

  const runs = [...rounds.flatMap((r) => [r.hello, r.predict, r.mixed]), score, bursty, paced, ...(midnight ? [midnight.run] : []), ...(then ? [then.run] : [])];
  const line = (r: Run, ratio: number) => `${r.name.padEnd(42)} ${r.rps.toFixed(0).padStart(7)} ${r.p50.toFixed(1).padStart(9)} ${r.p99.toFixed(1).padStart(8)} ${ratio.toFixed(3).padStart(14)} ${String(r.errors + r.non2xx).padStart(8)}`;
  console.log(`\nserver: ${workersText(args.workers, true)} (churn serve --workers ${args.workers})`);
  console.log('route                                       req/s     p50 ms   p99 ms   ratio to hello   errors');
  for (const r of rounds) console.log(`${line(r.hello, 1)}\n${line(r.predict, r.ratio)}\n${line(r.mixed, r.mixedRatio)}`);
  console.log(`${line(hello, 1)}\n${line(predict, predictRatio)}   (median of the per-round ratios)\n${line(mixedRun, mixedRatio)}`);
  for (const r of [score, paced, ...(midnight ? [midnight.run] : []), ...(then ? [then.run] : []), bursty]) console.log(line(r, r.rps / hello.rps));
  if (serverCpuUs.hello !== null && serverCpuUs.predict !== null) {
    console.log(`server CPU per request (median of the rounds, all ${workersText(args.workers, true)}): hello-world ${serverCpuUs.hello.toFixed(0)} us, POST /v1/predict ${serverCpuUs.predict.toFixed(0)} us`
      + (serverCpuUs.predictMixed === null ? '' : ` (${mixed.length} accounts in turn: ${serverCpuUs.predictMixed.toFixed(0)} us)`));
  }
  console.log(`(paced: requests sent every ${(1000 / args.rate).toFixed(1)} ms whatever the responses, latency from each request's scheduled time, max ${paced.max.toFixed(1)} ms;`);
  console.log(` autocannon's rate mode sends each connection's share of a second back to back, so it measures bursts at full speed)`);
  console.log(`\none explained score blocks the event loop for ${blockMs.mean.toFixed(3)} ms on average (p99 ${blockMs.p99.toFixed(3)} ms);`);
  console.log(`event-loop delay in the server at ${args.rate} req/s: p50 ${eld.p50.toFixed(2)} ms, p99 ${eld.p99.toFixed(2)} ms, max ${eld.max.toFixed(2)} ms` +
    (then ? ` (${workersText(then.workers)}: p50 ${then.eld.p50.toFixed(2)} ms, p99 ${then.eld.p99.toFixed(2)} ms, max ${then.eld.max.toFixed(2)} ms)` : ''));
  if (cpu) {
    const pct = (x: number) => `${(x * 100).toFixed(0)}%`;
    const fmt = (c: CpuPerScore, workers: number) => `${workersText(workers)}: PostgreSQL ${c.postgres.toFixed(2)}, server ${c.server.toFixed(2)}, client ${c.client.toFixed(2)}`;
    const spread = (c: CpuPerScore, workers: number) => `${workersText(workers)}: ${c.busiestWorkerShare === null ? '' : `busiest worker ${pct(c.busiestWorkerShare)} of the workers' CPU, `}busiest backend ${pct(c.busiestBackendShare)} of PostgreSQL's`;
    console.log(`CPU per account score at ${args.rate} req/s, ms (from /proc): ${fmt(cpu, args.workers)}${then?.cpu ? `; ${fmt(then.cpu, then.workers)}` : ''}`);
    console.log(`  how the paced scores spread: ${spread(cpu, args.workers)}${then?.cpu ? `; ${spread(then.cpu, then.workers)}` : ''}`);
    if (midnight?.cpu) console.log(`  as of 00:00 UTC (event features from the event rollup), ${fmt(midnight.cpu, args.workers)}; p99 ${midnight.run.p99.toFixed(1)} ms`);
  }
  const ratios = rounds.map((r) => r.ratio);
  console.log(`targets: predict at ${(predictRatio * 100).toFixed(0)}% of hello-world, median of ${rounds.length} rounds ` +
    `(rounds: ${ratios.map((x) => `${(x * 100).toFixed(0)}%`).join(', ')}; >= 50%: ${predictRatio >= 0.5 ? 'met' : 'MISSED'}; ${mixed.length} accounts in turn: ${(mixedRatio * 100).toFixed(0)}%); ` +
    `account score p99 ${paced.p99.toFixed(1)} ms at ${paced.rps.toFixed(0)} req/s (< 25 ms: ${paced.p99 < 25 ? 'met' : 'MISSED'})` +
    (then ? `; with ${workersText(then.workers)}: ${then.run.p99.toFixed(1)} ms (${then.run.p99 < 25 ? 'met' : 'MISSED'})` : ''));
  console.log(JSON.stringify({
    bench: 'serve', model: args.model, workers: args.workers, hello: { rps: hello.rps, p50: hello.p50, p99: hello.p99 }, predict: { rps: predict.rps, p50: predict.p50, p99: predict.p99, ratio: predictRatio, minRatio: Math.min(...ratios), maxRatio: Math.max(...ratios) },
    predictMixed: { accounts: mixed.length, rps: mixedRun.rps, p50: mixedRun.p50, p99: mixedRun.p99, ratio: mixedRatio },
    rounds: rounds.map((r) => ({ hello: { rps: r.hello.rps, p50: r.hello.p50, p99: r.hello.p99, serverCpuUs: r.helloUs }, predict: { rps: r.predict.rps, p50: r.predict.p50, p99: r.predict.p99, serverCpuUs: r.predictUs }, predictMixed: { rps: r.mixed.rps, serverCpuUs: r.mixedUs, ratio: r.mixedRatio }, ratio: r.ratio })),
    serverCpuUs,
    score: { rps: score.rps, p50: score.p50, p99: score.p99, ratio: score.rps / hello.rps },
    scoreAtRate: { rate: args.rate, rps: paced.rps, p50: paced.p50, p99: paced.p99, max: paced.max, cpuPerScoreMs: cpu },
    ...(midnight ? { scoreAtRateMidnight: { rate: args.rate, rps: midnight.run.rps, p50: midnight.run.p50, p99: midnight.run.p99, max: midnight.run.max, cpuPerScoreMs: midnight.cpu } } : {}),
    ...(then ? { scoreAtRateThen: { workers: then.workers, rate: args.rate, rps: then.run.rps, p50: then.run.p50, p99: then.run.p99, max: then.run.max, eventLoopDelayMs: then.eld, cpuPerScoreMs: then.cpu } } : {}),
    scoreAutocannonRateMode: { rate: args.rate, rps: bursty.rps, p50: bursty.p50, p99: bursty.p99 },
    blockingMs: blockMs, eventLoopDelayMs: eld, errors: runs.reduce((s, r) => s + r.errors + r.non2xx, 0),
  }));
}

await main();
