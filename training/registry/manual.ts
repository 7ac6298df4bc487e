/** Registry views shared by the CLI (`churn models show`) and the HTTP API. */
import type { Pool } from '../../core/db.ts';
import { aliasHistory } from './aliases.ts';
import { metricValue } from './metrics.ts';
import { getModel } from './store.ts';
import type { AliasMove } from './types.ts';

export interface ModelDetails {
  version: number;
  modelType: string;
  status: string;
  createdAt: string;
  aliases: string[];
  checksum: string;
  artifactBytes: number;
  lineage: { trainingWindow: { from: string; to: string } | null; featureSetVersion: string | null; dataFingerprint: string; gitRevision: string; dataSource: string };
  error?: string;
  mlflow: { runId: string | null; modelVersion: string | null; status: 'logged' | 'failed' | null; error: string | null };
  /** validation and test auc, prAuc, brier, lift10 where stored */
  metricsSummary: Record<string, number>;
  params: Record<string, unknown>;
  metrics: Record<string, unknown>;
  /** alias moves to or from this version, newest first */
  aliasHistory: AliasMove[];
}

/** Registry details for `show`: lineage, a metrics summary, the full metrics and the alias moves involving the version. */
export async function describeModel(pool: Pool, ref: string | number): Promise<ModelDetails> {
  const m = await getModel(pool, ref);
  const summary: Record<string, number | null> = {};
  for (const split of ['validation', 'test']) for (const name of ['auc', 'prAuc', 'brier', 'lift10']) summary[`${split}.${name}`] = metricValue(m.metrics, name, split);
  return {
    version: m.version,
    modelType: m.modelType,
    status: m.status,
    createdAt: m.createdAt,
    aliases: m.aliases,
    checksum: m.checksum,
    artifactBytes: m.artifactBytes,
    lineage: { trainingWindow: m.trainingWindow, featureSetVersion: m.featureSetVersion, dataFingerprint: m.dataFingerprint, gitRevision: m.gitRevision, dataSource: m.dataSource },
    ...(m.error ? { error: m.error } : {}),
    mlflow: m.mlflow,
    metricsSummary: Object.fromEntries(Object.entries(summary).filter(([, v]) => v !== null)) as Record<string, number>,
    params: m.params,
    metrics: m.metrics,
    aliasHistory: await aliasHistory(pool, null, { version: m.version, limit: 100 }),
  };
}
