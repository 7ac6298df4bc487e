import { Gauge, type Registry } from 'prom-client';
import type { Queryable } from '../../core/db.ts';
import { deadDeliveries } from './redrive.ts';

export const DEAD_GAUGE = 'churn_alert_deliveries_dead';

/**
 * `churn_alert_deliveries_dead` on /metrics: webhook deliveries dead-lettered and not yet requeued,
 * read from the outbox when scraped (at most once per `ttlMs`), so every replica reports the same
 * database-wide count. A failed read leaves the gauge empty for that scrape.
 */
export function registerAlertGauges(registry: Registry, db: Queryable, opts: { ttlMs?: number; onError?: (err: unknown) => void } = {}): void {
  if (registry.getSingleMetric(DEAD_GAUGE)) return;
  const ttl = opts.ttlMs ?? 5_000;
  let cached: { at: number; value: Promise<number | null> } | null = null;
  new Gauge({
    name: DEAD_GAUGE, help: 'webhook deliveries dead-lettered after max_attempts and not yet requeued (churn alerts redeliver)', registers: [registry],
    aggregator: 'first', // every worker of a cluster reads the same outbox
    async collect() {
      const now = performance.now();
      if (!cached || now - cached.at > ttl) {
        cached = { at: now, value: deadDeliveries(db).catch((err: unknown) => {
          opts.onError?.(err);
          cached = null;
          return null;
        }) };
      }
      const value = await cached.value;
      this.reset();
      if (value !== null) this.set(value);
    },
  });
}
