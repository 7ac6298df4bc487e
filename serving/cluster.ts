import cluster, { type Worker } from 'node:cluster';
import os from 'node:os';
import { AggregatorRegistry, type Registry } from 'prom-client';
import type { Logger } from '../core/log.ts';

/**
 * Several server processes sharing one port (node:cluster), so the API uses every core: one Node
 * process serves HTTP on one core. The primary holds no app: it forks the workers, restarts one that
 * dies, aggregates their Prometheus metrics for `/metrics`, and on SIGTERM or SIGINT lets each worker
 * drain its requests in flight before it exits. Every worker is a whole server (model, feature
 * connections, alert delivery, schedule); the shared state lives in PostgreSQL, where the schedule's
 * advisory lock and the outbox's SKIP LOCKED already keep replicas from doing the same work twice.
 */

const READY = 'churn:worker-ready';
const METRICS_REQ = 'churn:metrics-req';
const METRICS_RES = 'churn:metrics-res';
const STOP = 'churn:worker-stop';

export interface ClusterOptions {
  workers: number;
  /** the script each worker runs, and its arguments (it calls `serveAsClusterWorker`) */
  exec: string;
  args: string[];
  execArgv?: string[];
  /** the workers' environment (on top of this process's) */
  env?: NodeJS.ProcessEnv;
  log: Logger;
  /** how long a worker may take to drain on shutdown before it is killed (default 30 s) */
  drainMs?: number;
  /** each worker's feature statements at once (CHURN_FEATURE_CONCURRENCY; default: the cores shared out) */
  featureConcurrency?: number;
}

export interface RunningCluster {
  url: string;
  /** sends every worker a message (the bench's event-loop probes) and collects from each its answer, the message whose type is the request's with `:res` appended */
  ask<T>(message: { type: string }): Promise<T[]>;
  /** lets every worker drain and exit; resolves when all have */
  close(): Promise<void>;
}

/** Feature statements per worker when CHURN_FEATURE_CONCURRENCY is not set: the cores shared out. */
const perWorkerConcurrency = (workers: number): number => Math.max(1, Math.floor(os.availableParallelism() / workers));

/** Starts `workers` server processes on one port and resolves when every one is listening. */
export async function startCluster(opts: ClusterOptions): Promise<RunningCluster> {
  if (!cluster.isPrimary) throw new Error('startCluster runs in the primary process only');
  const aggregator = new AggregatorRegistry();
  cluster.setupPrimary({ exec: opts.exec, args: opts.args, execArgv: opts.execArgv ?? process.execArgv });
  const env = { ...opts.env, CHURN_FEATURE_CONCURRENCY: opts.env?.CHURN_FEATURE_CONCURRENCY ?? String(opts.featureConcurrency ?? perWorkerConcurrency(opts.workers)) };
  const workers = new Set<Worker>();
  let stopping = false;
  let url = '';
  let restarts = 0;
  let started = false;

  const fork = (): Promise<string> => new Promise((resolve, reject) => {
    const w = cluster.fork(env);
    workers.add(w);
    let ready = false;
    w.on('message', (m: { type?: string; url?: string; id?: number }) => {
      if (m?.type === READY) {
        ready = true;
        opts.log.info({ worker: w.id, workerPid: w.process.pid }, 'worker listening');
        resolve(m.url ?? '');
      } else if (m?.type === METRICS_REQ) {
        aggregator.clusterMetrics().then(
          (text) => w.isConnected() && w.send({ type: METRICS_RES, id: m.id, text }),
          (err: Error) => w.isConnected() && w.send({ type: METRICS_RES, id: m.id, error: err.message }),
        );
      }
    });
    w.on('exit', (code, signal) => {
      workers.delete(w);
      if (!ready && !started) return reject(new Error(`a server worker exited before it was listening (code ${code}, signal ${signal})`));
      // exit code 0: the worker drained on a signal (Ctrl-C reaches the whole process group), not a crash
      if (stopping || code === 0) return;
      // a worker that died is replaced; one that keeps dying (before listening, too) is retried, more slowly
      restarts++;
      opts.log.error({ worker: w.id, workerPid: w.process.pid, code, signal }, 'server worker died; starting another');
      setTimeout(() => {
        if (!stopping) fork().catch((err) => opts.log.error({ err }, 'the replacement worker failed to start'));
      }, Math.min(30_000, 250 * 2 ** Math.min(restarts, 7))).unref();
    });
  });

  try {
    const urls = await Promise.all(Array.from({ length: opts.workers }, fork));
    url = urls[0];
    started = true;
  } catch (err) {
    stopping = true;
    for (const w of workers) w.process.kill('SIGKILL');
    throw err;
  }

  let closing: Promise<void> | null = null;
  return {
    url,
    ask: <T>(message: { type: string }) => Promise.all([...workers].map((w) => new Promise<T>((resolve) => {
      const on = (m: { type?: string }) => {
        if (m?.type !== `${message.type}:res`) return;
        w.off('message', on);
        resolve(m as T);
      };
      w.on('message', on);
      w.send(message);
    }))),
    close: () => {
      closing ??= (async () => {
        stopping = true;
        await Promise.all([...workers].map((w) => new Promise<void>((resolve) => {
          if (w.isDead()) return resolve();
          const kill = setTimeout(() => w.process.kill('SIGKILL'), opts.drainMs ?? 30_000);
          w.once('exit', () => {
            clearTimeout(kill);
            resolve();
          });
          // asked over IPC rather than with SIGTERM: after Ctrl-C, which reaches the whole process
          // group, a worker is draining already, and a signal now would be its second (end at once)
          if (w.isConnected()) w.send({ type: STOP });
          else w.process.kill('SIGTERM');
        })));
      })();
      return closing;
    },
  };
}

/**
 * The worker side: tells the primary it listens, and drains (`server.close()`) once when asked to
 * stop: by the primary (a message), when `stopRequested` resolves (the caller owns the signals and the
 * exit; the CLI passes its shutdown signal), else on SIGTERM or SIGINT, after which it exits 0. The
 * primary stopping abnormally (killed) disconnects the IPC channel: that stops the worker too.
 * Resolves once the server has closed.
 * (Its metrics reach the primary through `clusterMetricsReader`, which `startServer` sets up.)
 */
export function serveAsClusterWorker(server: { url: string; close(): Promise<void> }, log: Logger, stopRequested?: Promise<string>): Promise<void> {
  return new Promise((resolve) => {
    let closing = false;
    const stop = (signal: string) => {
      if (closing) return;
      closing = true;
      log.info({ signal }, 'worker shutting down: draining requests in flight');
      server.close().finally(() => {
        resolve();
        if (!stopRequested) process.exit(0);
      });
    };
    if (stopRequested) {
      void stopRequested.then(stop);
    } else {
      process.on('SIGTERM', () => stop('SIGTERM'));
      process.on('SIGINT', () => stop('SIGINT'));
    }
    process.on('disconnect', () => stop('disconnect'));
    process.on('message', (m: { type?: string }) => {
      if (m?.type === STOP) stop('primary');
    });
    process.send?.({ type: READY, url: server.url });
  });
}

/**
 * `/metrics` in a cluster worker: the primary gathers every worker's registry (prom-client's
 * AggregatorRegistry: counters and histograms summed, gauges by each metric's `aggregator`). Outside
 * a cluster: null, and the app reads its own registry.
 */
export function clusterMetricsReader(registry: Registry): (() => Promise<string>) | null {
  if (!cluster.isWorker) return null;
  AggregatorRegistry.setRegistries([registry]);
  void new AggregatorRegistry(); // installs the worker's answer to the primary's gathering
  let next = 0;
  const pending = new Map<number, { resolve: (text: string) => void; reject: (err: Error) => void }>();
  process.on('message', (m: { type?: string; id?: number; text?: string; error?: string }) => {
    if (m?.type !== METRICS_RES || m.id === undefined) return;
    const p = pending.get(m.id);
    pending.delete(m.id);
    if (m.error) p?.reject(new Error(m.error));
    else p?.resolve(m.text ?? '');
  });
  return () => new Promise((resolve, reject) => {
    const id = next++;
    pending.set(id, { resolve, reject });
    process.send!({ type: METRICS_REQ, id });
  });
}
