/** The registry's queries: small typed templates returning `{ text, values }`. */
import type { Sql } from '../../core/db.ts';

export interface VersionRow {
  version: number;
  model_type: string;
  status: string;
  artifact_sha256: string | null;
  artifact_bytes: number | null;
  params: Record<string, unknown>;
  metrics: Record<string, unknown>;
  window_from: Date | null;
  window_to: Date | null;
  feature_set_version: string | null;
  data_fingerprint: string;
  git_revision: string;
  data_source: string;
  error: string | null;
  mlflow_run_id: string | null;
  mlflow_model_version: string | null;
  mlflow_status: string | null;
  mlflow_error: string | null;
  created_at: Date;
  aliases: string[];
}

const VERSION_COLUMNS = `v.version, v.model_type, v.status, v.artifact_sha256, v.artifact_bytes, v.params, v.metrics,
  v.window_from, v.window_to, v.feature_set_version, v.data_fingerprint, v.git_revision, v.data_source, v.error,
  v.mlflow_run_id, v.mlflow_model_version, v.mlflow_status, v.mlflow_error, v.created_at,
  coalesce((SELECT array_agg(a.alias ORDER BY a.alias) FROM churn.model_aliases a WHERE a.version = v.version), '{}') AS aliases`;

export interface InsertVersion {
  modelType: string;
  status: 'candidate' | 'archived' | 'failed';
  artifactGzip: Buffer | null;
  artifactSha256: string | null;
  artifactBytes: number | null;
  params: unknown;
  metrics: unknown;
  windowFrom: string | null;
  windowTo: string | null;
  featureSetVersion: string | null;
  dataFingerprint: string;
  gitRevision: string;
  dataSource: string;
  error: string | null;
}

export function insertVersion(v: InsertVersion): Sql {
  return {
    text: `INSERT INTO churn.model_versions (model_type, status, artifact_gzip, artifact_sha256, artifact_bytes, params, metrics,
        window_from, window_to, feature_set_version, data_fingerprint, git_revision, data_source, error)
      VALUES ($1, $2, $3, $4, $5, $6::jsonb, $7::jsonb, $8, $9, $10, $11, $12, $13, $14)
      RETURNING version`,
    values: [v.modelType, v.status, v.artifactGzip, v.artifactSha256, v.artifactBytes, JSON.stringify(v.params), JSON.stringify(v.metrics),
      v.windowFrom, v.windowTo, v.featureSetVersion, v.dataFingerprint, v.gitRevision, v.dataSource, v.error],
  };
}

export function selectVersion(version: number): Sql {
  return { text: `SELECT ${VERSION_COLUMNS} FROM churn.model_versions v WHERE v.version = $1`, values: [version] };
}

export function selectVersions(opts: { includeFailed: boolean; limit: number }): Sql {
  return {
    text: `SELECT ${VERSION_COLUMNS} FROM churn.model_versions v
      WHERE $1::boolean OR v.status <> 'failed' ORDER BY v.version DESC LIMIT $2`,
    values: [opts.includeFailed, opts.limit],
  };
}

export function selectArtifact(version: number): Sql {
  return { text: 'SELECT artifact_gzip, artifact_sha256 FROM churn.model_versions WHERE version = $1', values: [version] };
}

export function selectAliasTarget(alias: string): Sql {
  return { text: 'SELECT version FROM churn.model_aliases WHERE alias = $1', values: [alias] };
}

/** Serialises movers of one alias, also while the alias row does not exist yet. */
export function lockAliasKey(alias: string): Sql {
  return { text: `SELECT pg_advisory_xact_lock(hashtext('churn_model_alias:' || $1))`, values: [alias] };
}

export function selectAliasForUpdate(alias: string): Sql {
  return { text: 'SELECT version FROM churn.model_aliases WHERE alias = $1 FOR UPDATE', values: [alias] };
}

export function selectVersionForShare(version: number): Sql {
  return { text: 'SELECT version, status FROM churn.model_versions WHERE version = $1 FOR SHARE', values: [version] };
}

/** Points the alias at `version`; the table's trigger writes the history row and the notification. */
export function upsertAlias(alias: string, version: number, actor: string, reason: string | null): Sql {
  return {
    text: `INSERT INTO churn.model_aliases (alias, version, updated_at, updated_by, reason) VALUES ($1, $2, now(), $3, $4)
      ON CONFLICT (alias) DO UPDATE SET version = EXCLUDED.version, updated_at = EXCLUDED.updated_at,
        updated_by = EXCLUDED.updated_by, reason = EXCLUDED.reason`,
    values: [alias, version, actor, reason],
  };
}

export interface HistoryRow {
  alias: string;
  from_version: number | null;
  to_version: number;
  moved_at: Date;
  moved_by: string;
  reason: string | null;
}

export function selectHistory(opts: { alias: string | null; version: number | null; limit: number }): Sql {
  return {
    text: `SELECT alias, from_version, to_version, moved_at, moved_by, reason FROM churn.model_alias_history
      WHERE ($1::text IS NULL OR alias = $1) AND ($2::integer IS NULL OR from_version = $2 OR to_version = $2)
      ORDER BY id DESC LIMIT $3`,
    values: [opts.alias, opts.version, opts.limit],
  };
}

export function updateMlflowLink(version: number, link: { runId: string | null; modelVersion: string | null; status: 'logged' | 'failed'; error: string | null }): Sql {
  return {
    text: `UPDATE churn.model_versions SET mlflow_run_id = coalesce($2, mlflow_run_id), mlflow_model_version = coalesce($3, mlflow_model_version),
        mlflow_status = $4, mlflow_error = $5 WHERE version = $1`,
    values: [version, link.runId, link.modelVersion, link.status, link.error],
  };
}

