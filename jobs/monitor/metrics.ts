/**
 * The monitoring gauges on /metrics: registered once on the app's prom-client registry, they read the
 * latest stored monitoring run (jobs/monitor/monitor.ts) when scraped, at most once per `ttlMs`.
 */
import { Gauge, type Registry } from 'prom-client';
import type { Queryable } from '../../core/db.ts';
import { MONITORING_GAUGES, monitoringMetrics, type Gauge as MonitoringGauge } from './monitor.ts';

/**
 * Adds the monitoring gauges to `registry`. A failed read (database down) leaves the gauges empty for
 * that scrape instead of failing the whole /metrics answer.
 */
export function registerMonitoringGauges(registry: Registry, db: Queryable, opts: { ttlMs?: number; onError?: (err: unknown) => void } = {}): void {
  const ttl = opts.ttlMs ?? 30_000;
  let cached: { at: number; values: Promise<MonitoringGauge[]> } | null = null;
  const load = (): Promise<MonitoringGauge[]> => {
    const now = performance.now();
    if (!cached || now - cached.at > ttl) {
      const values = monitoringMetrics(db).catch((err: unknown) => {
        opts.onError?.(err);
        cached = null;
        return [] as MonitoringGauge[];
      });
      cached = { at: now, values };
    }
    return cached.values;
  };
  for (const [name, g] of Object.entries(MONITORING_GAUGES)) {
    new Gauge({
      name, help: g.help, labelNames: [...g.labelNames], registers: [registry],
      aggregator: 'first', // every worker of a cluster reads the same run
      async collect() {
        this.reset();
        for (const v of await load()) if (v.name === name) this.set(v.labels, v.value);
      },
    });
  }
}
