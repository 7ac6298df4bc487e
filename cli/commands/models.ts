import type { Command } from 'commander';
import { z } from 'zod';
import { parseOptions, withDatabase } from '../context.ts';
import { mirrorAliasToMlflow } from '../../training/mlflow/index.ts';
import { loadCatalog } from '../../features/catalog.ts';
import { AliasName, describeModel, getModel, listModels, metricValue, parseVersionRef, promoteOrExplain, type ModelVersion } from '../../training/registry/index.ts';

const ListOptions = z.object({
  all: z.boolean().default(false),
  json: z.boolean().default(false),
  limit: z.coerce.number().int().min(1).max(100_000).default(50),
});

const ShowOptions = z.object({ json: z.boolean().default(false) });

const PromoteOptions = z.object({
  alias: AliasName,
  force: z.boolean().default(false),
  reason: z.string().trim().min(1).max(2000).optional(),
}).refine((o) => !o.force || o.reason, { message: '--force needs --reason TEXT (recorded in the alias history)', path: ['reason'] });

const fmt = (x: number | null) => (x === null ? '-' : x.toFixed(4));
const when = (iso: string) => iso.slice(0, 16).replace('T', ' ');

function table(rows: string[][]): string {
  const widths = rows[0].map((_, i) => Math.max(...rows.map((r) => r[i].length)));
  return rows.map((r) => r.map((c, i) => c.padEnd(widths[i])).join('  ').trimEnd()).join('\n');
}

function listRows(models: ModelVersion[]): string[][] {
  return [
    ['VERSION', 'TYPE', 'CREATED', 'AUC VALID', 'AUC TEST', 'FEATURE SET', 'ALIASES', 'STATUS'],
    ...models.map((m) => [String(m.version), m.modelType, when(m.createdAt), fmt(metricValue(m.metrics, 'auc', 'validation')), fmt(metricValue(m.metrics, 'auc', 'test')),
      m.featureSetVersion ? m.featureSetVersion.slice(0, 16) : m.dataSource, m.aliases.join(',') || '-', m.status]),
  ];
}

export function registerModels(program: Command): void {
  const models = program.command('models').description('the model registry: versions, metrics, lineage and aliases');

  models.command('list')
    .description('registered model versions, newest first')
    .option('--all', 'include failed training runs', false)
    .option('--json', 'print JSON instead of a table', false)
    .option('--limit <n>', 'at most this many versions', '50')
    .action(async (raw: unknown) => {
      const o = parseOptions(ListOptions, raw);
      await withDatabase(async ({ pool }) => {
        const list = await listModels(pool, { includeFailed: o.all, limit: o.limit });
        if (o.json) console.log(JSON.stringify(list, null, 2));
        else if (!list.length) console.log('no model versions registered yet (run `churn train`)');
        else console.log(table(listRows(list)));
      });
    });

  models.command('show')
    .description('one version: lineage, metrics, parameters and alias history')
    .argument('<version>', 'version number or alias (e.g. 7 or champion)')
    .option('--json', 'compact JSON on one line', false)
    .action(async (ref: string, raw: unknown) => {
      const o = parseOptions(ShowOptions, raw);
      parseVersionRef(ref);
      await withDatabase(async ({ pool }) => {
        const d = await describeModel(pool, ref);
        console.log(o.json ? JSON.stringify(d) : JSON.stringify(d, null, 2));
      });
    });

  models.command('promote')
    .description('point an alias at a version: refused when it was not trained on the current feature catalogue, or is worse than the current holder on the same rows (or cannot be compared), unless --force --reason')
    .argument('<version>', 'version number (or an alias whose version to use)')
    .requiredOption('--alias <alias>', 'alias to move, e.g. champion or challenger')
    .option('--force', 'move even when the rule refuses it (needs --reason)', false)
    .option('--reason <text>', 'why, recorded in the alias history (required with --force)')
    .action(async (ref: string, raw: unknown) => {
      const o = parseOptions(PromoteOptions, raw);
      parseVersionRef(ref);
      const actor = process.env.USER?.trim() || 'cli';
      await withDatabase(async ({ pool, config, log }) => {
        const r = await promoteOrExplain(pool, { ref, alias: o.alias, force: o.force, reason: o.reason, actor, catalogVersion: loadCatalog().version });
        const from = r.fromVersion === null ? 'nothing' : `version ${r.fromVersion}`;
        console.log(r.decision === 'already' ? `${o.alias} already points at version ${r.toVersion}` : `${o.alias}: ${from} -> version ${r.toVersion} (${r.reason})`);
        const mlflowVersion = (await getModel(pool, r.toVersion)).mlflow.modelVersion;
        if (config.MLFLOW_TRACKING_URI && mlflowVersion) {
          await mirrorAliasToMlflow(config.MLFLOW_TRACKING_URI, { alias: o.alias, mlflowModelVersion: mlflowVersion })
            .catch((err: unknown) => log.warn({ err: (err as Error).message }, `alias moved in PostgreSQL but not in MLflow`));
        }
      });
    });
}
