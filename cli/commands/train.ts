import { loadConfig } from '../../core/config.ts';
import fs from 'node:fs/promises';
import type { Command } from 'commander';
import { z } from 'zod';
import { parseOptions, withDatabase } from '../context.ts';
import type { Pool } from '../../core/db.ts';
import { ChurnError } from '../../core/errors.ts';
import { createProgress } from '../../core/progress.ts';
import { loadCatalog } from '../../features/catalog.ts';
import { catalogueDeclarations, describeCatalogueMatch, readCsvTable } from '../../training/csv-table.ts';
import { DatasetCliOptions, describeTrainingSet, trainingSetOptions, withDatasetOptions } from './dataset.ts';
import { datasetRecordOf } from '../../training/dataset.ts';
import { trainingSummary } from '../../training/summary.ts';
import type { PreparedTable } from '../../training/table.ts';
import type { TrainOptions, TrainResult } from '../../training/train.ts';

/** training/ loads TensorFlow.js (a second or more): imported when a command trains, not for `churn --help`. */
const training = async () => ({ ...(await import('../../training/run.ts')), ...(await import('../../training/train.ts')) });

/** The candidate model types (training/train.ts MODEL_TYPES, repeated so that `churn --help` does not load TensorFlow.js). */
const CLI_MODEL_TYPES = ['logistic', 'gbdt', 'mlp'] as const;

const Models = z.string().transform((s, ctx) => {
  const list = s.split(',').map((m) => m.trim()).filter(Boolean);
  const bad = list.filter((m) => !CLI_MODEL_TYPES.includes(m as never));
  if (!list.length || bad.length) {
    ctx.addIssue({ code: 'custom', message: `--models takes a comma-separated list of ${CLI_MODEL_TYPES.join(', ')}, got "${s}"` });
    return z.NEVER;
  }
  return [...new Set(list)] as (typeof CLI_MODEL_TYPES)[number][];
});

const TrainCliOptions = DatasetCliOptions.extend({
  fromCsv: z.string().min(1).optional(),
  label: z.string().min(1).optional(),
  idCol: z.string().min(1),
  splitCol: z.string().min(1).optional(),
  models: Models,
  epochs: z.coerce.number().int().min(1).max(10_000).optional(),
  classWeight: z.enum(['auto', 'balanced', 'none']),
  saveArtifact: z.string().min(1).optional(),
  register: z.boolean(),
  refit: z.boolean(),
  declarations: z.boolean(),
}).refine((o) => !o.fromCsv || o.label, { message: '--label COL is required with --from-csv', path: ['label'] });

type TrainCliOptions = z.infer<typeof TrainCliOptions>;

/**
 * A prepared table with the feature catalogue's declarations on the columns named as its features (a
 * `churn dataset export` file trains as the database would), said in one line; `apply` false (the
 * --no-declarations flag) keeps the file as it is.
 */
function withDeclarations(table: PreparedTable, apply: boolean): PreparedTable {
  if (!apply) return table;
  const { table: declared, match } = catalogueDeclarations(table, loadCatalog());
  if (match.matched > 0) {
    console.error(`${describeCatalogueMatch(match, table.columns.length)}; --no-declarations leaves them out`);
  }
  return declared;
}

function trainOptions(o: TrainCliOptions): TrainOptions {
  return {
    seed: o.seed, modelTypes: o.models, epochs: o.epochs, classWeight: o.classWeight, refit: o.refit, log: (m: string) => console.error(m),
    progress: (label) => createProgress(label), backend: loadConfig().CHURN_TF_BACKEND,
  };
}

/**
 * Which figures are held out: the validation rows served early stopping, the model choice and
 * calibration. Without test figures it says why (no test rows, or test rows of one class) and what
 * gives them: `remedy` names it for the table's source (a split column, or --test-dates).
 */
function honesty(r: TrainResult, table: PreparedTable, remedy: (why: 'none' | 'one_class') => string): string[] {
  const about = r.metrics.cv
    ? 'the validation figures are on the rows used for early stopping, the cv figures out of fold over the rows the model was fitted on (where it was chosen and calibrated)'
    : 'the validation figures are on the rows used for early stopping, the model choice and calibration';
  if (r.metrics.test) return [`  held out the test figures are on ${r.rows.test} rows no training step saw; ${about}`];
  if (r.rows.test === 0) return [`  held out none: no test rows, so there are no test figures; ${about}; ${remedy('none')}`];
  const churners = r.splits.test.reduce((s, i) => s + table.label[i], 0);
  const oneClass = churners ? 'are all churners' : 'are all retained (no churner)';
  return [`  held out none: the ${r.rows.test} test rows ${oneClass}, so there are no test figures (an AUC needs both classes); ${about}; ${remedy('one_class')}`];
}

/** What gives test figures on the database path. */
const databaseRemedy = (why: 'none' | 'one_class') => (why === 'none' ? 'hold out the latest observation dates with --test-dates N' : 'hold out more observation dates with --test-dates N');

/** What gives test figures on a prepared table: rows of both classes marked `test` in its split column. */
function csvRemedy(splitColumn: string | null): (why: 'none' | 'one_class') => string {
  return () => (splitColumn
    ? `mark rows of both classes (churned and retained) \`test\` in the split column "${splitColumn}"`
    : 'add a column "split" that marks rows of both classes (churned and retained) `test`');
}

/** Trains (recording a failure in the registry), registers, promotes when not worse; prints the summary. */
async function trainAndReport(pool: Pool | null, table: PreparedTable, o: TrainCliOptions, remedy: (why: 'none' | 'one_class') => string, mlflowUri?: string, dataset?: Record<string, unknown>, dataLines: string[] = []): Promise<void> {
  const extra: string[] = dataLines.map((l) => `  data      ${l}`);
  const save = async (r: TrainResult) => {
    if (!o.saveArtifact) return;
    await fs.writeFile(o.saveArtifact, JSON.stringify(r.artifact));
    extra.push(`  artifact  written to ${o.saveArtifact}`);
  };
  const { trainAndRegister, trainModel } = await training();
  if (!pool) {
    const result = await trainModel(table, trainOptions(o));
    await save(result);
    console.log(trainingSummary(result, [...extra, ...honesty(result, table, remedy), '  registry  not registered (--no-register)']));
    return;
  }
  const { result, registered, mlflow } = await trainAndRegister(pool, table, {
    train: trainOptions(o), actor: 'churn train', catalogVersion: loadCatalog().version, dataset, mlflowUri, log: (m) => console.error(m),
  });
  await save(result);
  extra.push(`  registry  version ${registered.version.version}; champion: ${registered.promotion.decision} (${registered.promotion.reason})`);
  if (mlflowUri) extra.push(`  mlflow    ${mlflow ? `run ${mlflow.runId}` : 'not logged (see the registry entry for the error)'}`);
  console.log(trainingSummary(result, [...extra, ...honesty(result, table, remedy)]));
  console.log(`version ${registered.version.version}`);
}

export function registerTrain(program: Command): void {
  withDatasetOptions(program
    .command('train')
    .description('build the training set (database, or --from-csv a prepared table), train, evaluate on held-out rows, register a version')
    .option('--from-csv <file>', 'train on a prepared table instead of the database')
    .option('--label <col>', 'label column of the prepared table (1 = churned)')
    .option('--id-col <col>', 'id column of the prepared table', 'id')
    .option('--split-col <col>', 'split column (train, valid, test); test rows are held out for evaluation (default: split, when the file has it; a named one must exist)'))
    .option('--seed <n>', 'seed: the same seed gives the same model, metrics and account partition', '42')
    .option('--models <list>', 'candidate models (logistic, gbdt: gradient-boosted trees, mlp), chosen on validation AUC', 'logistic,gbdt,mlp')
    .option('--epochs <n>', 'cap on passes over the training rows (early stopping, counted in optimiser steps, usually ends sooner)')
    .option('--class-weight <mode>', 'none (calibration handles imbalance), balanced, or auto (balanced when churners < 20%)', 'none')
    .option('--no-refit', 'keep the chosen model as fitted on the train rows (default: refit its settings on train + validation rows)')
    .option('--save-artifact <file>', 'also write the model artifact as JSON (for churn predict --artifact)')
    .option('--no-register', 'prepared-table path: do not touch the database registry')
    .option('--no-declarations', 'prepared-table path: ignore the feature catalogue\'s risk directions and meanings of missing values for columns named as its features')
    .action(async (raw: Record<string, unknown>) => {
      const o = parseOptions(TrainCliOptions, raw);
      if (o.fromCsv) {
        const file = o.fromCsv;
        const text = await fs.readFile(file, 'utf8').catch((err: Error) => {
          throw new ChurnError('CHURN_ERR_BAD_FILE', `cannot read ${file}: ${err.message}`);
        });
        const read = readCsvTable(text, file, { label: o.label!, idCol: o.idCol, splitCol: o.splitCol });
        for (const note of read.notes) console.error(`note: ${note}`);
        const table = withDeclarations(read.table, o.declarations);
        const remedy = csvRemedy(read.splitColumn);
        if (!o.register) return trainAndReport(null, table, o, remedy);
        return withDatabase(({ pool, config }) => trainAndReport(pool, table, o, remedy, config.MLFLOW_TRACKING_URI));
      }
      if (!o.register) throw new ChurnError('CHURN_ERR_VALIDATION', '--no-register applies to --from-csv only');
      if (!o.declarations) throw new ChurnError('CHURN_ERR_VALIDATION', '--no-declarations applies to --from-csv only');
      await withDatabase(async ({ pool, config }) => {
        const options = trainingSetOptions(o);
        const { databaseTrainingSet } = await training();
        const { table, stats } = await databaseTrainingSet(pool, loadCatalog(), {
          ...options, progress: createProgress('training set'), snapshotProgress: createProgress('feature snapshots'),
        });
        const lines = [`${stats.labelledRows} labelled rows, ${table.ids.length} used`, ...describeTrainingSet(stats, { horizonDays: o.horizon, leadDays: o.lead, graceDays: o.grace })];
        await trainAndReport(pool, table, o, databaseRemedy, config.MLFLOW_TRACKING_URI, datasetRecordOf(table), lines);
      });
    });
}
