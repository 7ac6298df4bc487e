import { loadConfig } from '../../core/config.ts';
import type { Command } from 'commander';
import { z } from 'zod';
import { query, type Queryable } from '../../core/db.ts';
import { silentLogger } from '../../core/log.ts';
import { createProgress } from '../../core/progress.ts';
import { loadCatalog } from '../../features/catalog.ts';
import { resolveVersion } from '../../training/registry/index.ts';
import { deliverDue, syncWebhooks } from '../../jobs/alerts/deliver.ts';
import { loadServingConfig } from '../../scoring/config.ts';
import { registryModelSource } from '../../scoring/holder.ts';
import { defaultAsOf, InstantSchema } from '../../core/time.ts';
import { runScoring } from '../../jobs/score-all.ts';
import { parseOptions, withDatabase } from '../context.ts';

const ScoreOptions = z.object({
  asOf: InstantSchema.optional(),
  model: z.string().min(1).default('champion'),
});

/** Why nothing was scored: no subscription in force at the as-of time, with the span the subscriptions cover. */
async function noActiveAccounts(db: Queryable, asOf: Date): Promise<string> {
  const [span] = await query<{ first: Date | null; last: Date | null; open: boolean }>(db,
    'SELECT min(started_at) AS first, max(coalesce(ended_at, started_at)) AS last, bool_or(ended_at IS NULL) AS open FROM source.subscriptions');
  const day = (d: Date) => d.toISOString().slice(0, 10);
  if (!span?.first) return 'note: no account was scored: source.subscriptions is empty (load it with churn ingest subscriptions FILE)';
  return `note: no account had a subscription in force at ${asOf.toISOString()}: the subscriptions run from ${day(span.first)} ` +
    `${span.open ? 'and some are still running' : `to ${day(span.last!)}`}`;
}

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
        // one scoring run at a time (this command's and the server's daily job): wait for one in progress
        const r = await runScoring(pool, {
          model, catalog, config: serving, asOf, scoredAt: new Date(), progress: createProgress('scoring'),
          onWait: () => console.error('churn score: another scoring run (churn score or the server\'s daily job) is in progress; waiting for it to finish'),
        });
        const d = await deliverDue(pool, serving.alerts, log ?? silentLogger);
        console.log(`scored ${r.accounts} active accounts${r.trials ? ` (${r.trials} on a trial, tier trial)` : ''} as of ${r.asOf} with model ${r.modelVersion} (feature set ${r.featureSetVersion}) in ${r.seconds.toFixed(1)} s (feature snapshot stored); ` +
          `${r.alerts} alerts raised, ${d.delivered} webhook deliveries made now (the rest are retried by churn serve)`);
        if (r.accounts === 0) console.error(await noActiveAccounts(pool, asOf));
      });
    });
}
