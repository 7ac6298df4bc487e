import { loadConfig } from '../../core/config.ts';
import type { Command } from 'commander';
import { z } from 'zod';
import { silentLogger } from '../../core/log.ts';
import { createProgress } from '../../core/progress.ts';
import { loadCatalog } from '../../features/catalog.ts';
import { resolveVersion } from '../../training/registry/index.ts';
import { deliverDue, syncWebhooks } from '../../jobs/alerts/deliver.ts';
import { loadServingConfig } from '../../scoring/config.ts';
import { registryModelSource } from '../../scoring/holder.ts';
import { defaultAsOf, InstantSchema } from '../../core/time.ts';
import { scoreAllActive } from '../../jobs/score-all.ts';
import { parseOptions, withDatabase } from '../context.ts';

const ScoreOptions = z.object({
  asOf: InstantSchema.optional(),
  model: z.string().min(1).default('champion'),
});

export function registerScore(program: Command): void {
  program.command('score')
    .description('score every active account, store the scores with their model and feature-set versions, raise alerts')
    .option('--as-of <date>', 'score as of this date (YYYY-MM-DD, 00:00 UTC) or zoned time (default: the latest UTC midnight, data through yesterday)')
    .option('--model <version-or-alias>', 'model version or alias', 'champion')
    .action(async (raw) => {
      const opts = parseOptions(ScoreOptions, raw);
      await withDatabase(async ({ pool, log }) => {
        const serving = await loadServingConfig(loadConfig().CHURN_SERVING_CONFIG);
        const catalog = loadCatalog();
        const source = registryModelSource(pool, catalog);
        const model = await source.load(await resolveVersion(pool, opts.model));
        await syncWebhooks(pool, serving.webhooks);
        const asOf = opts.asOf ?? defaultAsOf();
        const r = await scoreAllActive(pool, { model, catalog, config: serving, asOf, scoredAt: new Date(), progress: createProgress('scoring') });
        const d = await deliverDue(pool, serving.alerts, log ?? silentLogger);
        console.log(`scored ${r.accounts} active accounts as of ${r.asOf} with model ${r.modelVersion} (feature set ${r.featureSetVersion}) in ${r.seconds.toFixed(1)} s; ` +
          `${r.alerts} alerts raised, ${d.delivered} webhook deliveries made now (the rest are retried by churn serve)`);
      });
    });
}
