import { collectDefaultMetrics, Counter, Gauge, Histogram, Registry } from 'prom-client';

/** Prometheus metrics of one app instance (its own registry, so tests can build many apps). */
export interface ServingMetrics {
  registry: Registry;
  httpDuration: Histogram<'method' | 'route' | 'status'>;
  scoresServed: Counter<'route'>;
  modelVersion: Gauge;
  modelSwaps: Counter;
  scheduledRuns: Counter<'outcome'>;
  alertsDelivered: Counter<'outcome'>;
}

export function createMetrics(opts: { defaultMetrics?: boolean } = {}): ServingMetrics {
  const registry = new Registry();
  if (opts.defaultMetrics !== false) collectDefaultMetrics({ register: registry, prefix: 'churn_' });
  const scoresServed = new Counter({ name: 'churn_scores_served_total', help: 'scores returned by the API', labelNames: ['route'] as const, registers: [registry] });
  return {
    registry,
    httpDuration: new Histogram({
      name: 'churn_http_request_duration_seconds', help: 'HTTP request latency by route', labelNames: ['method', 'route', 'status'],
      buckets: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5], registers: [registry],
    }),
    scoresServed,
    // across cluster workers: the highest (during an alias move the workers swap a moment apart)
    modelVersion: new Gauge({ name: 'churn_model_version', help: 'version of the model being served (0: none)', registers: [registry], aggregator: 'max' }),
    modelSwaps: new Counter({ name: 'churn_model_swaps_total', help: 'model hot swaps after alias moves', registers: [registry] }),
    scheduledRuns: new Counter({ name: 'churn_scheduled_runs_total', help: 'scheduled scoring runs', labelNames: ['outcome'], registers: [registry] }),
    alertsDelivered: new Counter({ name: 'churn_alert_deliveries_total', help: 'webhook delivery attempts', labelNames: ['outcome'], registers: [registry] }),
  };
}
