import type { Command } from 'commander';
import { z } from 'zod';
import { createProgress } from '../../core/progress.ts';
import { DEMO_ACCOUNTS, generate } from '../../features/generate/index.ts';
import { parseOptions, withDatabase } from '../context.ts';

const GenerateCliSchema = z.object({
  accounts: z.coerce.number().int().min(1).max(1_000_000),
  months: z.coerce.number().int().min(1).max(60),
  seed: z.coerce.number().int().min(0).max(Number.MAX_SAFE_INTEGER),
  end: z.string().regex(/^\d{4}-\d{2}-\d{2}$/, 'expected YYYY-MM-DD').refine((s) => !Number.isNaN(Date.parse(`${s}T00:00:00Z`)), 'not a calendar date').optional(),
  replace: z.boolean().default(false),
});

/** Today at 00:00 UTC, as YYYY-MM-DD: the entry point may read the clock, the library may not. */
function today(): string {
  return new Date().toISOString().slice(0, 10);
}

export function registerGenerate(program: Command): void {
  program
    .command('generate')
    .description('generate a synthetic SaaS data set with known churn drivers into the source tables')
    .option('--accounts <n>', 'number of accounts', String(DEMO_ACCOUNTS))
    .option('--months <m>', 'months of history, ending at --end', '12')
    .option('--seed <s>', 'random seed; the same seed gives the same data', '42')
    .option('--end <date>', 'end of the data (exclusive, YYYY-MM-DD, 00:00 UTC); default today')
    .option('--replace', 'truncate the source tables and the ground truth first', false)
    .action(async (raw: Record<string, unknown>) => {
      const o = parseOptions(GenerateCliSchema, raw);
      await withDatabase(async ({ pool }) => {
        const r = await generate(pool, { ...o, end: o.end ?? today() }, createProgress('generate'));
        const counts = Object.entries(r.rowCounts).map(([t, n]) => `${t}=${n}`).join(' ');
        console.log(`generated ${r.accounts} accounts (${r.startDate} to ${r.endDate}, seed ${o.seed}) in ${r.seconds}s: ${counts}`);
      });
    });
}
