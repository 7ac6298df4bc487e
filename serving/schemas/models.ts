import { z } from 'zod';
import { InputContract } from '../../training/contract.ts';
import { AliasName, ModelVersionSchema, type ModelVersion } from '../../training/registry/index.ts';

/**
 * A registry entry as the API returns it: the registry's own fields (camelCase, as first published)
 * and the same values under snake_case names, the API's convention everywhere else.
 */
export const ModelResponseSchema = ModelVersionSchema.extend({
  model_type: z.string(),
  created_at: z.string(),
  feature_set_version: z.string().nullable(),
  training_window: z.object({ from: z.string(), to: z.string() }).nullable(),
  data_fingerprint: z.string(),
  git_revision: z.string(),
  data_source: z.string(),
  artifact_bytes: z.number().int(),
  /** what a row must look like to be scored by this version (GET /v1/models/:version only; null for a failed run) */
  input_contract: InputContract.nullable().optional(),
}).meta({ id: 'ModelVersion' });
export type ModelResponse = z.infer<typeof ModelResponseSchema>;

export function modelResponse(m: ModelVersion): ModelResponse {
  return {
    ...m, model_type: m.modelType, created_at: m.createdAt, feature_set_version: m.featureSetVersion, training_window: m.trainingWindow,
    data_fingerprint: m.dataFingerprint, git_revision: m.gitRevision, data_source: m.dataSource, artifact_bytes: m.artifactBytes,
  };
}

export const VersionParamsSchema = z.object({ version: z.string().regex(/^v?\d{1,9}$/, 'a version is a positive integer').transform((s) => Number(s.replace(/^v/, ''))).refine((n) => n >= 1, 'a version is a positive integer') }).strict();

export const AliasParamsSchema = z.object({
  version: VersionParamsSchema.shape.version,
  alias: AliasName,
}).strict();

export const AliasBodySchema = z.object({
  reason: z.string().trim().max(2000).optional(),
  /** move even when the promotion rule refuses it; needs a reason, recorded in the alias history */
  force: z.boolean().optional(),
}).strict().refine((b) => !b.force || b.reason, { message: 'force needs a reason (recorded in the alias history)', path: ['reason'] }).nullish();

export const AliasResponseSchema = z.object({
  alias: z.string(), from_version: z.number().int().nullable(), to_version: z.number().int(), moved: z.boolean(),
  /** promoted (not worse on the same rows), no_champion (the alias was free), forced, already */
  decision: z.string(),
  /** what the rule found, as recorded in the alias history */
  reason: z.string(),
});

export const ReportParamsSchema = VersionParamsSchema;
