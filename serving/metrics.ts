import { collectDefaultMetrics, Counter, Gauge, Histogram, Registry } from 'prom-client';

/** Prometheus metrics of one app instance (its own registry, so tests can build many apps). */
export interface ServingMetrics {
  registry: Registry;
  httpDuration: Histogram<'method' | 'route' | 'status'>;
  scoresServed: Counter<'route'>;
  /**
   * A hot-path tally of `churn_scores_served_total{route}`: a plain number added to per call, moved
   * into the counter whenever the registry is read (a scrape sees exactly the same totals).
   */
  scoresTally(route: string): (n: number) => void;
  modelVersion: Gauge;
  modelSwaps: Counter;
  scheduledRuns: Counter<'outcome'>;
  alertsDelivered: Counter<'outcome'>;
}

export function createMetrics(opts: { defaultMetrics?: boolean } = {}): ServingMetrics {
  const registry = new Registry();
  if (opts.defaultMetrics !== false) collectDefaultMetrics({ register: registry, prefix: 'churn_' });
  const tallies = new Map<string, { n: number }>();
  const scoresServed = new Counter({
    name: 'churn_scores_served_total', help: 'scores returned by the API', labelNames: ['route'] as const, registers: [registry],
    collect() {
      for (const [route, t] of tallies) {
        if (t.n > 0) this.inc({ route }, t.n);
        t.n = 0;
      }
    },
  });
  return {
    registry,
    httpDuration: new Histogram({
      name: 'churn_http_request_duration_seconds', help: 'HTTP request latency by route', labelNames: ['method', 'route', 'status'],
      buckets: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5], registers: [registry],
    }),
    scoresServed,
    scoresTally: (route) => {
      let t = tallies.get(route);
      if (!t) tallies.set(route, (t = { n: 0 }));
      const tally = t;
      return (n) => {
        tally.n += n;
      };
    },
    // across cluster workers: the highest (during an alias move the workers swap a moment apart)
    modelVersion: new Gauge({ name: 'churn_model_version', help: 'version of the model being served (0: none)', registers: [registry], aggregator: 'max' }),
    modelSwaps: new Counter({ name: 'churn_model_swaps_total', help: 'model hot swaps after alias moves', registers: [registry] }),
    scheduledRuns: new Counter({ name: 'churn_scheduled_runs_total', help: 'scheduled scoring runs', labelNames: ['outcome'], registers: [registry] }),
    alertsDelivered: new Counter({ name: 'churn_alert_deliveries_total', help: 'webhook delivery attempts', labelNames: ['outcome'], registers: [registry] }),
  };
}

/**
 * Records one HTTP request in `churn_http_request_duration_seconds`, reusing one label object per
 * method, route and status instead of building one per request.
 */
export function durationObserver(metrics: ServingMetrics): (method: string, route: string, status: number, seconds: number) => void {
  const labels = new Map<string, { method: string; route: string; status: string }>();
  return (method, route, status, seconds) => {
    const key = `${status} ${method} ${route}`;
    let l = labels.get(key);
    if (!l) {
      if (labels.size > 10_000) labels.clear();
      labels.set(key, (l = { method, route, status: String(status) }));
    }
    metrics.httpDuration.observe(l, seconds);
  };
}
