import { featureConcurrency, type Config } from '../core/config.ts';
import { derivePool, type Pool } from '../core/db.ts';
import type { Logger } from '../core/log.ts';
import { loadCatalog } from '../features/catalog.ts';
import { createOnlineReader, type OnlineReaderOptions } from '../features/online.ts';
import { buildApp, type ChurnApp } from './app.ts';
import { clusterMetricsReader } from './cluster.ts';
import { syncWebhooks } from '../jobs/alerts/deliver.ts';
import { Authenticator } from './auth.ts';
import { loadServingConfig, type ServingConfig } from '../scoring/config.ts';
import { parseBootstrapKeys } from './keys.ts';
import { createMetrics } from './metrics.ts';
import { ModelHolder } from '../scoring/holder.ts';
import { registryModelSource } from '../scoring/holder.ts';
import { dbReports } from '../jobs/report/store.ts';
import { JobRunner } from '../jobs/runner.ts';
import { registerMonitoringGauges } from '../jobs/monitor/metrics.ts';
import { listenError } from './port.ts';

export interface StartServerOptions {
  config: Config;
  pool: Pool;
  log: Logger;
  /** serving configuration; default: the file named by CHURN_SERVING_CONFIG, else the defaults */
  serving?: ServingConfig;
  /** connection string for the LISTEN connection (default: the pool's) */
  databaseUrl?: string;
  /** set false to skip the in-server schedule (tests, benchmarks) */
  schedule?: boolean;
  /** the online feature reader's statements at once and coalescing (features/online.ts); defaults: CHURN_FEATURE_CONCURRENCY or one per core, 64 accounts */
  featureReads?: OnlineReaderOptions;
  /** called with the built app before it listens (benchmarks add their baseline route here) */
  beforeListen?: (app: ChurnApp) => void | Promise<void>;
}

export interface RunningServer {
  url: string;
  app: ChurnApp;
  holder: ModelHolder;
  runner: JobRunner;
  /** stops taking requests, drains those in flight, stops the job runner and the model listener */
  close(): Promise<void>;
}

/** The longest a request waits for one of the API's connections before its answer is 503. */
export const API_POOL_WAIT_MS = 2000;

/**
 * The API's own connections (10), derived from `pool` with every session bounded: statements end
 * after CHURN_STATEMENT_TIMEOUT_MS, lock waits after CHURN_LOCK_TIMEOUT_MS (each cancelled by the
 * server, the connection back in the pool), and a request waits at most API_POOL_WAIT_MS for a
 * connection. The online feature reader derives its connections from this pool, settings included.
 * The scheduled jobs keep `pool`, without these bounds.
 */
export function createApiPool(pool: Pool, config: Pick<Config, 'CHURN_STATEMENT_TIMEOUT_MS' | 'CHURN_LOCK_TIMEOUT_MS'>): Pool {
  return derivePool(pool, {
    max: 10, applicationName: `${pool.options.application_name ?? 'churnlens'} api`, connectionTimeoutMillis: API_POOL_WAIT_MS,
    settings: { statement_timeout: `${config.CHURN_STATEMENT_TIMEOUT_MS}ms`, lock_timeout: `${config.CHURN_LOCK_TIMEOUT_MS}ms` },
  });
}

/**
 * Builds everything the API needs, loads the champion, starts the alias listener, the alert
 * delivery loop and the schedule, and listens on HOST:PORT. The pool stays the caller's; requests run
 * on connections derived from it with statement and lock timeouts (`createApiPool`).
 */
export async function startServer(opts: StartServerOptions): Promise<RunningServer> {
  const { config, pool, log } = opts;
  // configuration first: a bad CHURN_API_KEYS or serving file fails before anything starts that would need stopping
  const bootstrapKeys = parseBootstrapKeys(config.CHURN_API_KEYS);
  const serving = opts.serving ?? (await loadServingConfig(config.CHURN_SERVING_CONFIG));
  const catalog = loadCatalog();
  const metrics = createMetrics();
  const holder = new ModelHolder(registryModelSource(pool, catalog), log);
  holder.onSwap = (m) => {
    metrics.modelVersion.set(m.version);
    metrics.modelSwaps.inc();
  };
  await holder.refresh().catch((err) => log.warn({ err }, 'no champion loaded at start; /readyz stays false until one is'));
  holder.start({ databaseUrl: opts.databaseUrl ?? pool.options.connectionString, pollMs: 30_000 });
  await syncWebhooks(pool, serving.webhooks).catch((err) => log.warn({ err }, 'could not record the configured webhooks'));

  // Realised accuracy and drift of the latest `churn monitor` run (or the scheduled one) on /metrics.
  registerMonitoringGauges(metrics.registry, pool, { onError: (err) => log.debug({ err }, 'monitoring gauges unavailable') });

  if (config.CHURN_STATEMENT_TIMEOUT_MS >= config.CHURN_REQUEST_TIMEOUT_MS) {
    log.warn({ statementTimeoutMs: config.CHURN_STATEMENT_TIMEOUT_MS, requestTimeoutMs: config.CHURN_REQUEST_TIMEOUT_MS }, 'CHURN_STATEMENT_TIMEOUT_MS is not under CHURN_REQUEST_TIMEOUT_MS: a statement may run on after its request was answered 503');
  }
  const api = createApiPool(pool, config);
  const auth = new Authenticator(api, bootstrapKeys);
  const features = createOnlineReader(api, catalog, { ...opts.featureReads, concurrency: opts.featureReads?.concurrency ?? featureConcurrency(config.CHURN_FEATURE_CONCURRENCY) });
  // the first account scores should not each open a connection and plan the statement (~0.1 s)
  await features.warm().catch((err) => log.warn({ err }, 'could not prepare the feature connections; the first scores will do it'));
  const app = await buildApp({
    pool: api, config: serving, holder, features, auth, log, metrics,
    reports: dbReports(api), rateLimit: config.CHURN_RATE_LIMIT, clusterMetrics: clusterMetricsReader(metrics.registry), corsOrigins: config.CHURN_CORS_ORIGINS,
    limits: {
      requestTimeoutMs: config.CHURN_REQUEST_TIMEOUT_MS, batchTimeoutMs: config.CHURN_BATCH_TIMEOUT_MS,
      maxDriversPerRequest: config.CHURN_MAX_DRIVERS_PER_REQUEST, authFailureLimit: config.CHURN_AUTH_FAILURE_LIMIT,
    },
  }).catch(async (err: unknown) => {
    // the model listener and the feature connections are already running: they stop with the failure
    await features.close().catch(() => undefined);
    await holder.close().catch(() => undefined);
    throw err;
  });

  const runner = new JobRunner({
    pool, log, config: serving, catalog, model: () => holder.current,
    intervalHours: opts.schedule === false ? 0 : config.CHURN_SCHEDULE_HOURS, deliver: opts.schedule !== false,
    onDelivery: (r) => {
      if (r.delivered) metrics.alertsDelivered.inc({ outcome: 'delivered' }, r.delivered);
      if (r.failed) metrics.alertsDelivered.inc({ outcome: 'failed' }, r.failed);
    },
    onDailyRun: (outcome) => metrics.scheduledRuns.inc({ outcome }),
  });
  runner.start();

  let closing: Promise<void> | null = null;
  const close = () => {
    closing ??= (async () => {
      await app.close(); // waits for requests in flight
      await features.idle(); // reads of requests whose clients left are still running: let them finish
      await features.close();
      await runner.close(); // the daily job and a delivery round in flight finish before the pool may end
      await holder.close();
      await api.end();
    })();
    return closing;
  };
  let address: string;
  try {
    await opts.beforeListen?.(app);
    address = await app.listen({ port: config.PORT, host: config.HOST });
  } catch (err) {
    // nothing may outlive a server that never listened (the model listener, the job runner, the feature connections)
    await close().catch(() => undefined);
    throw listenError(err, config.PORT, config.HOST);
  }
  return { url: address.replace('0.0.0.0', '127.0.0.1'), app, holder, runner, close };
}
