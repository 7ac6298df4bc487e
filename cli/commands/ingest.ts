import path from 'node:path';
import type { Command } from 'commander';
import { z } from 'zod';
import { createProgress } from '../../core/progress.ts';
import { FILE_FORMATS, ingestFile, SOURCE_TABLES } from '../../features/ingest/ingest.ts';
import { parseOptions, withDatabase } from '../context.ts';

const IngestArgs = z.object({
  table: z.string().min(1),
  file: z.string().min(1),
  format: z.enum(FILE_FORMATS).optional(),
});

function tablesHelp(): string {
  const lines = SOURCE_TABLES.map((t) => {
    const columns = t.columns.map((c) => (t.required.includes(c.name) ? `${c.name}*` : c.name)).join(', ');
    const own = t.attributes ? `; any other column: your own attribute (lower-case snake_case name, at most ${t.attributes.max}), also as JSON in a column ${t.attributes.column}` : '';
    return `  ${t.name.padEnd(17)} key (${t.key.join(', ')}): ${columns}${own}`;
  });
  return [
    '',
    'Tables (load parents first, in this order; * = required column):',
    ...lines,
    '',
    'CSV files have a header row; JSONL files hold one JSON object per line. Rows are upserted on the',
    'key: loading the same file again changes nothing. A bad file is rejected whole, with the line and',
    'column of each problem. Only accounts takes columns of your own (stored as text in',
    'source.accounts.attributes; blank cells are left out); other tables refuse unknown columns.',
  ].join('\n');
}

export function registerIngest(program: Command): void {
  program
    .command('ingest')
    .description('load a CSV or JSONL file into a source table; validated, all or nothing')
    .argument('<table>', `source table: ${SOURCE_TABLES.map((t) => t.name).join(', ')}`)
    .argument('<file>', 'the file (.csv, .jsonl or .ndjson)')
    .option('--format <format>', `file format (${FILE_FORMATS.join(' or ')}); default: from the extension`)
    .addHelpText('after', tablesHelp())
    .action(async (table: string, file: string, raw: { format?: string }) => {
      const args = parseOptions(IngestArgs, { table, file, format: raw.format });
      await withDatabase(async ({ pool }) => {
        const r = await ingestFile(pool, args.table, args.file, { format: args.format, progress: createProgress(`ingest ${args.table}`, { unit: 'bytes' }) });
        console.log(`${r.table}: ${r.rows} rows from ${path.basename(args.file)}: ${r.inserted} inserted, ${r.updated} updated, ${r.rows - r.inserted - r.updated} unchanged in ${r.seconds.toFixed(1)}s`);
        for (const note of r.notes) console.error(`note: ${note}`);
      });
    });
}
