import { featureConcurrency, type Config } from '../core/config.ts';
import type { Pool } from '../core/db.ts';
import type { Logger } from '../core/log.ts';
import { loadCatalog } from '../features/catalog.ts';
import { buildSnapshots } from '../features/materialize.ts';
import { createOnlineReader, type OnlineReaderOptions } from '../features/online.ts';
import { buildApp, type ChurnApp } from './app.ts';
import { clusterMetricsReader } from './cluster.ts';
import { deliverDue, syncWebhooks } from '../jobs/alerts/deliver.ts';
import { Authenticator } from './auth.ts';
import { loadServingConfig, type ServingConfig } from '../scoring/config.ts';
import { parseBootstrapKeys } from './keys.ts';
import { createMetrics } from './metrics.ts';
import { ModelHolder } from '../scoring/holder.ts';
import { registryModelSource } from '../scoring/holder.ts';
import { dbReports } from '../jobs/report/store.ts';
import { Scheduler } from '../jobs/scheduler.ts';
import { runMonitor } from '../jobs/monitor/monitor.ts';
import { registerMonitoringGauges } from '../jobs/monitor/metrics.ts';
import { scoreAllActive } from '../jobs/score-all.ts';
import { thinScoreHistory } from '../jobs/history-retention.ts';

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
  scheduler: Scheduler;
  /** stops taking requests, drains those in flight, stops the schedule and the model listener */
  close(): Promise<void>;
}

/**
 * Builds everything the API needs, loads the champion, starts the alias listener, the alert
 * delivery loop and the schedule, and listens on HOST:PORT. The pool stays the caller's.
 */
export async function startServer(opts: StartServerOptions): Promise<RunningServer> {
  const { config, pool, log } = opts;
  const serving = opts.serving ?? (await loadServingConfig(process.env.CHURN_SERVING_CONFIG));
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

  const auth = new Authenticator(pool, parseBootstrapKeys(config.CHURN_API_KEYS));
  const features = createOnlineReader(pool, catalog, { ...opts.featureReads, concurrency: opts.featureReads?.concurrency ?? featureConcurrency(config.CHURN_FEATURE_CONCURRENCY) });
  // the first account scores should not each open a connection and plan the statement (~0.1 s)
  await features.warm().catch((err) => log.warn({ err }, 'could not prepare the feature connections; the first scores will do it'));
  const app = await buildApp({
    pool, config: serving, holder, features, auth, log, metrics,
    reports: dbReports(pool), rateLimit: config.CHURN_RATE_LIMIT, clusterMetrics: clusterMetricsReader(metrics.registry),
  });

  const scheduler = new Scheduler(pool, log, opts.schedule === false ? 0 : config.CHURN_SCHEDULE_HOURS, async (asOf) => {
    const model = holder.current;
    if (!model) throw new Error('no champion model is loaded');
    const built = await buildSnapshots(pool, catalog, [asOf]);
    const scored = await scoreAllActive(pool, { model, catalog, config: serving, asOf, scoredAt: new Date() });
    const delivered = await deliverDue(pool, serving.alerts, log);
    const monitored = await runMonitor(pool, { now: asOf }).then(() => true, (err) => {
      log.warn({ err }, 'monitoring run failed; scores and alerts are unaffected');
      return false;
    });
    // after monitoring, which reads the history; a failure here leaves the history as it was
    const thinned = serving.history.thin_after_days > 0
      ? await thinScoreHistory(pool, { olderThanDays: serving.history.thin_after_days, now: asOf }).then((r) => r.removed, (err) => {
        log.warn({ err }, 'thinning the score history failed; scores and alerts are unaffected');
        return null;
      })
      : null;
    metrics.scheduledRuns.inc({ outcome: 'ran' });
    return { snapshots: built.rows, ...scored, delivered, monitored, thinned };
  });
  scheduler.start();

  let delivering = false;
  const delivery = setInterval(() => {
    if (delivering) return;
    delivering = true;
    deliverDue(pool, serving.alerts, log)
      .then((r) => {
        if (r.delivered) metrics.alertsDelivered.inc({ outcome: 'delivered' }, r.delivered);
        if (r.failed) metrics.alertsDelivered.inc({ outcome: 'failed' }, r.failed);
      })
      .catch((err) => log.debug({ err }, 'alert delivery skipped'))
      .finally(() => { delivering = false; });
  }, serving.alerts.poll_seconds * 1000);
  delivery.unref();

  await opts.beforeListen?.(app);
  const address = await app.listen({ port: config.PORT, host: config.HOST });
  const url = address.replace('0.0.0.0', '127.0.0.1');
  let closing: Promise<void> | null = null;
  return {
    url,
    app,
    holder,
    scheduler,
    close: () => {
      closing ??= (async () => {
        clearInterval(delivery);
        await app.close(); // waits for requests in flight
        await features.idle(); // reads of requests whose clients left are still running: let them finish
        await features.close();
        await scheduler.close();
        await holder.close();
      })();
      return closing;
    },
  };
}
