import type { Command } from 'commander';
import { z } from 'zod';
import { assertWritable, parseOptions, withDatabase } from '../context.ts';
import { CliDateSchema } from './features-qa.ts';
import { createProgress } from '../../core/progress.ts';
import type { Pool } from '../../core/db.ts';
import { loadCatalog } from '../../features/catalog.ts';
import { buildSnapshots } from '../../features/materialize.ts';
import { DurationSchema } from '../../features/labels.ts';
import { buildTrainingSet, summarizeTable, trainingFingerprint } from '../../training/dataset.ts';
import { writePreparedCsv } from '../../training/export.ts';

const DatesSchema = z.string().transform((s, ctx): Date[] | 'monthly' | undefined => {
  if (s === 'stored') return undefined;
  if (s === 'monthly') return 'monthly';
  const out: Date[] = [];
  for (const part of s.split(',').map((p) => p.trim()).filter(Boolean)) {
    const r = CliDateSchema.safeParse(part);
    if (!r.success) {
      ctx.addIssue({ code: 'custom', message: `invalid observation date "${part}" (expected stored, monthly, or YYYY-MM-DD,YYYY-MM-DD,...)` });
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

const ExportOptions = z.object({
  out: z.string().min(1, '--out FILE is required'),
  horizon: DurationSchema.refine((d) => d > 0, 'the horizon must be at least 1 day'),
  lead: DurationSchema,
  grace: DurationSchema,
  minTenure: DurationSchema,
  dates: DatesSchema,
  validDates: z.coerce.number().int().min(0),
  validShare: z.coerce.number().gt(0).lt(1),
  testDates: z.coerce.number().int().min(0),
  testShare: z.coerce.number().gt(0).lt(1),
  seed: z.coerce.number().int(),
  featureSet: z.string().min(1).optional(),
  dataEnd: CliDateSchema.optional(),
});

/** The feature set to train on: the one given, else the current catalogue's. */
function defaultFeatureSet(): string {
  return loadCatalog().version;
}

/** Builds the snapshots of missing dates with the current catalogue (only when training on its version). */
function snapshotBuilder(pool: Pool, version: string): ((asOfs: Date[]) => Promise<unknown>) | undefined {
  const catalog = loadCatalog();
  if (catalog.version !== version) return undefined;
  return (asOfs) => buildSnapshots(pool, catalog, asOfs, { progress: createProgress('feature snapshots') });
}

export function registerDataset(program: Command): void {
  const dataset = program.command('dataset').description('training sets built from the database');
  dataset
    .command('export')
    .description('write the database training set as a prepared table: id, label churned, features, split (train/valid, out of time)')
    .requiredOption('--out <file>', 'CSV file to write')
    .option('--horizon <duration>', 'churn within this long after the observation date (e.g. 30d, 4w)', '30d')
    .option('--lead <duration>', 'lead time between the observation date and the horizon', '0d')
    .option('--grace <duration>', 'a new subscription within this gap after an end is not churn', '14d')
    .option('--min-tenure <duration>', 'accounts younger than this at the observation date are left out', '14d')
    .option('--dates <list>', 'observation dates: stored (the stored snapshot dates), monthly, or YYYY-MM-DD,YYYY-MM-DD,...', 'stored')
    .option('--valid-dates <n>', 'how many of the latest observation dates form the validation side (0: no split)', '2')
    .option('--valid-share <share>', 'share of accounts on the validation side', '0.3')
    .option('--test-dates <n>', 'how many of the very latest observation dates form a held-out test side', '0')
    .option('--test-share <share>', 'share of accounts on the test side (with --test-dates)', '0.2')
    .option('--seed <n>', 'seed of the account partition', '42')
    .option('--feature-set <version>', "feature-set version (default: the current catalogue's)")
    .option('--data-end <date>', 'end of the data (default: the latest source timestamp)')
    .action(async (raw: Record<string, unknown>) => {
      const o = parseOptions(ExportOptions, raw);
      await assertWritable(o.out);
      await withDatabase(async ({ pool }) => {
        const featureSetVersion = o.featureSet ?? defaultFeatureSet();
        const { table, stats } = await buildTrainingSet(pool, {
          featureSetVersion,
          horizonDays: o.horizon,
          leadDays: o.lead,
          graceDays: o.grace,
          minTenureDays: o.minTenure,
          dataEnd: o.dataEnd,
          asOfs: o.dates,
          validDates: o.validDates,
          validShare: o.validShare,
          testDates: o.testDates,
          testShare: o.testShare,
          seed: o.seed,
          buildSnapshots: snapshotBuilder(pool, featureSetVersion),
          progress: createProgress('training set'),
        });
        await writePreparedCsv(table, o.out);
        const s = summarizeTable(table);
        const pct = (n: number, d: number) => `${d ? ((n / d) * 100).toFixed(1) : '0.0'}%`;
        const sides = Object.entries(s.splits).map(([k, v]) => `${k} ${v.rows} rows (${pct(v.churned, v.rows)} churned)`);
        console.log(`wrote ${s.rows} rows x ${table.columns.length} features to ${o.out}`);
        console.log(`feature set ${featureSetVersion}; ${stats.asOfs.length} observation dates ${stats.asOfs[0]?.slice(0, 10)} .. ${stats.asOfs[stats.asOfs.length - 1]?.slice(0, 10)}; data end ${stats.dataEnd ?? '-'}`);
        console.log(`churn rate ${pct(s.churnRate, 1)} (horizon ${o.horizon}d, lead ${o.lead}d, grace ${o.grace}d)`);
        console.log(`split: ${sides.join(', ')}; ${stats.droppedCrossing} rows dropped to keep each account on one side`);
        if (stats.built.length) console.log(`built snapshots for ${stats.built.length} missing or stale dates`);
        console.log(`fingerprint ${trainingFingerprint(table)}`);
      });
    });
}
