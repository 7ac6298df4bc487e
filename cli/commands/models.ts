import type { Command } from 'commander';
import fs from 'node:fs/promises';
import { z } from 'zod';
import { ChurnError } from '../../core/errors.ts';
import { importXgboostModel } from '../../training/import-xgboost.ts';
import { parseOptions, withDatabase } from '../context.ts';
import { mirrorAliasToMlflow } from '../../training/mlflow/index.ts';
import { loadCatalog } from '../../features/catalog.ts';
import { describeSettings, parseArtifact } from '../../training/artifact.ts';
import { modelContract, type InputContract } from '../../training/contract.ts';
import { AliasName, describeModel, getModel, listModels, loadModel, metricValue, parseVersionRef, promoteOrExplain, type ModelDetails, type ModelVersion } from '../../training/registry/index.ts';

const ListOptions = z.object({
  all: z.boolean().default(false),
  json: z.boolean().default(false),
  limit: z.coerce.number().int().min(1).max(100_000).default(50),
});

const ShowOptions = z.object({ json: z.boolean().default(false) });

const PromoteOptions = z.object({
  alias: AliasName,
  force: z.boolean().default(false),
  // a blank reason is no reason: --force without one is refused once, below
  reason: z.string().trim().max(2000, 'a reason is at most 2000 characters').optional().transform((r) => r || undefined),
}).refine((o) => !o.force || o.reason, { message: '--force needs --reason TEXT (recorded in the alias history)', path: ['reason'] });

const ImportOptions = z.object({
  xgboost: z.string().min(1, '--xgboost FILE is required'),
  featureNames: z.string().optional().transform((s) => s?.split(',').map((n) => n.trim()).filter(Boolean)),
  categories: z.string().min(1).optional(),
  baseRate: z.coerce.number().gt(0).lt(1).optional(),
  featureSet: z.enum(['auto', 'none']).default('auto'),
});

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

const num = (x: number) => (Number.isInteger(x) ? String(x) : Math.abs(x) >= 100 ? x.toFixed(0) : x.toPrecision(3));

/** `churn models show` as people read it: what the model is, how good, what it takes, where its aliases went. */
export function formatModel(d: ModelDetails, contract: InputContract | null, settings: string | null = null): string {
  const m = d.metricsSummary;
  const metric = (split: string) => (m[`${split}.auc`] === undefined ? null
    : `${split.padEnd(10)} AUC ${m[`${split}.auc`].toFixed(3)}${m[`${split}.prAuc`] !== undefined ? `, PR AUC ${m[`${split}.prAuc`].toFixed(3)}` : ''}${m[`${split}.lift10`] !== undefined ? `, lift@10% ${m[`${split}.lift10`].toFixed(2)}` : ''}${m[`${split}.brier`] !== undefined ? `, Brier ${m[`${split}.brier`].toFixed(4)}` : ''}`);
  const lines = [
    `version    ${d.version}  ${d.modelType}  ${d.status}${d.aliases.length ? `  aliases: ${d.aliases.join(', ')}` : ''}`,
    ...(settings ? [`model      ${settings}`] : []),
    `created    ${when(d.createdAt)}  code ${d.lineage.gitRevision.slice(0, 12)}`,
    `data       ${d.lineage.dataSource}${d.lineage.featureSetVersion ? `, feature set ${d.lineage.featureSetVersion}` : ''}${d.lineage.trainingWindow ? `, observations ${d.lineage.trainingWindow.from.slice(0, 10)} .. ${d.lineage.trainingWindow.to.slice(0, 10)}` : ''}, fingerprint ${d.lineage.dataFingerprint.slice(0, 12)}`,
    ...['test', 'validation'].map(metric).filter((l): l is string => l !== null).map((l) => `metrics    ${l}`),
  ];
  if (d.error) lines.push(`error      ${d.error}`);
  const warnings = Array.isArray(d.params.warnings) ? d.params.warnings.filter((w): w is string => typeof w === 'string') : [];
  for (const w of warnings) lines.push(`warning    ${w}`);
  if (contract) {
    const directed = contract.features.filter((f) => f.risk).length;
    lines.push(`inputs     ${contract.features.length} features (${directed} with a declared risk direction)${contract.account_segments ? `; account segments ${contract.account_segments.join(', ')}` : ''}`);
    if (contract.left_out?.length) lines.push(`left out   ${contract.left_out.join(', ')} (one value or nearly always missing in training: accepted in rows, not scored)`);
    const byFamily = new Map<string, string[]>();
    for (const f of contract.features) {
      const what = f.type === 'categorical' ? `{${(f.categories ?? []).slice(0, 6).join(', ')}${(f.categories?.length ?? 0) > 6 ? ', ...' : ''}}`
        : f.range ? `${num(f.range.min)}..${num(f.range.max)}` : 'numeric';
      const risk = f.risk === 'increasing' ? ' risk+' : f.risk === 'decreasing' ? ' risk-' : '';
      const missingAs = f.missing_as ? ` null=${f.missing_as === 'lowest' ? 'min' : 'max'}` : '';
      byFamily.set(f.family, [...(byFamily.get(f.family) ?? []), `${f.name} ${what}${risk}${missingAs}`]);
    }
    for (const [family, items] of byFamily) lines.push(`  ${family.padEnd(11)} ${items.join('; ')}`);
    lines.push('           (risk+: risk rises with the value, risk-: falls; null=min, null=max: a missing value scores as the lowest or');
    lines.push('           highest value seen in training; the model keeps to them)');
  }
  for (const a of d.aliasHistory.slice(0, 10)) {
    lines.push(`alias      ${when(a.movedAt)} ${a.alias}: ${a.fromVersion === null ? 'unset' : `v${a.fromVersion}`} -> v${a.toVersion} by ${a.movedBy}${a.reason ? ` (${a.reason})` : ''}`);
  }
  lines.push('           (churn models show --json for every parameter and metric)');
  return lines.join('\n');
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
    .description('one version, readably: lineage, metrics, the input contract (features, types, ranges, risk directions) and alias history')
    .argument('<version>', 'version number or alias (e.g. 7 or champion)')
    .option('--json', 'everything (parameters, every metric, the input contract) as JSON on one line', false)
    .action(async (ref: string, raw: unknown) => {
      const o = parseOptions(ShowOptions, raw);
      parseVersionRef(ref);
      await withDatabase(async ({ pool }) => {
        const d = await describeModel(pool, ref);
        // a version whose artifact cannot be read still has its registry entry to show
        const artifact = d.status === 'failed' ? null : await loadModel(pool, d.version).then((l) => parseArtifact(l.artifact, `model version ${d.version}`)).catch(() => null);
        const contract = artifact ? modelContract(artifact, loadCatalog()) : null;
        const settings = artifact ? describeSettings(artifact) : null;
        console.log(o.json ? JSON.stringify({ ...d, settings, inputContract: contract }) : formatModel(d, contract, settings));
      });
    });

  models.command('import')
    .description('registers a model trained elsewhere: an XGBoost JSON model (save_model("model.json"), binary:logistic), explained as XGBoost\'s pred_contribs explains it')
    .requiredOption('--xgboost <file>', 'the XGBoost JSON model')
    .option('--feature-names <list>', 'feature names in column order, comma-separated (default: the model\'s own)')
    .option('--categories <file>', 'a JSON file { "feature": ["category of code 0", ...] } for categorical features')
    .option('--base-rate <p>', 'the training churn rate (the health mapping is anchored on it; default: the model\'s base score)')
    .option('--feature-set <auto|none>', 'auto: the current feature catalogue when the model\'s features are exactly its features', 'auto')
    .action(async (raw: unknown) => {
      const o = parseOptions(ImportOptions, raw);
      const read = (file: string) => fs.readFile(file, 'utf8').catch((err: Error) => {
        throw new ChurnError('CHURN_ERR_BAD_FILE', `cannot read ${file}: ${err.message}`);
      });
      const text = await read(o.xgboost);
      let categories: Record<string, string[]> | undefined;
      if (o.categories) {
        const body = await read(o.categories);
        let json: unknown = null;
        try {
          json = JSON.parse(body);
        } catch {
          // refused below, with what was expected
        }
        const parsed = z.record(z.string(), z.array(z.string())).safeParse(json);
        if (!parsed.success) throw new ChurnError('CHURN_ERR_BAD_FILE', `${o.categories}: expected JSON { "feature": ["category of code 0", ...] }`);
        categories = parsed.data;
      }
      await withDatabase(async ({ pool }) => {
        const v = await importXgboostModel(pool, { file: o.xgboost, text, featureNames: o.featureNames, categories, baseRate: o.baseRate, featureSet: o.featureSet }, loadCatalog());
        console.log(`imported ${o.xgboost} as version ${v.version} (gbdt, ${v.featureSetVersion ? `feature set ${v.featureSetVersion}` : 'its own features'}); promote it with \`churn models promote ${v.version} --alias NAME\``);
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
