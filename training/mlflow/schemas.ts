/**
 * MLflow REST API 2.0 response shapes (the fields we read). MLflow serialises int64 fields as JSON
 * numbers, protobuf's JSON mapping as strings: both are accepted.
 */
import { z } from 'zod';

const Int64 = z.union([z.number(), z.string().regex(/^-?\d+$/)]).transform(Number);

export const MlflowErrorBody = z.object({ error_code: z.string(), message: z.string().optional() }).loose();

export const KeyValue = z.object({ key: z.string(), value: z.string().optional() });

export const Experiment = z.object({
  experiment_id: z.string(),
  name: z.string(),
  artifact_location: z.string().optional(),
  lifecycle_stage: z.string().optional(),
}).loose();
export type Experiment = z.infer<typeof Experiment>;

export const GetExperimentResponse = z.object({ experiment: Experiment });
export const CreateExperimentResponse = z.object({ experiment_id: z.string() });

export const RunInfo = z.object({
  run_id: z.string(),
  experiment_id: z.string(),
  status: z.enum(['RUNNING', 'SCHEDULED', 'FINISHED', 'FAILED', 'KILLED']).optional(),
  start_time: Int64.optional(),
  end_time: Int64.optional(),
  artifact_uri: z.string(),
  lifecycle_stage: z.string().optional(),
}).loose();
export type RunInfo = z.infer<typeof RunInfo>;

export const CreateRunResponse = z.object({ run: z.object({ info: RunInfo }).loose() });
export const UpdateRunResponse = z.object({ run_info: RunInfo.partial({ artifact_uri: true }).optional() });
export const EmptyResponse = z.object({}).loose();

export const RegisteredModel = z.object({ name: z.string() }).loose();
export const RegisteredModelResponse = z.object({ registered_model: RegisteredModel });

export const ModelVersion = z.object({
  name: z.string(),
  version: z.string(),
  source: z.string().optional(),
  run_id: z.string().optional(),
  status: z.string().optional(),
  aliases: z.array(z.string()).optional(),
}).loose();
export type ModelVersion = z.infer<typeof ModelVersion>;
export const ModelVersionResponse = z.object({ model_version: ModelVersion });
