import { z } from 'zod';

/**
 * The registry contract (implementation in training/registry/). Model artifacts are JSON documents
 * (see training/artifact.ts); the registry stores them with a sha256 checksum verified at load.
 */
export interface ModelLineage {
  /** observation window of the training data: first and last as-of, or null for a prepared table */
  trainingWindow: { from: string; to: string } | null;
  featureSetVersion: string | null;
  /** sha256 over the training rows (ids, labels, splits, values) */
  dataFingerprint: string;
  /** git revision of the code that trained it, or 'unknown' */
  gitRevision: string;
  /** where the rows came from: 'database' or 'csv:<file name>' */
  dataSource: string;
}

export interface RegisterModelInput extends ModelLineage {
  modelType: string;
  /** the artifact, a JSON-serialisable object */
  artifact: unknown;
  params: Record<string, unknown>;
  /** evaluation metrics (validation and test), as produced by training/evaluate.ts */
  metrics: Record<string, unknown>;
  /** 'failed' is refused here: failed runs go through recordFailedRun */
  status?: 'candidate' | 'failed' | 'archived';
}

/** A training run that failed: recorded for the audit trail; it has no artifact and never gets an alias. */
export interface FailedRunInput extends Partial<ModelLineage> {
  modelType: string;
  params: Record<string, unknown>;
  error: string;
  metrics?: Record<string, unknown>;
}

/** Where the version was mirrored in MLflow (null fields when MLFLOW_TRACKING_URI was unset). */
export const MlflowLinkSchema = z.object({
  runId: z.string().nullable(),
  modelVersion: z.string().nullable(),
  /** 'logged', 'failed' (the error says why), or null when never attempted */
  status: z.enum(['logged', 'failed']).nullable(),
  error: z.string().nullable(),
});
export type MlflowLink = z.infer<typeof MlflowLinkSchema>;

/** One registry entry: the one declaration of a model version, for the registry, the CLI and the API. */
export const ModelVersionSchema = z.object({
  version: z.number().int(),
  modelType: z.string(),
  /** lifecycle: `candidate` (usable, whether or not an alias points at it), `failed`, `archived` */
  status: z.enum(['candidate', 'failed', 'archived']),
  aliases: z.array(z.string()),
  createdAt: z.string(),
  /** sha256 of the canonical artifact JSON; '' for a failed run */
  checksum: z.string(),
  /** observation window of the training data: first and last as-of, or null for a prepared table */
  trainingWindow: z.object({ from: z.string(), to: z.string() }).nullable(),
  featureSetVersion: z.string().nullable(),
  /** sha256 over the training rows (ids, labels, splits, values) */
  dataFingerprint: z.string(),
  /** git revision of the code that trained it, or 'unknown' */
  gitRevision: z.string(),
  /** where the rows came from: 'database' or 'csv:<file name>' */
  dataSource: z.string(),
  params: z.record(z.string(), z.unknown()),
  metrics: z.record(z.string(), z.unknown()),
  /** size of the canonical artifact JSON in bytes (0 for a failed run) */
  artifactBytes: z.number().int(),
  /** the failure, for status 'failed' */
  error: z.string().nullable(),
  mlflow: MlflowLinkSchema,
}).meta({ id: 'ModelVersion' });
export type ModelVersion = z.infer<typeof ModelVersionSchema>;
export type ModelStatus = ModelVersion['status'];

export interface LoadedModel {
  meta: ModelVersion;
  /** the artifact as registered (object keys in sorted order), checksum verified */
  artifact: unknown;
}

export interface PromotionResult {
  promoted: boolean;
  /**
   * promoted (not worse), forced, no_champion (alias was free), already (alias already there): moved or kept;
   * not_better, not_comparable (champion has no score on these rows), conflict (alias moved meanwhile): untouched
   */
  decision: 'promoted' | 'forced' | 'no_champion' | 'already' | 'not_better' | 'not_comparable' | 'conflict';
  reason: string;
  fromVersion: number | null;
  toVersion: number;
}

export interface AliasMove {
  alias: string;
  fromVersion: number | null;
  toVersion: number;
  movedAt: string;
  movedBy: string;
  reason: string | null;
}

export interface SetAliasResult {
  alias: string;
  fromVersion: number | null;
  toVersion: number;
  /** false when the alias already pointed at the version (nothing recorded) */
  moved: boolean;
}
