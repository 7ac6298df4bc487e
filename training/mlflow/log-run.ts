/**
 * Mirrors one training run to MLflow: experiment, run, parameters, metrics and tags, the artifact
 * (model/model.json through the artifact proxy), the run's end, then the registered model version
 * and its aliases. PostgreSQL stays the system of record: `mirrorToMlflow` never throws.
 */
import type { Queryable } from '../../core/db.ts';
import { ChurnError } from '../../core/errors.ts';
import type { Logger } from '../../core/log.ts';
import { canonicalJson } from '../registry/canonical.ts';
import { flattenNumeric } from '../registry/metrics.ts';
import { recordMlflowResult } from '../registry/store.ts';
import { LOG_BATCH_LIMITS, MlflowClient, type LogBatchInput, type MlflowClientOptions } from './client.ts';

export interface TrainingRunLog {
  /** experiment name, default 'churnlens' */
  experiment?: string;
  /** registered model name, default 'churnlens' */
  modelName?: string;
  runName?: string;
  params: Record<string, unknown>;
  /** nested metrics; every finite number is logged under its dotted path */
  metrics: Record<string, unknown>;
  /** the model artifact (an object, or its JSON text) */
  artifactJson: unknown;
  /** the PostgreSQL registry version this run produced */
  version: number;
  /** aliases the version holds in PostgreSQL (e.g. ['champion']), mirrored onto the MLflow version */
  aliases: string[];
  tags?: Record<string, string>;
  gitRevision?: string;
  user?: string;
  /** clock in ms, default Date.now */
  now?: () => number;
}

export interface TrainingRunLogged {
  experimentId: string;
  runId: string;
  artifactUri: string;
  modelName: string;
  modelVersion: string;
  aliases: string[];
}

const MAX_KEY = 250;
const MAX_PARAM_VALUE = 6000;

/** MLflow metric and param names: alphanumerics, `_ - . space / :`; no path tricks; at most 250 characters. */
export function mlflowKey(raw: string): string {
  let k = raw.replace(/[^A-Za-z0-9_\-. /:]/g, '_').replace(/\/{2,}/g, '/').replace(/^\/+/, '').replace(/\.\.+/g, '.');
  if (!k) k = '_';
  return k.slice(0, MAX_KEY);
}

/** Nested numeric metrics flattened to dotted MLflow keys (later duplicates after sanitising are dropped). */
export function toMlflowMetrics(metrics: Record<string, unknown>, timestamp: number): NonNullable<LogBatchInput['metrics']> {
  const seen = new Set<string>();
  const out: NonNullable<LogBatchInput['metrics']> = [];
  for (const m of flattenNumeric(metrics)) {
    const key = mlflowKey(m.key);
    if (seen.has(key)) continue;
    seen.add(key);
    out.push({ key, value: m.value, timestamp, step: 0 });
  }
  return out;
}

/** Parameters as MLflow strings: nested objects (and lists of objects, by position) flattened to dotted keys, other arrays as JSON. */
export function toMlflowParams(params: Record<string, unknown>): Array<{ key: string; value: string }> {
  const out = new Map<string, string>();
  const walk = (v: unknown, path: string) => {
    if (v === undefined || typeof v === 'function') return;
    if (v && typeof v === 'object' && !Array.isArray(v)) {
      for (const [k, child] of Object.entries(v as Record<string, unknown>)) walk(child, path ? `${path}.${k}` : k);
      return;
    }
    // a list of objects (the members of an averaged GBDT) by position: model.members.0.params.maxDepth
    if (Array.isArray(v) && v.some((x) => x && typeof x === 'object')) {
      v.forEach((child, i) => walk(child, `${path}.${i}`));
      return;
    }
    const s = typeof v === 'string' ? v : JSON.stringify(v) ?? 'null';
    const key = mlflowKey(path);
    if (!out.has(key)) out.set(key, s.length > MAX_PARAM_VALUE ? `${s.slice(0, MAX_PARAM_VALUE - 1)}…` : s);
  };
  walk(params, '');
  return [...out].map(([key, value]) => ({ key, value }));
}

/** Splits metrics, params and tags into log-batch requests within the documented limits. */
export function chunkBatches(input: Required<LogBatchInput>): LogBatchInput[] {
  const batches: Array<Required<LogBatchInput>> = [];
  let cur: Required<LogBatchInput> = { metrics: [], params: [], tags: [] };
  const size = (b: Required<LogBatchInput>) => b.metrics.length + b.params.length + b.tags.length;
  const add = <K extends keyof Required<LogBatchInput>>(kind: K, item: Required<LogBatchInput>[K][number]) => {
    if (cur[kind].length >= LOG_BATCH_LIMITS[kind] || size(cur) >= LOG_BATCH_LIMITS.total) {
      batches.push(cur);
      cur = { metrics: [], params: [], tags: [] };
    }
    (cur[kind] as unknown[]).push(item);
  };
  for (const p of input.params) add('params', p);
  for (const t of input.tags) add('tags', t);
  for (const m of input.metrics) add('metrics', m);
  if (size(cur) > 0 || batches.length === 0) batches.push(cur);
  return batches;
}

/** Logs the run and registers the version in MLflow; throws CHURN_ERR_MLFLOW (the run is marked FAILED when it got that far). */
export async function logTrainingRun(client: MlflowClient | MlflowClientOptions | string, run: TrainingRunLog): Promise<TrainingRunLogged> {
  const mlflow = client instanceof MlflowClient ? client : new MlflowClient(typeof client === 'string' ? { trackingUri: client } : client);
  const now = run.now ?? Date.now;
  const modelName = run.modelName ?? 'churnlens';
  const experimentId = await mlflow.ensureExperiment(run.experiment ?? 'churnlens');
  const systemTags = [
    { key: 'mlflow.source.name', value: 'churnlens' },
    { key: 'mlflow.source.type', value: 'LOCAL' },
    ...(run.user ? [{ key: 'mlflow.user', value: run.user }] : []),
    ...(run.gitRevision && run.gitRevision !== 'unknown' ? [{ key: 'mlflow.source.git.commit', value: run.gitRevision }] : []),
  ];
  const info = await mlflow.createRun({ experimentId, runName: run.runName ?? `churnlens-v${run.version}`, startTime: now(), tags: systemTags });
  try {
    const artifactText = typeof run.artifactJson === 'string' ? run.artifactJson : canonicalJson(run.artifactJson);
    const tags = [{ key: 'churnlens.version', value: String(run.version) }, ...Object.entries(run.tags ?? {}).map(([key, value]) => ({ key: mlflowKey(key), value }))];
    for (const batch of chunkBatches({ params: toMlflowParams(run.params), tags, metrics: toMlflowMetrics(run.metrics, now()) })) {
      await mlflow.logBatch(info.run_id, batch);
    }
    await mlflow.uploadArtifact(info.artifact_uri, 'model/model.json', Buffer.from(artifactText, 'utf8'), 'application/json');
    await mlflow.updateRun(info.run_id, 'FINISHED', now());
  } catch (err) {
    await mlflow.updateRun(info.run_id, 'FAILED', now()).catch(() => undefined);
    throw err;
  }
  await mlflow.createRegisteredModel(modelName, 'Churnlens churn model (system of record: the PostgreSQL registry)');
  const mv = await mlflow.createModelVersion({
    name: modelName,
    source: `${info.artifact_uri.replace(/\/+$/, '')}/model`,
    runId: info.run_id,
    description: `churnlens registry version ${run.version}`,
    tags: [{ key: 'churnlens.version', value: String(run.version) }],
  });
  for (const alias of run.aliases) await mlflow.setRegisteredModelAlias(modelName, alias, mv.version);
  return { experimentId, runId: info.run_id, artifactUri: info.artifact_uri, modelName, modelVersion: mv.version, aliases: [...run.aliases] };
}

/**
 * What training calls when MLFLOW_TRACKING_URI is set: logs the run, then records the outcome on the
 * PostgreSQL version ('logged' with the MLflow ids, or 'failed' with the error). A failing MLflow is
 * a warning, never a lost registration: returns null then.
 */
export async function mirrorToMlflow(db: Queryable, client: MlflowClient | MlflowClientOptions | string, run: TrainingRunLog, log?: Pick<Logger, 'warn' | 'info'>): Promise<TrainingRunLogged | null> {
  try {
    const logged = await logTrainingRun(client, run);
    await recordMlflowResult(db, run.version, { runId: logged.runId, modelVersion: logged.modelVersion, status: 'logged', error: null });
    log?.info({ mlflowRun: logged.runId, mlflowModelVersion: logged.modelVersion }, `model version ${run.version} logged to MLflow`);
    return logged;
  } catch (err) {
    const message = err instanceof ChurnError ? `${err.code}: ${err.message}` : String((err as Error)?.message ?? err);
    await recordMlflowResult(db, run.version, { runId: null, modelVersion: null, status: 'failed', error: message.slice(0, 2000) }).catch(() => undefined);
    log?.warn({ err: message }, `model version ${run.version} is registered in PostgreSQL but could not be logged to MLflow`);
    return null;
  }
}

/** Points an MLflow alias at the MLflow version mirroring a registry version (used when an alias moves). */
export async function mirrorAliasToMlflow(client: MlflowClient | MlflowClientOptions | string, input: { modelName?: string; alias: string; mlflowModelVersion: string }): Promise<void> {
  const mlflow = client instanceof MlflowClient ? client : new MlflowClient(typeof client === 'string' ? { trackingUri: client } : client);
  await mlflow.setRegisteredModelAlias(input.modelName ?? 'churnlens', input.alias, input.mlflowModelVersion);
}
