import cluster from 'node:cluster';
import fs from 'node:fs';
import { fileURLToPath } from 'node:url';
import type { Config } from '../core/config.ts';
import type { Pool } from '../core/db.ts';
import type { Logger } from '../core/log.ts';
import { startCluster } from '../serving/cluster.ts';
import { assertPortFree } from '../serving/port.ts';
import { startServer } from '../serving/server.ts';

/** bin/churn.js, which the workers run: one folder up from cli/, two from dist/cli/ (the build). */
const bin = (): string => ['../bin/churn.js', '../../bin/churn.js'].map((p) => fileURLToPath(new URL(p, import.meta.url))).find((f) => fs.existsSync(f))!;

export interface ServedApi {
  url: string;
  workers: number;
  /** stops taking requests and drains those in flight (in every worker) */
  close(): Promise<void>;
}

/**
 * Serves the API from this process, or with `workers` > 1 from that many worker processes on the same
 * port (`churn serve` in each, connected to `databaseUrl`, which this process has migrated).
 */
export async function serveApi(opts: { config: Config; pool: Pool; log: Logger; databaseUrl: string; workers: number; schedule?: boolean }): Promise<ServedApi> {
  const { config, workers } = opts;
  // (a cluster worker shares the port its primary has checked and listens on)
  if (!cluster.isWorker) await assertPortFree(config.PORT, config.HOST);
  if (workers > 1) {
    const args = ['serve', '--port', String(config.PORT), '--host', config.HOST, ...(opts.schedule === false ? ['--no-schedule'] : [])];
    const running = await startCluster({ workers, exec: bin(), args, env: { DATABASE_URL: opts.databaseUrl }, log: opts.log, featureConcurrency: config.CHURN_FEATURE_CONCURRENCY });
    return { url: running.url, workers, close: () => running.close() };
  }
  const server = await startServer({ config, pool: opts.pool, log: opts.log, databaseUrl: opts.databaseUrl, schedule: opts.schedule });
  return { url: server.url, workers: 1, close: () => server.close() };
}
