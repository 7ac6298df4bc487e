import { z } from 'zod';

export const ModelVersionSchema = z.object({
  version: z.number().int(),
  modelType: z.string(),
  status: z.string(),
  aliases: z.array(z.string()),
  createdAt: z.string(),
  checksum: z.string(),
  featureSetVersion: z.string().nullable(),
  trainingWindow: z.object({ from: z.string(), to: z.string() }).nullable(),
  dataFingerprint: z.string(),
  gitRevision: z.string(),
  dataSource: z.string(),
  params: z.record(z.string(), z.unknown()),
  metrics: z.record(z.string(), z.unknown()),
  artifactBytes: z.number().int(),
  error: z.string().nullable(),
  mlflow: z.object({ runId: z.string().nullable(), modelVersion: z.string().nullable(), status: z.enum(['logged', 'failed']).nullable(), error: z.string().nullable() }),
}).meta({ id: 'ModelVersion' });

export const VersionParamsSchema = z.object({ version: z.string().regex(/^v?\d{1,9}$/, 'a version is a positive integer').transform((s) => Number(s.replace(/^v/, ''))).refine((n) => n >= 1, 'a version is a positive integer') }).strict();

export const AliasParamsSchema = z.object({
  version: VersionParamsSchema.shape.version,
  alias: z.string().regex(/^[a-z][a-z0-9_-]{0,62}$/, 'an alias is a lower-case name: letters, digits, _ and -'),
}).strict();

export const AliasBodySchema = z.object({ reason: z.string().max(2000).optional() }).strict().nullish();

export const AliasResponseSchema = z.object({ alias: z.string(), from_version: z.number().int().nullable(), to_version: z.number().int(), moved: z.boolean() });

export const ReportParamsSchema = VersionParamsSchema;
