import { loadConfig } from '../../core/config.ts';
import fs from 'node:fs/promises';
import type { Command } from 'commander';
import { z } from 'zod';
import { assertWritable, parseOptions, withDatabase, writeAtomic } from '../context.ts';
import { ChurnError } from '../../core/errors.ts';
import { ID_LIKE_NAMES, nearestName } from '../../core/suggest.ts';
import { createProgress } from '../../core/progress.ts';
import { loadCatalog } from '../../features/catalog.ts';
import { defaultAsOf } from '../../core/time.ts';
import { buildScore } from '../../scoring/build-score.ts';
import { checkRows } from '../../scoring/validate.ts';
import { loadServingConfig, type ServingConfig } from '../../scoring/config.ts';
import { scoringModel, type ScoringModel } from '../../scoring/model.ts';
import { recordsFromCsv } from '../../training/csv-table.ts';
import { csvField } from '../../training/export.ts';
import { loadModel } from '../../training/registry/index.ts';
import { TopSchema } from '../../serving/schemas/common.ts';

const PredictOptions = z.object({
  fromCsv: z.string().min(1, '--from-csv FILE is required'),
  out: z.string().min(1, '--out FILE is required'),
  model: z.string().min(1).optional(),
  artifact: z.string().min(1).optional(),
  idCol: z.string().min(1),
  top: TopSchema,
}).refine((o) => !(o.model && o.artifact), { message: 'give either --model or --artifact, not both', path: ['model'] });

type PredictOptions = z.infer<typeof PredictOptions>;

async function readText(file: string): Promise<string> {
  return fs.readFile(file, 'utf8').catch((err: Error) => {
    throw new ChurnError('CHURN_ERR_BAD_FILE', `cannot read ${file}: ${err.message}`);
  });
}

/**
 * Scores every row of the CSV as the API scores an instance: each row checked against the model's
 * input contract (scoring/validate.ts: a cell that is not a number where one is needed, or a category
 * the model never saw, fails the whole file with every problem listed), then the same health, segment
 * tiers and drivers (scoring/build-score.ts; `segment` and `tenure_days` columns, when present, choose
 * the segment). Writes `id,churn_probability,health_score,tier,top_drivers` (all or nothing); other
 * columns (a label, a split) are ignored.
 */
export async function predictCsv(model: ScoringModel, o: PredictOptions, config: ServingConfig): Promise<number> {
  const { header, records } = recordsFromCsv(await readText(o.fromCsv), o.fromCsv);
  if (!header.includes(o.idCol)) {
    const idLike = header.find((c) => ID_LIKE_NAMES.includes(c)) ?? nearestName(o.idCol, header);
    throw new ChurnError('CHURN_ERR_BAD_FILE', `${o.fromCsv}: no id column "${o.idCol}"${idLike ? `; to take the ids from "${idLike}", add --id-col ${idLike}` : ''} (columns: ${header.join(', ')})`);
  }
  const have = new Set(header);
  const missing = model.featureNames.filter((f) => !have.has(f));
  if (missing.length) {
    // a column of the file that is no input may be the missing one misspelt
    const spare = header.filter((c) => !model.featureNames.includes(c));
    const named = missing.slice(0, 10).map((f) => {
      const near = nearestName(f, spare);
      return near ? `${f} (the file has "${near}")` : f;
    });
    throw new ChurnError('CHURN_ERR_BAD_FILE', `${o.fromCsv}: missing ${missing.length} feature column(s) the model needs: ${named.join(', ')}${missing.length > 10 ? ', ...' : ''}`);
  }
  const empty = records.findIndex((r) => r[o.idCol] === null);
  if (empty >= 0) throw new ChurnError('CHURN_ERR_BAD_FILE', `${o.fromCsv}: line ${empty + 2}: empty id`);
  // the inputs, the features training left out (`is_trial` says a row is a trial's) and the account's keys
  const keep = [...model.featureNames, ...model.contract.leftOut, 'segment', 'tenure_days'].filter((c) => have.has(c));
  const checked = checkRows(model, records.map((r) => Object.fromEntries([['id', r[o.idCol]], ...keep.map((c) => [c, r[c]])])), { text: true, where: (i, feature) => `${o.fromCsv}: line ${i + 2}${feature ? `, ${feature}` : ''}` });
  const asOf = defaultAsOf().toISOString();
  const lines = ['id,churn_probability,health_score,tier,top_drivers'];
  const bar = createProgress('predict');
  bar.start(records.length);
  checked.forEach((c, i) => {
    const id = c.id!;
    const s = buildScore({ model, config, accountId: id, asOf, row: c.row, top: o.top, segment: c.segment, status: c.status });
    const drivers = s.drivers.map((d) => `${d.feature}:${d.contribution >= 0 ? '+' : ''}${d.contribution.toFixed(2)}`).join(';');
    lines.push([csvField(id), s.churn_probability.toFixed(6), s.health_score, s.tier, csvField(drivers)].join(','));
    if (i % 1000 === 0) bar.update(i);
  });
  bar.update(records.length);
  bar.stop();
  await writeAtomic(o.out, lines.join('\n') + '\n');
  return records.length;
}

export function registerPredict(program: Command): void {
  program
    .command('predict')
    .description('score every row of a CSV: id, churn_probability, health_score, tier, top_drivers')
    .requiredOption('--from-csv <file>', 'CSV with an id column and the model\'s feature columns (blanks allowed)')
    .requiredOption('--out <file>', 'CSV file to write')
    .option('--model <version-or-alias>', 'registry version or alias (default: champion)')
    .option('--artifact <file>', 'a model artifact JSON (from churn train --save-artifact) instead of the registry')
    .option('--id-col <col>', 'id column', 'id')
    .option('--top <n>', 'drivers per row (1-1000, or all: every feature, as ?top=all in the API)', '3')
    .action(async (raw: Record<string, unknown>) => {
      const o = parseOptions(PredictOptions, raw);
      await assertWritable(o.out, { inputs: { '--from-csv': o.fromCsv, '--artifact': o.artifact } });
      let model: ScoringModel;
      let label: string;
      const catalog = loadCatalog();
      if (o.artifact) {
        const text = await readText(o.artifact);
        let json: unknown;
        try {
          json = JSON.parse(text);
        } catch {
          throw new ChurnError('CHURN_ERR_ARTIFACT_CORRUPT', `${o.artifact} is not JSON`);
        }
        model = scoringModel(json, { version: 0, catalog });
        label = o.artifact;
      } else {
        const loaded = await withDatabase(({ pool }) => loadModel(pool, o.model ?? 'champion'));
        model = scoringModel(loaded.artifact, { version: loaded.meta.version, catalog });
        label = `version ${loaded.meta.version}`;
      }
      // Health and tiers as the API gives them (CHURN_SERVING_CONFIG, else the documented defaults).
      const config = await loadServingConfig(loadConfig().CHURN_SERVING_CONFIG);
      const n = await predictCsv(model, o, config);
      console.log(`scored ${n} rows with ${model.modelType} model (${label}) -> ${o.out}`);
    });
}
