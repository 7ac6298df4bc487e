/** Registering, reading and loading model versions. */
import { z } from 'zod';
import { query, type Queryable } from '../../core/db.ts';
import { ChurnError, describeIssues } from '../../core/errors.ts';
import { packArtifact, unpackArtifact } from './canonical.ts';
import * as sql from './sql.ts';
import type { FailedRunInput, LoadedModel, ModelStatus, ModelVersion, RegisterModelInput } from './types.ts';

/** Alias names: lower-case words; `v<digits>` and `latest` are reserved, as in MLflow's registry. */
export const AliasName = z.string().max(63, 'an alias is at most 63 characters')
  .regex(/^[a-z][a-z0-9_-]*$/, 'an alias is a lower-case name: letters, digits, _ and -, starting with a letter')
  .refine((a) => !/^v\d+$/.test(a), 'v<number> is reserved for version references')
  .refine((a) => a !== 'latest', "'latest' is reserved (as in MLflow)");

const Iso = z.string().refine((s) => !Number.isNaN(Date.parse(s)), 'expected an ISO timestamp');
const JsonObject = z.record(z.string(), z.unknown());

const LineageSchema = z.object({
  trainingWindow: z.object({ from: Iso, to: Iso }).nullable()
    .refine((w) => w === null || Date.parse(w.from) <= Date.parse(w.to), 'trainingWindow.from must not be after trainingWindow.to'),
  featureSetVersion: z.string().min(1).nullable(),
  dataFingerprint: z.string().min(1),
  gitRevision: z.string().min(1),
  dataSource: z.string().min(1),
});

const RegisterSchema = LineageSchema.extend({
  modelType: z.string().min(1).max(100),
  params: JsonObject,
  metrics: JsonObject,
  status: z.enum(['candidate', 'archived']).default('candidate'),
});

const FailedSchema = LineageSchema.partial().extend({
  modelType: z.string().min(1).max(100),
  params: JsonObject,
  metrics: JsonObject.optional(),
  error: z.string().min(1),
});

function parse<S extends z.ZodType>(schema: S, value: unknown, what: string): z.infer<S> {
  const r = schema.safeParse(value);
  if (!r.success) throw new ChurnError('CHURN_ERR_VALIDATION', `${what}: ${describeIssues(r.error.issues)}`);
  return r.data;
}

export function toModelVersion(r: sql.VersionRow): ModelVersion {
  return {
    version: r.version,
    modelType: r.model_type,
    status: r.status as ModelStatus,
    checksum: r.artifact_sha256 ?? '',
    artifactBytes: r.artifact_bytes ?? 0,
    params: r.params,
    metrics: r.metrics,
    trainingWindow: r.window_from && r.window_to ? { from: r.window_from.toISOString(), to: r.window_to.toISOString() } : null,
    featureSetVersion: r.feature_set_version,
    dataFingerprint: r.data_fingerprint,
    gitRevision: r.git_revision,
    dataSource: r.data_source,
    createdAt: r.created_at.toISOString(),
    aliases: r.aliases,
    error: r.error,
    mlflow: {
      runId: r.mlflow_run_id,
      modelVersion: r.mlflow_model_version,
      status: (r.mlflow_status as 'logged' | 'failed' | null) ?? null,
      error: r.mlflow_error,
    },
  };
}

/** Stores a trained model: its artifact (gzip of canonical JSON, sha256 recorded), parameters, metrics and lineage. */
export async function registerModel(db: Queryable, input: RegisterModelInput): Promise<ModelVersion> {
  if (input.status === 'failed') throw new ChurnError('CHURN_ERR_VALIDATION', 'a failed run has no artifact: record it with recordFailedRun');
  const v = parse(RegisterSchema, input, 'invalid model registration');
  const packed = packArtifact(input.artifact);
  const [row] = await query<{ version: number }>(db, sql.insertVersion({
    modelType: v.modelType, status: v.status, artifactGzip: packed.gzip, artifactSha256: packed.sha256, artifactBytes: packed.bytes,
    params: v.params, metrics: v.metrics, windowFrom: v.trainingWindow?.from ?? null, windowTo: v.trainingWindow?.to ?? null,
    featureSetVersion: v.featureSetVersion, dataFingerprint: v.dataFingerprint, gitRevision: v.gitRevision, dataSource: v.dataSource, error: null,
  }));
  return getModel(db, row.version);
}

/** Records a failed training run (status 'failed', its error, no artifact). Aliases are never touched. */
export async function recordFailedRun(db: Queryable, input: FailedRunInput): Promise<ModelVersion> {
  const v = parse(FailedSchema, input, 'invalid failed-run record');
  const [row] = await query<{ version: number }>(db, sql.insertVersion({
    modelType: v.modelType, status: 'failed', artifactGzip: null, artifactSha256: null, artifactBytes: null,
    params: v.params, metrics: v.metrics ?? {}, windowFrom: v.trainingWindow?.from ?? null, windowTo: v.trainingWindow?.to ?? null,
    featureSetVersion: v.featureSetVersion ?? null, dataFingerprint: v.dataFingerprint ?? 'unknown', gitRevision: v.gitRevision ?? 'unknown',
    dataSource: v.dataSource ?? 'unknown', error: v.error.slice(0, 10_000),
  }));
  return getModel(db, row.version);
}

export type VersionRef = { kind: 'version'; version: number } | { kind: 'alias'; alias: string };

/** Digits (or `v` and digits) name a version; anything else must be an alias name. */
export function parseVersionRef(versionOrAlias: string | number): VersionRef {
  if (typeof versionOrAlias === 'number') {
    if (!Number.isSafeInteger(versionOrAlias) || versionOrAlias < 1) throw new ChurnError('CHURN_ERR_VALIDATION', `a model version is a positive integer, got ${versionOrAlias}`);
    return { kind: 'version', version: versionOrAlias };
  }
  const s = versionOrAlias.trim();
  const m = /^v?(\d{1,9})$/i.exec(s);
  if (m) return parseVersionRef(Number(m[1]));
  const alias = AliasName.safeParse(s);
  if (!alias.success) {
    throw new ChurnError('CHURN_ERR_VALIDATION', `'${versionOrAlias}' is neither a version number nor an alias name (${alias.error.issues[0].message}); name a version (7 or v7) or an alias such as champion`);
  }
  return { kind: 'alias', alias: alias.data };
}

/** The version a number or alias designates; CHURN_ERR_MODEL_NOT_FOUND when there is none. */
export async function resolveVersion(db: Queryable, versionOrAlias: string | number): Promise<number> {
  const ref = parseVersionRef(versionOrAlias);
  if (ref.kind === 'version') return ref.version;
  const rows = await query<{ version: number }>(db, sql.selectAliasTarget(ref.alias));
  if (!rows.length) {
    const hint = ref.alias === 'champion' ? ': train one with `churn train` (or promote a version with `churn models promote V --alias champion`)' : '';
    throw new ChurnError('CHURN_ERR_MODEL_NOT_FOUND', `no model has the alias '${ref.alias}'${hint}`);
  }
  return rows[0].version;
}

export async function getModel(db: Queryable, versionOrAlias: string | number): Promise<ModelVersion> {
  const version = await resolveVersion(db, versionOrAlias);
  const rows = await query<sql.VersionRow>(db, sql.selectVersion(version));
  if (!rows.length) throw new ChurnError('CHURN_ERR_MODEL_NOT_FOUND', `no model version ${version}`);
  return toModelVersion(rows[0]);
}

/** Newest first; failed runs are included unless `includeFailed` is false. */
export async function listModels(db: Queryable, opts: { includeFailed?: boolean; limit?: number } = {}): Promise<ModelVersion[]> {
  const limit = opts.limit ?? 1000;
  if (!Number.isInteger(limit) || limit < 1 || limit > 100_000) throw new ChurnError('CHURN_ERR_VALIDATION', `limit must be an integer from 1 to 100000, got ${limit}`);
  const rows = await query<sql.VersionRow>(db, sql.selectVersions({ includeFailed: opts.includeFailed ?? true, limit }));
  return rows.map(toModelVersion);
}

/** Loads a version's artifact by number or alias, verifying its checksum (CHURN_ERR_ARTIFACT_CORRUPT on mismatch). */
export async function loadModel(db: Queryable, versionOrAlias: string | number): Promise<LoadedModel> {
  const meta = await getModel(db, versionOrAlias);
  if (meta.status === 'failed') throw new ChurnError('CHURN_ERR_MODEL_NOT_FOUND', `model version ${meta.version} is a failed training run and has no artifact`);
  const [row] = await query<{ artifact_gzip: Buffer; artifact_sha256: string }>(db, sql.selectArtifact(meta.version));
  const artifact = unpackArtifact(row.artifact_gzip, row.artifact_sha256, `model version ${meta.version}`);
  return { meta, artifact };
}

/** Remembers where (and whether) the version was mirrored to MLflow. */
export async function recordMlflowResult(db: Queryable, version: number, link: { runId: string | null; modelVersion: string | null; status: 'logged' | 'failed'; error: string | null }): Promise<void> {
  await query(db, sql.updateMlflowLink(version, link));
}

