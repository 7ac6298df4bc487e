import { defaultAsOf } from '../../core/time.ts';
import type { Command } from 'commander';
import type { Pool } from '../../core/db.ts';
import { z } from 'zod';
import { createProgress } from '../../core/progress.ts';
import { catalogFromConfig, loadCatalog } from '../../features/catalog.ts';
import { configuredDefinitions, discoverFeaturesConfig, readFeaturesConfig } from '../../features/config.ts';
import fs from 'node:fs/promises';
import { buildSnapshots, rollupValid } from '../../features/materialize.ts';
import { checkEventRollupSample, refreshEventRollup, unmaintainedEventPartitions } from '../../features/rollup.ts';
import { parseOptions, withDatabase } from '../context.ts';
import { CliDateSchema, registerFeaturesDescribe } from './features-qa.ts';

const BuildOptions = z
  .object({
    asOf: CliDateSchema.optional(),
    grid: z.enum(['monthly']).optional(),
    from: CliDateSchema.optional(),
    to: CliDateSchema.optional(),
    workMem: z.string().regex(/^\d{1,6}(kB|MB|GB)$/, 'expected e.g. 256MB or 1GB').optional(),
    raw: z.boolean().optional(),
  })
  .superRefine((o, ctx) => {
    if (o.grid && (!o.from || !o.to)) ctx.addIssue({ code: 'custom', message: '--grid needs --from and --to', path: ['grid'] });
    if (!o.grid && (o.from || o.to)) ctx.addIssue({ code: 'custom', message: '--from and --to need --grid monthly', path: ['from'] });
    if (o.grid && o.asOf) ctx.addIssue({ code: 'custom', message: 'give either --as-of or --grid, not both', path: ['asOf'] });
    if (o.from && o.to && o.from > o.to) ctx.addIssue({ code: 'custom', message: '--from is after --to', path: ['from'] });
  });

const CHECK_SAMPLE = 200;

const ConfigOptions = z
  .object({
    discover: z.boolean().optional(),
    out: z.string().min(1).optional(),
    builtIn: z.boolean().default(true),
    topValues: z.coerce.number().int().min(1).max(30).optional(),
    check: z.string().min(1).optional(),
  })
  .superRefine((o, ctx) => {
    if (!o.discover === !o.check) ctx.addIssue({ code: 'custom', message: 'give --discover or --check FILE', path: ['discover'] });
    if (o.check && (o.out || o.topValues !== undefined || !o.builtIn)) ctx.addIssue({ code: 'custom', message: '--out, --top-values and --no-built-in go with --discover', path: ['check'] });
  });

const RollupOptions = z
  .object({ check: z.boolean().optional(), sample: z.coerce.number().int().min(0).max(1_000_000).optional() })
  .refine((o) => o.sample === undefined || o.check, { message: '--sample needs --check', path: ['sample'] });

/** `churn features rollup --check`: prints what it finds; true when all is well. */
async function checkRollup(pool: Pool, sample: number): Promise<boolean> {
  const valid = await rollupValid(pool);
  console.log(valid ? 'the event rollup is valid: builds at 00:00 UTC read it' : 'the event rollup is out of date: builds read the raw events; run `churn features rollup`');
  const bare = await unmaintainedEventPartitions(pool);
  if (bare.length) console.log(`event partitions without the rollup's triggers (created by hand or attached; writes straight into them would leave the rollup stale): ${bare.join(', ')}; run \`churn features rollup\``);
  if (!valid || sample === 0) return valid && !bare.length;
  const r = await checkEventRollupSample(pool, sample);
  if (r.differing.length) {
    const named = r.differing.slice(0, 20).join(', ') + (r.differing.length > 20 ? ` and ${r.differing.length - 20} more` : '');
    console.log(`the event rollup differs from a recomputation from the events for ${r.differing.length} of ${r.checked} sampled accounts: ${named}; run \`churn features rollup\``);
  } else {
    console.log(`${r.checked} sampled accounts recomputed from their events: equal to the stored rollup`);
  }
  return !bare.length && !r.differing.length;
}

/** Monthly observation dates from `from` to `to` inclusive (same day of month and time, UTC). */
export function monthlyGrid(from: Date, to: Date): Date[] {
  const out: Date[] = [];
  for (let k = 0; k < 1200; k++) {
    const d = new Date(from);
    d.setUTCMonth(from.getUTCMonth() + k);
    if (d > to) break;
    out.push(d);
  }
  return out;
}

export function registerFeatures(program: Command): Command {
  const features = program.command('features').description('point-in-time feature snapshots');
  features
    .command('build')
    .description('compute and store the features of every active account as of a date (default now), or for a monthly grid of dates')
    .option('--as-of <date>', 'observation date (YYYY-MM-DD = midnight UTC, or an ISO timestamp with a zone); default: the latest UTC midnight')
    .option('--grid <kind>', 'a grid of observation dates: monthly')
    .option('--from <date>', 'first date of the grid')
    .option('--to <date>', 'last date of the grid (inclusive)')
    .option('--work-mem <size>', 'PostgreSQL work_mem for the build (default 1GB)')
    .option('--raw', 'read the raw events even where the event rollup could serve (dates at 00:00 UTC)')
    .action(async (raw: Record<string, unknown>) => {
      const o = parseOptions(BuildOptions, raw);
      const asOfs = o.grid ? monthlyGrid(o.from!, o.to!) : [o.asOf ?? defaultAsOf()];
      const catalog = loadCatalog();
      await withDatabase(async ({ pool }) => {
        const r = await buildSnapshots(pool, catalog, asOfs, { workMem: o.workMem, events: o.raw ? 'raw' : 'auto', progress: createProgress('feature snapshots') });
        const span = asOfs.length === 1 ? `as of ${asOfs[0].toISOString()}` : `for ${asOfs.length} dates ${asOfs[0].toISOString()} .. ${asOfs[asOfs.length - 1].toISOString()}`;
        console.log(`wrote ${r.rows} snapshot rows ${span} in ${r.seconds.toFixed(2)} s; feature set ${r.version} (${catalog.features.length} features); events read from the ${r.events === 'rollup' ? 'event rollup' : 'raw events'}`);
      });
    });
  features
    .command('rollup')
    .description('recompute the event rollup from all events and turn its triggers back on (after attaching, detaching or dropping an event partition, or after an interrupted `churn generate`)')
    .option('--check', 'only check: whether the rollup is valid, whether every event partition keeps it current, and whether a sample of accounts recomputed from their events equals it (exit code 1 when not)')
    .option('--sample <n>', `with --check: how many random accounts to recompute and compare (default ${CHECK_SAMPLE}; 0 skips)`)
    .action(async (raw: Record<string, unknown>) => {
      const o = parseOptions(RollupOptions, raw);
      await withDatabase(async ({ pool }) => {
        if (o.check) {
          if (!(await checkRollup(pool, o.sample ?? CHECK_SAMPLE))) process.exitCode = 1;
          return;
        }
        console.log('recomputing the event rollup from all events (split by account across two connections; writers to source.events wait) ...');
        const r = await refreshEventRollup(pool);
        console.log(`event rollup: ${r.rows} rows in ${r.seconds.toFixed(2)} s; valid, and kept current by triggers on source.events and source.event_types`);
      });
    });
  features
    .command('config')
    .description('your own features (CHURN_FEATURES_CONFIG, docs/features.md): --discover writes a configuration for the event types and account attributes loaded; --check FILE validates one and lists the features it declares')
    .option('--discover', 'propose a configuration from the loaded data: every event type with events, every account attribute')
    .option('--out <file>', 'with --discover: write it to this file (default: standard output)')
    .option('--no-built-in', "with --discover: only the discovered features, without the product's own catalogue")
    .option('--top-values <n>', 'with --discover: flags for at most this many values of each category attribute (default 8)')
    .option('--check <file>', 'validate a configuration file and list the features it adds')
    .action(async (raw: Record<string, unknown>) => {
      const o = parseOptions(ConfigOptions, raw);
      if (o.check) {
        const config = readFeaturesConfig(o.check);
        const defs = configuredDefinitions(config);
        const catalog = catalogFromConfig(config); // every definition validated, dependencies checked
        console.log(`${o.check}: valid; feature set ${catalog.version} with ${catalog.names.length} features: ${config.builtIn ? `the built-in catalogue and ` : ''}${defs.length} of your own:`);
        for (const d of defs) console.log(`  ${d.name.padEnd(40)} ${d.kind}`);
        return;
      }
      await withDatabase(async ({ pool }) => {
        const config = await discoverFeaturesConfig(pool, { topValues: o.topValues, builtIn: o.builtIn });
        const text = `${JSON.stringify(config, null, 2)}\n`;
        if (o.out) {
          await fs.writeFile(o.out, text);
          console.error(`wrote ${o.out}: ${config.eventTypes.length} event types, ${config.attributes.length} account attributes, ${configuredDefinitions(config).length} features; set CHURN_FEATURES_CONFIG=${o.out} to use it (then rebuild features and retrain)`);
        } else {
          process.stdout.write(text);
        }
      });
    });
  registerFeaturesDescribe(features);
  return features;
}
