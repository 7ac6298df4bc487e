import type { Command } from 'commander';
import { z } from 'zod';
import { parseOptions, withDatabase } from '../context.ts';
import { startServer } from '../../serving/server.ts';

const ServeOptions = z.object({
  port: z.coerce.number().int().min(0).max(65535).optional(),
  host: z.string().min(1).optional(),
  schedule: z.boolean().default(true),
});

/** Resolves on the first SIGINT or SIGTERM. */
function untilSignal(): Promise<string> {
  return new Promise((resolve) => {
    const on = (sig: string) => {
      process.off('SIGINT', on);
      process.off('SIGTERM', on);
      resolve(sig);
    };
    process.on('SIGINT', on);
    process.on('SIGTERM', on);
  });
}

export function registerServe(program: Command): void {
  program.command('serve')
    .description('serve the HTTP API (PORT, HOST, CHURN_API_KEYS, CHURN_RATE_LIMIT, CHURN_SCHEDULE_HOURS, CHURN_SERVING_CONFIG)')
    .option('--port <port>', 'listen port (default: PORT or 3000)')
    .option('--host <host>', 'listen address (default: HOST or 127.0.0.1)')
    .option('--no-schedule', 'do not run the scheduled feature build, scoring and alert delivery in this process')
    .action(async (raw) => {
      const opts = parseOptions(ServeOptions, raw);
      await withDatabase(async ({ config, pool, log, databaseUrl }) => {
        const server = await startServer({
          config: { ...config, PORT: opts.port ?? config.PORT, HOST: opts.host ?? config.HOST }, pool, log, databaseUrl, schedule: opts.schedule,
        });
        console.log(`Churnlens API at ${server.url} (docs: ${server.url}/docs)`);
        const sig = await untilSignal();
        log.info({ signal: sig }, 'shutting down: draining requests in flight');
        await server.close();
      });
    });
}
