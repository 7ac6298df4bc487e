import { loadConfig } from '../../core/config.ts';
import fs from 'node:fs/promises';
import path from 'node:path';
import type { Command } from 'commander';
import { z } from 'zod';
import { assertWritable, parseOptions, withDatabase } from '../context.ts';
import { ChurnError } from '../../core/errors.ts';
import { createProgress } from '../../core/progress.ts';
import { DurationSchema } from '../../features/labels.ts';
import { tableFromCsv } from '../../training/csv-table.ts';
import { headlineSentences } from '../../jobs/report/headline.ts';
import type { PreparedTable } from '../../training/table.ts';
import { loadServingConfig } from '../../scoring/config.ts';
import { buildModelReport, saveModelReport } from '../../jobs/report/job.ts';

const DateText = z.string().regex(/^\d{4}-\d{2}-\d{2}(T[\d:.]+Z?)?$/, 'expected YYYY-MM-DD or an ISO timestamp')
  .transform((s) => new Date(s.length === 10 ? `${s}T00:00:00Z` : s))
  .refine((d) => !Number.isNaN(d.getTime()), 'not a valid date');

const ReportCliOptions = z.object({
  model: z.string().min(1),
  out: z.string().min(1, '--out FILE.html is required').refine((f) => /\.html?$/i.test(f), '--out must name an .html file'),
  json: z.string().min(1).optional(),
  horizon: DurationSchema.refine((d) => d > 0, 'the horizon must be at least 1 day').optional(),
  asOf: DateText.optional(),
  fromCsv: z.string().min(1).optional(),
  label: z.string().min(1).optional(),
  idCol: z.string().min(1),
  splitCol: z.string().min(1),
  bootstrap: z.coerce.number().int().min(0).max(10_000),
}).refine((o) => !o.fromCsv || o.label, { message: '--label COL is required with --from-csv', path: ['label'] });

/** Writes through a temporary file, so a failed run never leaves half a report behind. */
async function writeAtomic(file: string, text: string): Promise<string> {
  const target = path.resolve(file);
  const tmp = `${target}.tmp-${process.pid}`;
  try {
    await fs.writeFile(tmp, text);
    await fs.rename(tmp, target);
  } catch (err) {
    await fs.rm(tmp, { force: true });
    throw new ChurnError('CHURN_ERR_BAD_FILE', `cannot write ${file}: ${(err as Error).message}`);
  }
  return target;
}

export function registerReport(program: Command): void {
  program
    .command('report')
    .description('the accuracy report of a model version for leadership: one self-contained HTML file (and its JSON twin), also stored for the API')
    .option('--model <version>', 'model version or alias', 'champion')
    .requiredOption('--out <file.html>', 'where to write the HTML report')
    .option('--json <file.json>', 'also write the JSON twin (every number in the report)')
    .option('--horizon <duration>', "churn horizon of the labels (default: the model's, else 30d)")
    .option('--as-of <date>', 'report time: cut-off of the realised performance of stored scores (default now)')
    .option('--from-csv <file>', 'a model trained on a prepared table: evaluate on this table (its valid/test rows)')
    .option('--label <col>', 'label column of the prepared table (1 = churned)')
    .option('--id-col <col>', 'id column of the prepared table', 'id')
    .option('--split-col <col>', 'split column of the prepared table', 'split')
    .option('--bootstrap <n>', 'bootstrap resamples for the confidence intervals (0: none)', '200')
    .action(async (raw: Record<string, unknown>) => {
      const o = parseOptions(ReportCliOptions, raw);
      for (const file of [o.out, o.json]) if (file) await assertWritable(file);
      const servingConfig = await loadServingConfig(loadConfig().CHURN_SERVING_CONFIG);
      let table: PreparedTable | undefined;
      if (o.fromCsv) {
        const file = o.fromCsv;
        const text = await fs.readFile(file, 'utf8').catch((err: Error) => {
          throw new ChurnError('CHURN_ERR_BAD_FILE', `cannot read ${file}: ${err.message}`);
        });
        table = tableFromCsv(text, file, { label: o.label!, idCol: o.idCol, splitCol: o.splitCol });
      }
      await withDatabase(async ({ pool }) => {
        const report = await buildModelReport(pool, {
          model: o.model, now: o.asOf ?? new Date(), servingConfig, horizonDays: o.horizon, table, bootstrap: o.bootstrap,
          progress: createProgress('evaluation rows'),
        });
        await saveModelReport(pool, report.version, report.html, report.json);
        const htmlPath = await writeAtomic(o.out, report.html);
        const jsonPath = o.json ? await writeAtomic(o.json, report.json) : null;
        console.log(`model v${report.version}: ${report.data.model.evaluatedOn}`);
        for (const s of headlineSentences(report.data)) console.log(`  ${s}`);
        for (const w of report.data.warnings) console.log(`  warning: ${w}`);
        console.log(`report written to ${htmlPath}${jsonPath ? ` (JSON: ${jsonPath})` : ''}; stored for /v1/reports/${report.version}`);
      });
    });
}
