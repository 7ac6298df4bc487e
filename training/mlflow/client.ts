/**
 * A small typed client for the MLflow tracking server's REST API 2.0 over fetch: experiments, runs,
 * batch logging, the mlflow-artifacts proxy (artifact upload) and the model registry with aliases.
 * Every non-2xx answer becomes ChurnError CHURN_ERR_MLFLOW carrying the server's error_code and message.
 */
import type { z } from 'zod';
import { ChurnError } from '../../core/errors.ts';
import * as S from './schemas.ts';

export interface MlflowClientOptions {
  /** the tracking server, e.g. http://127.0.0.1:5000 (MLFLOW_TRACKING_URI) */
  trackingUri: string;
  /** per-request timeout, default 15 s */
  timeoutMs?: number;
  /** extra headers, e.g. Authorization */
  headers?: Record<string, string>;
  fetch?: typeof fetch;
}

export interface MlflowErrorDetails {
  method: string;
  endpoint: string;
  status: number | null;
  errorCode: string | null;
}

/** The server's error_code of a CHURN_ERR_MLFLOW error (e.g. RESOURCE_ALREADY_EXISTS), else null. */
export function mlflowErrorCode(err: unknown): string | null {
  if (!(err instanceof ChurnError) || err.code !== 'CHURN_ERR_MLFLOW') return null;
  return (err.details as MlflowErrorDetails | undefined)?.errorCode ?? null;
}

export interface LogBatchInput {
  metrics?: Array<{ key: string; value: number; timestamp: number; step?: number }>;
  params?: Array<{ key: string; value: string }>;
  tags?: Array<{ key: string; value: string }>;
}

/** The documented per-request limits of runs/log-batch. */
export const LOG_BATCH_LIMITS = { metrics: 1000, params: 100, tags: 100, total: 1000 } as const;

export class MlflowClient {
  readonly base: string;
  private readonly timeoutMs: number;
  private readonly headers: Record<string, string>;
  private readonly fetchFn: typeof fetch;

  constructor(opts: MlflowClientOptions) {
    let url: URL;
    try {
      url = new URL(opts.trackingUri);
    } catch {
      throw new ChurnError('CHURN_ERR_CONFIG', `MLFLOW_TRACKING_URI is not a URL: ${opts.trackingUri}`);
    }
    if (url.protocol !== 'http:' && url.protocol !== 'https:') {
      throw new ChurnError('CHURN_ERR_CONFIG', `MLFLOW_TRACKING_URI must be an http(s) tracking server, got ${url.protocol}`);
    }
    this.base = url.toString().replace(/\/+$/, '');
    this.timeoutMs = opts.timeoutMs ?? 15_000;
    this.headers = opts.headers ?? {};
    this.fetchFn = opts.fetch ?? fetch;
  }

  private async call<T extends z.ZodType>(method: 'GET' | 'POST' | 'PUT' | 'DELETE', endpoint: string, schema: T, opts: { query?: Record<string, string>; json?: unknown; body?: Buffer; contentType?: string } = {}): Promise<z.infer<T>> {
    const qs = opts.query ? `?${new URLSearchParams(opts.query).toString()}` : '';
    const url = `${this.base}/api/2.0/${endpoint}${qs}`;
    const headers: Record<string, string> = { accept: 'application/json', ...this.headers };
    let body: string | Uint8Array<ArrayBuffer> | undefined;
    if (opts.json !== undefined) {
      headers['content-type'] = 'application/json';
      body = JSON.stringify(opts.json);
    } else if (opts.body) {
      headers['content-type'] = opts.contentType ?? 'application/octet-stream';
      body = new Uint8Array(opts.body);
    }
    const details = (status: number | null, errorCode: string | null): MlflowErrorDetails => ({ method, endpoint, status, errorCode });
    let res: Response;
    try {
      res = await this.fetchFn(url, { method, headers, body, signal: AbortSignal.timeout(this.timeoutMs) });
    } catch (err) {
      throw new ChurnError('CHURN_ERR_MLFLOW', `${method} ${endpoint}: cannot reach the MLflow server at ${this.base}: ${(err as Error).message}`, { cause: err, details: details(null, null) });
    }
    const text = await res.text();
    let json: unknown = undefined;
    try {
      json = text ? JSON.parse(text) : {};
    } catch {
      json = undefined;
    }
    if (!res.ok) {
      const e = S.MlflowErrorBody.safeParse(json);
      const what = e.success ? `${e.data.error_code}: ${e.data.message ?? ''}`.trim() : text.slice(0, 200).replace(/\s+/g, ' ') || res.statusText;
      throw new ChurnError('CHURN_ERR_MLFLOW', `${method} ${endpoint}: HTTP ${res.status} ${what}`, { details: details(res.status, e.success ? e.data.error_code : null) });
    }
    const parsed = schema.safeParse(json);
    if (!parsed.success) {
      throw new ChurnError('CHURN_ERR_MLFLOW', `${method} ${endpoint}: unexpected response from the MLflow server: ${text.slice(0, 200)}`, { details: details(res.status, null) });
    }
    return parsed.data;
  }

  /** The experiment with this name, or null when there is none. */
  async getExperimentByName(name: string): Promise<S.Experiment | null> {
    try {
      return (await this.call('GET', 'mlflow/experiments/get-by-name', S.GetExperimentResponse, { query: { experiment_name: name } })).experiment;
    } catch (err) {
      if (mlflowErrorCode(err) === 'RESOURCE_DOES_NOT_EXIST') return null;
      throw err;
    }
  }

  async createExperiment(name: string): Promise<string> {
    return (await this.call('POST', 'mlflow/experiments/create', S.CreateExperimentResponse, { json: { name } })).experiment_id;
  }

  /** The experiment's id, creating it when missing (and tolerating a concurrent creator). */
  async ensureExperiment(name: string): Promise<string> {
    const found = await this.getExperimentByName(name);
    if (found) return found.experiment_id;
    try {
      return await this.createExperiment(name);
    } catch (err) {
      if (mlflowErrorCode(err) !== 'RESOURCE_ALREADY_EXISTS') throw err;
      const again = await this.getExperimentByName(name);
      if (!again) throw err;
      return again.experiment_id;
    }
  }

  async createRun(input: { experimentId: string; runName?: string; startTime: number; tags?: Array<{ key: string; value: string }> }): Promise<S.RunInfo> {
    const json = { experiment_id: input.experimentId, run_name: input.runName, start_time: input.startTime, tags: input.tags ?? [] };
    return (await this.call('POST', 'mlflow/runs/create', S.CreateRunResponse, { json })).run.info;
  }

  async logBatch(runId: string, batch: LogBatchInput): Promise<void> {
    await this.call('POST', 'mlflow/runs/log-batch', S.EmptyResponse, { json: { run_id: runId, metrics: batch.metrics ?? [], params: batch.params ?? [], tags: batch.tags ?? [] } });
  }

  async updateRun(runId: string, status: 'RUNNING' | 'FINISHED' | 'FAILED' | 'KILLED', endTime?: number): Promise<void> {
    await this.call('POST', 'mlflow/runs/update', S.UpdateRunResponse, { json: { run_id: runId, status, end_time: endTime } });
  }

  /** Uploads one file under a run's artifact root through the server's mlflow-artifacts proxy. */
  async uploadArtifact(runArtifactUri: string, relativePath: string, data: Buffer, contentType = 'application/octet-stream'): Promise<string> {
    const root = proxiedArtifactPath(runArtifactUri);
    const rel = relativePath.split('/').filter(Boolean);
    if (!rel.length || rel.some((p) => p === '..' || p === '.')) throw new ChurnError('CHURN_ERR_VALIDATION', `invalid artifact path: ${relativePath}`);
    const full = [...root.split('/').filter(Boolean), ...rel];
    await this.call('PUT', `mlflow-artifacts/artifacts/${full.map(encodeURIComponent).join('/')}`, S.EmptyResponse, { body: data, contentType });
    return `${runArtifactUri.replace(/\/+$/, '')}/${rel.join('/')}`;
  }

  /** Creates the registered model; false when it already existed. */
  async createRegisteredModel(name: string, description?: string): Promise<boolean> {
    try {
      await this.call('POST', 'mlflow/registered-models/create', S.RegisteredModelResponse, { json: { name, description } });
      return true;
    } catch (err) {
      if (mlflowErrorCode(err) === 'RESOURCE_ALREADY_EXISTS') return false;
      throw err;
    }
  }

  async createModelVersion(input: { name: string; source: string; runId?: string; description?: string; tags?: Array<{ key: string; value: string }> }): Promise<S.ModelVersion> {
    const json = { name: input.name, source: input.source, run_id: input.runId, description: input.description, tags: input.tags ?? [] };
    return (await this.call('POST', 'mlflow/model-versions/create', S.ModelVersionResponse, { json })).model_version;
  }

  async setRegisteredModelAlias(name: string, alias: string, version: string): Promise<void> {
    await this.call('POST', 'mlflow/registered-models/alias', S.EmptyResponse, { json: { name, alias, version } });
  }

  async deleteRegisteredModelAlias(name: string, alias: string): Promise<void> {
    await this.call('DELETE', 'mlflow/registered-models/alias', S.EmptyResponse, { json: { name, alias } });
  }

  async getModelVersionByAlias(name: string, alias: string): Promise<S.ModelVersion> {
    return (await this.call('GET', 'mlflow/registered-models/alias', S.ModelVersionResponse, { query: { name, alias } })).model_version;
  }
}

/**
 * The path under the artifact proxy of a run's artifact root: `mlflow-artifacts:/1/<run>/artifacts`
 * (or `mlflow-artifacts://host/...`, or an http(s) URL under /api/2.0/mlflow-artifacts/artifacts/).
 * Roots the server does not proxy (s3://, file paths) cannot be written through the REST API.
 */
export function proxiedArtifactPath(artifactUri: string): string {
  const anchor = '/api/2.0/mlflow-artifacts/artifacts/';
  if (artifactUri.startsWith('mlflow-artifacts:')) return new URL(artifactUri).pathname.replace(/^\/+/, '');
  if (/^https?:/.test(artifactUri) && artifactUri.includes(anchor)) return new URL(artifactUri).pathname.split(anchor)[1].replace(/^\/+/, '');
  throw new ChurnError('CHURN_ERR_MLFLOW', `the run's artifact location ${artifactUri} is not served by the tracking server; start it with --serve-artifacts (the default since MLflow 2.0) so artifacts can be uploaded over REST`, { details: { method: 'PUT', endpoint: 'mlflow-artifacts/artifacts', status: null, errorCode: null } });
}
