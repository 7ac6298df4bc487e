import type { Command } from 'commander';
import { z } from 'zod';
import { parseOptions, withDatabase } from '../context.ts';
import { DurationSchema } from '../../features/labels.ts';
import { driftMeasured, runMonitor, type MonitoringResult } from '../../jobs/monitor/monitor.ts';
import { inSampleSentence } from '../../jobs/report/monitoring.ts';
import { driftNote } from '../../jobs/report/drift.ts';

const MonitorCliOptions = z.object({
  horizon: DurationSchema.refine((d) => d > 0, 'the horizon must be at least 1 day'),
  asOf: z.string().regex(/^\d{4}-\d{2}-\d{2}(T[\d:.]+Z?)?$/, 'expected YYYY-MM-DD or an ISO timestamp')
    .transform((s) => new Date(s.length === 10 ? `${s}T00:00:00Z` : s))
    .refine((d) => !Number.isNaN(d.getTime()), 'not a valid date').optional(),
  json: z.boolean(),
});

const f3 = (v: number | null) => (v === null ? 'n/a' : v.toFixed(3));
const pct = (v: number | null) => (v === null ? 'n/a' : `${(v * 100).toFixed(1)}%`);

function table(head: string[], rows: string[][]): string[] {
  const widths = head.map((h, j) => Math.max(h.length, ...rows.map((r) => r[j].length)));
  const line = (cells: string[]) => cells.map((c, j) => (j === 0 ? c.padEnd(widths[j]) : c.padStart(widths[j]))).join('  ');
  return [line(head), ...rows.map(line)];
}

/** The human-readable summary of a monitoring run. */
export function formatMonitoring(r: MonitoringResult): string {
  const out = [`monitoring run ${r.runId} as of ${r.asOf} (horizon ${r.horizonDays} days, outcomes known up to ${r.realised.dataEnd})`, '',
    "realised performance of stored scores (only scores after their model's training window)"];
  if (!r.realised.months.length) out.push('  no stored scores yet (run churn score)');
  else {
    out.push(...table(['month', 'scored', 'known', 'pending', 'not evaluated', 'predicted', 'actual', 'AUC', 'lift@10%', 'models'],
      r.realised.months.map((m) => [m.month, String(m.scored), String(m.labelled), String(m.pending), String(m.excluded), pct(m.meanPredicted), pct(m.churnRate),
        m.status === 'pending' ? 'pending' : f3(m.auc), m.lift10 === null ? 'n/a' : m.lift10.toFixed(2), m.modelVersions.map((v) => `v${v}`).join(',')])).map((l) => `  ${l}`));
  }
  const inSample = inSampleSentence(r.realised.inSample ?? []);
  if (inSample) out.push(`  ${inSample}`);
  out.push('', `drift of the champion's features${r.drift.modelVersion ? ` (v${r.drift.modelVersion})` : ''}`);
  if (!driftMeasured(r.drift)) out.push(`  ${r.drift.note ?? 'no features'}`);
  else {
    out.push(`  ${driftNote({ latestAsOf: r.drift.latestAsOf ?? '', referenceAsOf: r.drift.referenceAsOf ?? '', aligned: r.drift.aligned ?? false })}: ${r.alerts} alert(s), ${r.warnings} to watch`);
    const shown = [...r.drift.features].sort((a, b) => b.psi - a.psi).slice(0, 15);
    // the report's words: PSI 0.1 to 0.25 is "watch" (the stored and JSON status stays 'warn')
    out.push(...table(['feature', 'PSI', 'status'], shown.map((f) => [f.feature, f.psi.toFixed(3), f.status === 'warn' ? 'watch' : f.status])).map((l) => `  ${l}`));
    if (r.drift.features.length > shown.length) out.push(`  ... and ${r.drift.features.length - shown.length} more features (--json lists all)`);
  }
  return out.join('\n');
}

export function registerMonitor(program: Command): void {
  program
    .command('monitor')
    .description('compare stored scores with the churn that followed (realised AUC and lift per month) and compute feature drift; stores the run for /metrics')
    .option('--horizon <duration>', 'churn horizon: a score is judged on churn within this long after it', '30d')
    .option('--as-of <date>', 'monitoring time (default now): scores up to it, outcomes known by it')
    .option('--json', 'print the run as JSON', false)
    .action(async (raw: Record<string, unknown>) => {
      const o = parseOptions(MonitorCliOptions, raw);
      await withDatabase(async ({ pool }) => {
        const result = await runMonitor(pool, { now: o.asOf ?? new Date(), horizonDays: o.horizon });
        console.log(o.json ? JSON.stringify(result, null, 2) : formatMonitoring(result));
      });
    });
}
