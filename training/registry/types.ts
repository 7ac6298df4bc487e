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
  status?: 'candidate' | 'failed' | 'archived';
}

export interface ModelVersion extends ModelLineage {
  version: number;
  modelType: string;
  params: Record<string, unknown>;
  metrics: Record<string, unknown>;
  status: string;
  checksum: string;
  createdAt: string;
  aliases: string[];
}

export interface AliasMove {
  alias: string;
  fromVersion: number | null;
  toVersion: number;
  movedAt: string;
  movedBy: string;
  reason: string | null;
}
