/** MLflow mirroring over the REST API 2.0 (used only when MLFLOW_TRACKING_URI is set). */
export { LOG_BATCH_LIMITS, MlflowClient, mlflowErrorCode, proxiedArtifactPath, type LogBatchInput, type MlflowClientOptions, type MlflowErrorDetails } from './client.ts';
export { chunkBatches, logTrainingRun, mirrorAliasToMlflow, mirrorToMlflow, mlflowKey, toMlflowMetrics, toMlflowParams, type TrainingRunLog, type TrainingRunLogged } from './log-run.ts';
