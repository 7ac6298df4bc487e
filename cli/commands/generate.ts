import type { Command } from 'commander';
import { z } from 'zod';
import { createProgress } from '../../core/progress.ts';
import { parseInstant } from '../../core/time.ts';
import { DEMO_ACCOUNTS, generate } from '../../features/generate/index.ts';
import { parseOptions, withDatabase } from '../context.ts';

const GenerateCliSchema = z.object({
  accounts: z.coerce.number().int().min(1).max(1_000_000),
  months: z.coerce.number().int().min(1).max(60),
  seed: z.coerce.number().int().min(0).max(Number.MAX_SAFE_INTEGER),
  // a date that has come, allowing the clock skew every --as-of allows: data that ends in the future
  // leaves no observation date to build features or train on
  end: z.string().superRefine((s, ctx) => {
    const r = /^\d{4}-\d{2}-\d{2}$/.test(s) ? parseInstant(s) : { ok: false as const, reason: 'expected YYYY-MM-DD' };
    if (!r.ok) ctx.addIssue({ code: 'custom', message: /in the future/.test(r.reason) ? `${r.reason}; the data must end by today` : r.reason });
  }).optional(),
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
