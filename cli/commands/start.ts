import { defaultAsOf } from '../../core/time.ts';
import type { Command } from 'commander';
import { z } from 'zod';
import { loadCatalog, ensureFeatureSet } from '../../features/catalog.ts';
import { loadServingConfig } from '../../scoring/config.ts';
import { parseOptions, withDatabase } from '../context.ts';
import { shutdownSignal } from '../lifecycle.ts';
import { assertPortFree } from '../../serving/port.ts';
import { loadConfig } from '../../core/config.ts';

const StartOptions = z.object({
  accounts: z.coerce.number().int().min(50).max(1_000_000).optional(),
  serve: z.boolean(),
});

export function registerStart(program: Command): void {
  program.command('start')
    .description('the whole product: database, demo data if empty, features, champion model, report, scores, then the API (what `npm start` runs)')
    .option('--accounts <n>', 'size of the generated demo data set when the database is empty')
    .option('--no-serve', 'prepare everything, then exit instead of serving the API')
    .action(async (raw) => {
      const opts = parseOptions(StartOptions, raw);
      const started = performance.now();
      const say = (line: string) => console.log(line);
      // the stages load TensorFlow.js and the server Fastify (seconds together): imported here, not for `churn --help`
      const { ensureChampion, ensureData, ensureDemoKey, ensureFreshSnapshot, ensureReport, ensureScores, reportLinkLines } = await import('../start-stages.ts');
      // a taken port is told now, not after minutes of preparation
      if (opts.serve) {
        const { PORT, HOST } = loadConfig();
        await assertPortFree(PORT, HOST);
      }
      await withDatabase(async ({ config, pool, log, databaseUrl }) => {
        say(`database   ${config.DATABASE_URL ? 'DATABASE_URL' : `embedded PostgreSQL under ${config.home}`} (migrated)`);
        const now = new Date();
        const serving = await loadServingConfig(config.CHURN_SERVING_CONFIG);
        const catalog = loadCatalog();
        await ensureFeatureSet(pool, catalog);
        await ensureData(pool, now, say, opts.accounts);
        const version = await ensureChampion(pool, catalog, config, say);
        // features and scores as of the latest UTC midnight, as the model was trained (core/time.ts defaultAsOf)
        const asOf = defaultAsOf(now.getTime());
        await ensureFreshSnapshot(pool, catalog, asOf, say);
        // scores first: the report's revenue at risk and "since deployment" read them
        await ensureScores(pool, catalog, version, serving, asOf, say);
        const reportFile = await ensureReport(pool, version, config.home, serving, now, say);
        const key = await ensureDemoKey(pool, config.home);
        say(`ready in ${((performance.now() - started) / 1000).toFixed(1)} s`);
        if (!opts.serve) return;
        const { serveApi } = await import('../serve-api.ts');
        const server = await serveApi({ config, pool, log, databaseUrl, workers: config.CHURN_WORKERS });
        say('');
        say(`API        ${server.url}/v1   (docs: ${server.url}/docs)${server.workers > 1 ? `, ${server.workers} worker processes` : ''}`);
        for (const line of await reportLinkLines(pool, server.url, reportFile, new Date())) say(line);
        say(`demo key   ${key}`);
        say(`try        curl -H "Authorization: Bearer ${key}" "${server.url}/v1/accounts?tier=critical&limit=5"`);
        await shutdownSignal();
        say('shutting down: draining requests');
        await server.close();
      }, { migrate: true });
    });
}
