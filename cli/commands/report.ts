import { loadConfig } from '../../core/config.ts';
import fs from 'node:fs/promises';
import type { Command } from 'commander';
import { z } from 'zod';
import { assertWritable, parseOptions, withDatabase, writeAtomic } from '../context.ts';
import { ChurnError } from '../../core/errors.ts';
import { createProgress } from '../../core/progress.ts';
import { DurationSchema } from '../../features/labels.ts';
import { tableFromCsv } from '../../training/csv-table.ts';
import { headlineSentences } from '../../jobs/report/headline.ts';
import type { PreparedTable } from '../../training/table.ts';
import { loadServingConfig } from '../../scoring/config.ts';
import { buildModelReport, saveModelReport } from '../../jobs/report/job.ts';
import { createReportLink, DEFAULT_LINK_DAYS, MAX_LINK_DAYS, revokeReportLinks, type ReportTarget } from '../../jobs/report/link.ts';
import { getModel } from '../../training/registry/index.ts';
import type { Config } from '../../core/config.ts';
import type { Pool } from '../../core/db.ts';

const DateText = z.string().regex(/^\d{4}-\d{2}-\d{2}(T[\d:.]+Z?)?$/, 'expected YYYY-MM-DD or an ISO timestamp')
  .transform((s) => new Date(s.length === 10 ? `${s}T00:00:00Z` : s))
  .refine((d) => !Number.isNaN(d.getTime()), 'not a valid date');

const ReportCliOptions = z.object({
  model: z.string().min(1),
  out: z.string().min(1).refine((f) => /\.html?$/i.test(f), '--out must name an .html file').optional(),
  link: z.boolean().default(false),
  expires: DurationSchema.refine((d) => d >= 1 && d <= MAX_LINK_DAYS, `a link lasts from 1 to ${MAX_LINK_DAYS} days`).default(DEFAULT_LINK_DAYS),
  baseUrl: z.string().url('--base-url must be a URL such as https://churn.example.com').refine((u) => /^https?:\/\//.test(u), '--base-url must be http(s)').optional(),
  revokeLinks: z.boolean().default(false),
  json: z.string().min(1).optional(),
  horizon: DurationSchema.refine((d) => d > 0, 'the horizon must be at least 1 day').optional(),
  asOf: DateText.optional(),
  fromCsv: z.string().min(1).optional(),
  label: z.string().min(1).optional(),
  idCol: z.string().min(1),
  splitCol: z.string().min(1).optional(),
  bootstrap: z.coerce.number().int().min(0).max(10_000),
}).refine((o) => !o.fromCsv || o.label, { message: '--label COL is required with --from-csv', path: ['label'] })
  .refine((o) => o.out || o.link || o.revokeLinks, { message: '--out FILE.html is required (or --link for a fresh link to the stored report)', path: ['out'] });

/** The server's address as printed links use it: --base-url, else http://HOST:PORT (a wildcard host as 127.0.0.1). */
function baseUrlOf(config: Config, given?: string): string {
  if (given) return given;
  const host = ['0.0.0.0', '::', ''].includes(config.HOST) ? '127.0.0.1' : config.HOST;
  return `http://${host.includes(':') ? `[${host}]` : host}:${config.PORT}`;
}

/** What a link to --model opens: the champion's report follows the champion ('latest'); anything else is one version. */
async function linkTarget(pool: Pool, model: string): Promise<ReportTarget> {
  return model === 'champion' ? 'latest' : (await getModel(pool, model)).version;
}

/** Prints a fresh signed link to the report (it opens in a browser, no API key, until it expires). */
async function printLink(pool: Pool, config: Config, target: ReportTarget, days: number, baseUrl?: string): Promise<void> {
  const link = await createReportLink(pool, { target, now: new Date(), days, baseUrl: baseUrlOf(config, baseUrl) });
  console.log(`link (opens in a browser until ${link.expiresAt.toISOString()}): ${link.url}`);
}

export function registerReport(program: Command): void {
  program
    .command('report')
    .description('the accuracy report of a model version for leadership: one self-contained HTML file (and its JSON twin), also stored for the API')
    .option('--model <version>', 'model version or alias', 'champion')
    .option('--out <file.html>', 'where to write the HTML report (required unless --link or --revoke-links)')
    .option('--json <file.json>', 'also write the JSON twin (every number in the report)')
    .option('--horizon <duration>', "churn horizon of the labels (default: the model's, else 30d)")
    .option('--as-of <date>', 'report time: cut-off of the realised performance of stored scores (default now)')
    .option('--from-csv <file>', 'a model trained on a prepared table: evaluate on this table (its valid/test rows)')
    .option('--label <col>', 'label column of the prepared table (1 = churned)')
    .option('--id-col <col>', 'id column of the prepared table', 'id')
    .option('--split-col <col>', 'split column of the prepared table (default: split, when the file has it; a named one must exist)')
    .option('--bootstrap <n>', 'bootstrap resamples for the confidence intervals (0: none)', '200')
    .option('--link', 'print a signed link that opens the stored report in a browser without an API key (alone: no rebuild)')
    .option('--expires <duration>', `how long a printed link works, e.g. 7d or 2w (default ${DEFAULT_LINK_DAYS}d, at most ${MAX_LINK_DAYS}d)`)
    .option('--base-url <url>', "the server's address in printed links (default http://HOST:PORT)")
    .option('--revoke-links', 'invalidate every report link issued so far (a new signing secret)')
    .action(async (raw: Record<string, unknown>) => {
      const o = parseOptions(ReportCliOptions, raw);
      const config = loadConfig();
      if (!o.out) {
        await withDatabase(async ({ pool }) => {
          if (o.revokeLinks) {
            await revokeReportLinks(pool);
            console.log('every report link issued so far is revoked (a running server refuses them within 30 s)');
          }
          if (o.link) await printLink(pool, config, await linkTarget(pool, o.model), o.expires, o.baseUrl);
        });
        return;
      }
      const out = o.out;
      await assertWritable(out, { inputs: { '--from-csv': o.fromCsv } });
      if (o.json) await assertWritable(o.json, { flag: '--json', inputs: { '--from-csv': o.fromCsv, '--out': out } });
      const servingConfig = await loadServingConfig(config.CHURN_SERVING_CONFIG);
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
        const htmlPath = await writeAtomic(out, report.html);
        const jsonPath = o.json ? await writeAtomic(o.json, report.json) : null;
        console.log(`model v${report.version}: ${report.data.model.evaluatedOn}`);
        for (const s of headlineSentences(report.data)) console.log(`  ${s}`);
        for (const w of report.data.warnings) console.log(`  warning: ${w}`);
        console.log(`report written to ${htmlPath}${jsonPath ? ` (JSON: ${jsonPath})` : ''}; stored for /v1/reports/${report.version}`);
        if (o.revokeLinks) await revokeReportLinks(pool);
        await printLink(pool, config, o.model === 'champion' ? 'latest' : report.version, o.expires, o.baseUrl);
      });
    });
}
