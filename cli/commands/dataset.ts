import type { Command } from 'commander';
import { z } from 'zod';
import { assertWritable, parseOptions, withDatabase } from '../context.ts';
import { CliDateSchema } from './features-qa.ts';
import { createProgress } from '../../core/progress.ts';
import type { Pool } from '../../core/db.ts';
import { loadCatalog } from '../../features/catalog.ts';
import { buildSnapshots } from '../../features/materialize.ts';
import { DurationSchema } from '../../features/labels.ts';
import type { TrainingSetOptions, TrainingSetStats } from '../../training/dataset.ts';
import { exportTrainingSet } from '../../training/export.ts';

const DatesSchema = z.string().transform((s, ctx): Date[] | 'monthly' | 'stored' => {
  if (s === 'stored' || s === 'monthly') return s;
  const out: Date[] = [];
  for (const part of s.split(',').map((p) => p.trim()).filter(Boolean)) {
    const r = CliDateSchema.safeParse(part);
    if (!r.success) {
      ctx.addIssue({ code: 'custom', message: `invalid observation date "${part}" (expected monthly, stored, or YYYY-MM-DD,YYYY-MM-DD,...)` });
      return z.NEVER;
    }
    out.push(r.data);
  }
  if (!out.length) {
    ctx.addIssue({ code: 'custom', message: 'no observation dates given' });
    return z.NEVER;
  }
  return out;
});

/** The options that decide a database training set, shared by `churn dataset export` and `churn train`. */
export const DatasetCliOptions = z.object({
  horizon: DurationSchema.refine((d) => d > 0, 'the horizon must be at least 1 day'),
  lead: DurationSchema,
  grace: DurationSchema,
  minTenure: DurationSchema,
  dates: DatesSchema,
  validDates: z.coerce.number().int().min(0),
  testDates: z.coerce.number().int().min(0),
  groupByAccount: z.boolean().default(false),
  validShare: z.coerce.number().gt(0).lt(1),
  testShare: z.coerce.number().gt(0).lt(1),
  seed: z.coerce.number().int(),
  featureSet: z.string().min(1).optional(),
  dataEnd: CliDateSchema.optional(),
});
export type DatasetCliOptions = z.infer<typeof DatasetCliOptions>;

/** Adds the training-set options (same names, defaults and help on every command that labels). */
export function withDatasetOptions(cmd: Command): Command {
  return cmd
    .option('--horizon <duration>', 'churn within this long after the observation date (e.g. 30d, 4w)', '30d')
    .option('--lead <duration>', 'lead time between the observation date and the horizon', '0d')
    .option('--grace <duration>', 'a new subscription within this gap after an end is not churn', '14d')
    .option('--min-tenure <duration>', 'accounts younger than this at the observation date are left out', '14d')
    .option('--dates <list>', 'observation dates: monthly (the first of each month over the labelled span), stored (the stored snapshot dates), or YYYY-MM-DD,YYYY-MM-DD,...', 'monthly')
    .option('--valid-dates <n>', 'how many observation dates before the test dates form the validation side (early stopping, model choice, calibration)', '1')
    .option('--test-dates <n>', 'how many of the latest observation dates form the held-out test side (0: none)', '1')
    .option('--group-by-account', 'also keep each account on one side (a seeded partition by --valid-share and --test-share; rows on the wrong side are dropped)', false)
    .option('--valid-share <share>', 'with --group-by-account: share of accounts on the validation side', '0.3')
    .option('--test-share <share>', 'with --group-by-account: share of accounts on the test side', '0.2')
    .option('--feature-set <version>', "feature-set version (default: the current catalogue's)")
    .option('--data-end <date>', 'end of the data (default: the last time the source data has evidence of: the latest event, capped at the load time)');
}

/** Builds the snapshots of missing dates with the current catalogue (only when training on its version). */
export function snapshotBuilder(pool: Pool, version: string): ((asOfs: Date[]) => Promise<unknown>) | undefined {
  const catalog = loadCatalog();
  if (catalog.version !== version) return undefined;
  return (asOfs) => buildSnapshots(pool, catalog, asOfs, { progress: createProgress('feature snapshots') });
}

/** The training-set options of parsed CLI options (the feature set defaults to the current catalogue's). */
export function trainingSetOptions(o: DatasetCliOptions): Omit<TrainingSetOptions, 'buildSnapshots' | 'progress'> & { featureSetVersion: string } {
  return {
    featureSetVersion: o.featureSet ?? loadCatalog().version,
    horizonDays: o.horizon, leadDays: o.lead, graceDays: o.grace, minTenureDays: o.minTenure, dataEnd: o.dataEnd, asOfs: o.dates,
    validDates: o.validDates, testDates: o.testDates, groupByAccount: o.groupByAccount, validShare: o.validShare, testShare: o.testShare, seed: o.seed,
  };
}

const day = (iso: string | undefined) => iso?.slice(0, 10) ?? '-';
const span = (xs: string[]) => (xs.length ? (xs.length === 1 ? day(xs[0]) : `${day(xs[0])} .. ${day(xs[xs.length - 1])}`) : 'none');

/** What a training set is made of, in lines: dates, data end, what was left out and why. */
export function describeTrainingSet(stats: TrainingSetStats, o: { horizonDays: number; leadDays: number; graceDays: number }): string[] {
  const lines = [
    `observation dates: ${stats.asOfs.length} (${span(stats.asOfs)}); data end ${stats.dataEnd ?? '-'} (${stats.dataEndFrom === 'option' ? '--data-end' : 'the latest evidence in the source data'})`,
    `split by ${stats.split === 'time' ? 'time (accounts on every side)' : 'time and account'}: train ${span(stats.trainAsOfs)}, validation ${span(stats.validAsOfs)}, test ${span(stats.testAsOfs)}`,
  ];
  if (stats.skippedAsOfs.length) {
    lines.push(`skipped ${stats.skippedAsOfs.length} observation dates (${span(stats.skippedAsOfs)}): lead + horizon + grace = ${o.leadDays + o.horizonDays + o.graceDays} days after them passes the data end, so their outcome is not known`);
  }
  if (stats.purgedAsOfs.length) {
    lines.push(`left out ${stats.purgedAsOfs.length} dates (${span(stats.purgedAsOfs)}, ${stats.purgedRows} rows): their ${o.leadDays + o.horizonDays}-day churn window runs into the next side's dates`);
  }
  if (stats.droppedCrossing) lines.push(`${stats.droppedCrossing} rows dropped to keep each account on one side`);
  if (stats.built.length) lines.push(`built snapshots for ${stats.built.length} missing or stale dates`);
  return lines;
}

export function registerDataset(program: Command): void {
  const dataset = program.command('dataset').description('training sets built from the database');
  withDatasetOptions(dataset
    .command('export')
    .description('write the database training set as a prepared table: id, label churned, features, split (train/valid/test, out of time); streamed, so memory stays flat')
    .requiredOption('--out <file>', 'CSV file to write'))
    .option('--seed <n>', 'seed of the account partition (with --group-by-account)', '42')
    .action(async (raw: Record<string, unknown>) => {
      const o = parseOptions(DatasetCliOptions.extend({ out: z.string().min(1, '--out FILE is required') }), raw);
      await assertWritable(o.out);
      await withDatabase(async ({ pool }) => {
        const options = trainingSetOptions(o);
        const r = await exportTrainingSet(pool, { ...options, buildSnapshots: snapshotBuilder(pool, options.featureSetVersion), progress: createProgress('training set') }, o.out);
        const pct = (n: number, d: number) => `${d ? ((n / d) * 100).toFixed(1) : '0.0'}%`;
        const sides = Object.entries(r.splits).map(([k, v]) => `${k} ${v.rows} rows (${pct(v.churned, v.rows)} churned)`);
        console.log(`wrote ${r.rows} rows x ${r.features} features to ${o.out}`);
        console.log(`feature set ${options.featureSetVersion}; ${r.stats.labelledRows} labelled rows, ${r.rows} used`);
        for (const line of describeTrainingSet(r.stats, { horizonDays: o.horizon, leadDays: o.lead, graceDays: o.grace })) console.log(line);
        console.log(`churn rate ${pct(r.churnRate, 1)} (horizon ${o.horizon}d, lead ${o.lead}d, grace ${o.grace}d)`);
        console.log(`split: ${sides.join(', ')}`);
        console.log(`fingerprint ${r.fingerprint}`);
      });
    });
}
