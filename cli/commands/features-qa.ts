import type { Command } from 'commander';
import { z } from 'zod';
import { InstantSchema } from '../../core/time.ts';
import { parseOptions, withDatabase } from '../context.ts';
import { DurationSchema } from '../../features/labels.ts';
import { describeSnapshot, type SnapshotDescription } from '../../features/qa.ts';

/** A date or zoned timestamp on the command line (`2026-03-01` is midnight UTC), a real calendar date, not in the future (core/time.ts). */
export const CliDateSchema = InstantSchema;

const DescribeOptions = z.object({
  asOf: CliDateSchema.optional(),
  json: z.boolean().default(false),
  featureSet: z.string().min(1).optional(),
  horizon: DurationSchema.refine((d) => d > 0, 'the horizon must be at least 1 day'),
  lead: DurationSchema,
  grace: DurationSchema,
  minTenure: DurationSchema,
  dataEnd: CliDateSchema.optional(),
});

function num(v: number | null): string {
  if (v === null) return '-';
  if (Number.isInteger(v)) return String(v);
  const a = Math.abs(v);
  return a !== 0 && (a >= 1e6 || a < 1e-3) ? v.toExponential(2) : String(Number(v.toPrecision(4)));
}

const pct = (v: number) => `${(v * 100).toFixed(1)}%`;

/** The snapshot description as a plain aligned text table with a header. */
export function formatDescription(d: SnapshotDescription): string {
  const head = ['feature', 'family', 'coverage', 'zeros', 'min', 'p25', 'median', 'p75', 'max', 'mean', 'std', 'distinct', 'auc', 'flags'];
  const rows = d.features.map((f) => [
    f.name, f.family ?? '', pct(f.coverage), pct(f.zeroShare), num(f.min), num(f.p25), num(f.median), num(f.p75), num(f.max), num(f.mean), num(f.std), String(f.distinct),
    f.auc === null ? '-' : f.auc.toFixed(3), f.flags.join(','),
  ]);
  const widths = head.map((h, k) => Math.max(h.length, ...rows.map((r) => r[k].length)));
  const numeric = new Set([2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12]);
  const line = (r: string[]) => r.map((c, k) => (numeric.has(k) ? c.padStart(widths[k]) : c.padEnd(widths[k]))).join('  ').trimEnd();
  const labels = d.labels ? `${d.labels.rows} labelled, churn rate ${pct(d.labels.churnRate)}` : 'labels unknown at this date (outcome window not over): no leak check';
  const flagged = d.features.filter((f) => f.flags.length);
  return [
    `feature set ${d.featureSetVersion} as of ${d.asOf}: ${d.rows} accounts, ${d.features.length} features; ${labels}`,
    '',
    line(head),
    line(widths.map((w) => '-'.repeat(w))),
    ...rows.map(line),
    '',
    flagged.length ? `flagged: ${flagged.map((f) => `${f.name} (${f.flags.join(', ')})`).join('; ')}` : 'flagged: none',
  ].join('\n');
}

/** `churn features describe`: coverage, nulls and distribution per feature, with QA flags. */
export function registerFeaturesDescribe(featuresCommand: Command): void {
  featuresCommand
    .command('describe')
    .description('coverage, nulls and distribution per feature for one snapshot; flags constant, mostly-null and leaking features')
    .option('--as-of <date>', 'snapshot time (default: the latest stored snapshot)')
    .option('--feature-set <version>', 'feature-set version (default: the one built last)')
    .option('--horizon <duration>', 'churn horizon for the leak check (e.g. 30d, 4w)', '30d')
    .option('--lead <duration>', 'lead time before the horizon starts', '0d')
    .option('--grace <duration>', 'gap after an end within which a new subscription is not churn', '14d')
    .option('--min-tenure <duration>', 'accounts younger than this at the snapshot are not labelled', '14d')
    .option('--data-end <date>', 'end of the data (default: the latest source timestamp)')
    .option('--json', 'print JSON instead of a table', false)
    .action(async (raw: Record<string, unknown>) => {
      const o = parseOptions(DescribeOptions, raw);
      await withDatabase(async ({ pool }) => {
        const d = await describeSnapshot(pool, {
          featureSetVersion: o.featureSet,
          asOf: o.asOf,
          horizonDays: o.horizon,
          leadDays: o.lead,
          graceDays: o.grace,
          minTenureDays: o.minTenure,
          dataEnd: o.dataEnd,
        });
        console.log(o.json ? JSON.stringify(d, null, 2) : formatDescription(d));
      });
    });
}
