import { Gauge, type Registry } from 'prom-client';
import type { Queryable } from '../../core/db.ts';
import { deadDeliveries } from './redrive.ts';

export const DEAD_GAUGE = 'churn_alert_deliveries_dead';

/**
 * `churn_alert_deliveries_dead` on /metrics: webhook deliveries dead-lettered and not yet requeued,
 * counted in the outbox when scraped (one index read), so every replica reports the same
 * database-wide number. A failed read leaves the gauge empty for that scrape.
 */
export function registerAlertGauges(registry: Registry, db: Queryable, opts: { onError?: (err: unknown) => void } = {}): void {
  if (registry.getSingleMetric(DEAD_GAUGE)) return;
  new Gauge({
    name: DEAD_GAUGE, help: 'webhook deliveries dead-lettered after max_attempts and not yet requeued (churn alerts redeliver)', registers: [registry],
    aggregator: 'first', // every worker of a cluster reads the same outbox
    async collect() {
      this.reset();
      const n = await deadDeliveries(db).catch((err: unknown) => {
        opts.onError?.(err);
        return null;
      });
      if (n !== null) this.set(n);
    },
  });
}
