import cluster from 'node:cluster';
import type { Command } from 'commander';
import { z } from 'zod';
import { parseOptions, withDatabase } from '../context.ts';
import { shutdownSignal } from '../lifecycle.ts';

const ServeOptions = z.object({
  port: z.coerce.number().int().min(0).max(65535).optional(),
  host: z.string().min(1).optional(),
  schedule: z.boolean().default(true),
  workers: z.coerce.number().int().min(1).max(64).optional(),
});

export function registerServe(program: Command): void {
  program.command('serve')
    .description('serve the HTTP API (PORT, HOST, CHURN_API_KEYS, CHURN_RATE_LIMIT, CHURN_SCHEDULE_HOURS, CHURN_SERVING_CONFIG, CHURN_WORKERS)')
    .option('--port <port>', 'listen port (default: PORT or 3000)')
    .option('--host <host>', 'listen address (default: HOST or 127.0.0.1)')
    .option('--no-schedule', 'do not run the scheduled feature build, scoring and alert delivery in this process')
    .option('--workers <n>', 'server processes sharing the port (default: CHURN_WORKERS or 1); one per core lets the API use every core')
    .action(async (raw) => {
      const opts = parseOptions(ServeOptions, raw);
      // the server's modules (Fastify, prom-client, ...) load here, not for `churn --help`
      const [{ serveApi }, { serveAsClusterWorker }] = await Promise.all([import('../serve-api.ts'), import('../../serving/cluster.ts')]);
      // a worker of a primary below uses the primary's database (DATABASE_URL), which it has migrated
      await withDatabase(async ({ config, pool, log, databaseUrl }) => {
        const listen = { ...config, PORT: opts.port ?? config.PORT, HOST: opts.host ?? config.HOST };
        if (cluster.isWorker) {
          await serveAsClusterWorker(await serveApi({ config: listen, pool, log, databaseUrl, workers: 1, schedule: opts.schedule }), log, shutdownSignal());
          return;
        }
        // with several workers, this process is their primary: the database is resolved and migrated here, once
        const workers = opts.workers ?? config.CHURN_WORKERS;
        const api = await serveApi({ config: listen, pool, log, databaseUrl, workers, schedule: opts.schedule });
        console.log(`Churnlens API at ${api.url} (docs: ${api.url}/docs)${workers > 1 ? `, ${workers} worker processes` : ''}`);
        const sig = await shutdownSignal();
        log.info({ signal: sig }, workers > 1 ? 'shutting down: every worker drains its requests in flight' : 'shutting down: draining requests in flight');
        await api.close();
      }, { migrate: !cluster.isWorker });
    });
}
