import { loadConfig } from '../../core/config.ts';
import type { Command } from 'commander';
import { z } from 'zod';
import { ChurnError } from '../../core/errors.ts';
import { loadServingConfig } from '../../scoring/config.ts';
import { thinScoreHistory } from '../../jobs/history-retention.ts';
import { parseOptions, withDatabase } from '../context.ts';

const ThinOptions = z.object({
  olderThanDays: z.coerce.number().int().min(1).max(36500).optional(),
  dryRun: z.boolean().default(false),
});

export function registerHistory(program: Command): void {
  const history = program.command('history').description('the stored score history (churn.score_history)');
  history.command('thin')
    .description("thin old scores to each account's latest score per calendar month (UTC); an account's latest score and every score an alert names are kept")
    .option('--older-than-days <n>', 'thin scores with an as-of more than this many days ago (default: history.thin_after_days of the serving configuration)')
    .option('--dry-run', 'count what would be removed, remove nothing')
    .action(async (raw) => {
      const opts = parseOptions(ThinOptions, raw);
      const days = opts.olderThanDays ?? (await loadServingConfig(loadConfig().CHURN_SERVING_CONFIG)).history.thin_after_days;
      if (!days) throw new ChurnError('CHURN_ERR_VALIDATION', 'say how old: --older-than-days N, or history.thin_after_days in the serving configuration');
      await withDatabase(async ({ pool }) => {
        const r = await thinScoreHistory(pool, { olderThanDays: days, dryRun: opts.dryRun });
        console.log(`${r.dryRun ? 'would remove' : 'removed'} ${r.removed} stored scores with an as-of before ${r.cutoff}; ${r.kept} ${r.dryRun ? 'would be' : 'are'} kept`);
      });
    });
}
