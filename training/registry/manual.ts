/** Registry views and hand-made alias moves shared by the CLI (`churn models`) and the HTTP API. */
import type { Pool } from '../../core/db.ts';
import { ChurnError, describeIssues } from '../../core/errors.ts';
import { aliasHistory, promoteIfNotWorse, setAlias } from './aliases.ts';
import { metricValue } from './metrics.ts';
import { AliasName, getModel } from './store.ts';
import type { AliasMove, PromotionResult } from './types.ts';

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

/**
 * Moves an alias by hand. Without --force it refuses a version whose stored validation AUC is worse
 * than the current holder's on the same data (same training-data fingerprint); when the two were
 * evaluated on different data there is nothing comparable and the move goes ahead, saying so.
 */
export async function promoteChecked(pool: Pool, o: { ref: string | number; alias: string; force?: boolean; reason?: string; actor: string }): Promise<PromotionResult> {
  const { ref, actor } = o;
  const alias = AliasName.safeParse(o.alias);
  if (!alias.success) throw new ChurnError('CHURN_ERR_VALIDATION', `alias: ${describeIssues(alias.error.issues)}`);
  const target = await getModel(pool, ref);
  const holder = await getModel(pool, o.alias).catch((err: unknown) => {
    if (err instanceof ChurnError && err.code === 'CHURN_ERR_MODEL_NOT_FOUND') return null;
    throw err;
  });
  const cand = metricValue(target.metrics, 'auc', 'validation');
  const curr = holder ? metricValue(holder.metrics, 'auc', 'validation') : null;
  const sameData = holder !== null && holder.dataFingerprint === target.dataFingerprint && target.dataFingerprint !== 'unknown';
  if (o.force || !holder || !sameData || cand === null || curr === null) {
    const note = o.force ? `forced by ${actor}` : !holder ? `'${o.alias}' was free` : `not compared: ${sameData ? 'no stored validation AUC' : `version ${holder.version} was evaluated on other data`}`;
    const reason = [o.reason, note].filter(Boolean).join('; ');
    const r = await setAlias(pool, { alias: o.alias, version: target.version, actor, reason, expectedFrom: holder?.version ?? null });
    return { promoted: true, decision: !r.moved ? 'already' : o.force ? 'forced' : holder ? 'promoted' : 'no_champion', reason, fromVersion: r.fromVersion, toVersion: target.version };
  }
  const r = await promoteIfNotWorse(pool, { version: target.version, alias: o.alias, candidateScore: cand, championScore: curr, championVersion: holder.version, actor });
  if (r.decision === 'not_better') {
    throw new ChurnError('CHURN_ERR_NOT_BETTER', `version ${target.version} has validation AUC ${cand.toFixed(4)}, worse than version ${holder.version} (${curr.toFixed(4)}) on the same data; '${o.alias}' stays on version ${holder.version} (use --force to move it anyway)`);
  }
  if (r.decision === 'conflict') throw new ChurnError('CHURN_ERR_ALIAS_CONFLICT', r.reason);
  return r;
}
