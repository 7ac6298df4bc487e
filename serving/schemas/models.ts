import { z } from 'zod';
import { InputContract } from '../../training/contract.ts';
import { AliasName, ModelVersionSchema, type ModelVersion } from '../../training/registry/index.ts';

/**
 * A registry entry as the API returns it: the registry's own fields (camelCase, as first published)
 * and the same values under snake_case names, the API's convention everywhere else.
 */
export const MODEL_EXAMPLE = {
  version: 7, modelType: 'logistic', status: 'candidate', aliases: ['champion'], createdAt: '2026-10-30T04:12:09.000Z',
  checksum: '9b2c4f0e6d1a8b3c5e7f9a0b2c4d6e8f0a1b3c5d7e9f1a2b4c6d8e0f2a4b6c8d', trainingWindow: { from: '2026-03-01T00:00:00.000Z', to: '2026-09-01T00:00:00.000Z' },
  featureSetVersion: 'fs_3f2a9c', dataFingerprint: '3e7a1c9b5d2f8e4a6c0b7d3f9e1a5c8b2d6f0e4a7c3b9d5f1e8a2c6b0d4f7e3a', gitRevision: 'a1b2c3d', dataSource: 'database',
  params: { epochs: 30 }, metrics: { auc: 0.84, recall_at_10pct: 0.47 }, artifactBytes: 48213, error: null,
  mlflow: { runId: null, modelVersion: null, status: null, error: null },
  model_type: 'logistic', created_at: '2026-10-30T04:12:09.000Z', feature_set_version: 'fs_3f2a9c',
  training_window: { from: '2026-03-01T00:00:00.000Z', to: '2026-09-01T00:00:00.000Z' },
  data_fingerprint: '3e7a1c9b5d2f8e4a6c0b7d3f9e1a5c8b2d6f0e4a7c3b9d5f1e8a2c6b0d4f7e3a', git_revision: 'a1b2c3d', data_source: 'database', artifact_bytes: 48213,
};

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
  input_contract: InputContract.nullable().optional().describe('what a row must look like to be scored: each feature\'s type, categories, domain (a value outside it is refused), observed range, risk direction and what a missing value is scored as (`missing_as`), the feature-set version, the account segments seen, and the features training left out (accepted in a row, not scored)'),
}).meta({ id: 'ModelVersion', examples: [MODEL_EXAMPLE] });
export type ModelResponse = z.infer<typeof ModelResponseSchema>;

export function modelResponse(m: ModelVersion): ModelResponse {
  return {
    ...m, model_type: m.modelType, created_at: m.createdAt, feature_set_version: m.featureSetVersion, training_window: m.trainingWindow,
    data_fingerprint: m.dataFingerprint, git_revision: m.gitRevision, data_source: m.dataSource, artifact_bytes: m.artifactBytes,
  };
}

/** Versions are PostgreSQL integers. */
const MAX_VERSION = 2_147_483_647;
const Version = z.string().regex(/^v?\d{1,15}$/, 'a version is a positive integer').transform((s) => Number(s.replace(/^v/, '')))
  .refine((n) => n >= 1 && n <= MAX_VERSION, `a version is a whole number from 1 to ${MAX_VERSION}`)
  .describe('a model version: 7 or v7').meta({ example: '7' });

export const VersionParamsSchema = z.object({ version: Version }).strict();

/** A version, or the alias that names one (`GET /v1/models/champion`). */
export const ModelRefParamsSchema = z.object({
  // digits (or v and digits) are a version, anything else an alias: each refused with its own rule
  version: z.string().transform((s, ctx): number | string => {
    const r = /^v?\d+$/.test(s) ? Version.safeParse(s) : AliasName.safeParse(s);
    if (r.success) return r.data;
    ctx.addIssue({ code: 'custom', message: r.error.issues[0].message });
    return z.NEVER;
  }).describe('a model version (7 or v7), or an alias (champion)').meta({ example: 'champion' }),
}).strict();

export const AliasParamsSchema = z.object({
  version: VersionParamsSchema.shape.version,
  alias: AliasName.describe('the alias to move, e.g. champion').meta({ examples: ['champion'] }),
}).strict();

export const AliasBodySchema = z.object({
  reason: z.string().trim().max(2000).optional(),
  /** move even when the promotion rule refuses it; needs a reason, recorded in the alias history */
  force: z.boolean().optional().describe('move even when the promotion rule refuses it; needs a reason, recorded in the alias history'),
}).strict().refine((b) => !b.force || b.reason, { message: 'force needs a reason (recorded in the alias history)', path: ['reason'] })
  .nullish().meta({ example: { reason: 'retrained on October data; not worse on the same rows' } });

export const AliasResponseSchema = z.object({
  alias: z.string(), from_version: z.number().int().nullable(), to_version: z.number().int(), moved: z.boolean(),
  /** promoted (not worse on the same rows), no_champion (the alias was free), forced, already */
  decision: z.string(),
  /** what the rule found, as recorded in the alias history */
  reason: z.string(),
}).meta({ examples: [{ alias: 'champion', from_version: 6, to_version: 7, moved: true, decision: 'promoted', reason: 'not worse than version 6 on the same 2,140 rows' }] });

export const ReportParamsSchema = VersionParamsSchema;
