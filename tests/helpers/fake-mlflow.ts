/**
 * A fake MLflow tracking server for tests: a real HTTP server on 127.0.0.1 speaking the REST API 2.0
 * as the MLflow server does (paths, JSON shapes, int64 as numbers, `{ error_code, message }` errors
 * with 400/404, required-field and type checks, application/json required on JSON calls, the
 * mlflow-artifacts proxy). State is in memory; every request is recorded for exact assertions.
 */
import { randomUUID } from 'node:crypto';
import http from 'node:http';
import type { AddressInfo } from 'node:net';

export interface RecordedRequest {
  method: string;
  /** path without the query string, e.g. /api/2.0/mlflow/runs/create */
  path: string;
  query: Record<string, string>;
  contentType: string | null;
  /** parsed JSON for JSON calls, the raw text for artifact uploads, null without a body */
  body: unknown;
}

export interface Fault {
  method?: string;
  /** path suffix after /api/2.0/, e.g. 'mlflow/runs/log-batch' */
  endpoint: string;
  status: number;
  errorCode?: string;
  message?: string;
  /** a non-JSON body instead (a proxy's HTML error page) */
  raw?: string;
  /** how many matching requests fail; default all */
  times?: number;
}

interface Run {
  info: Record<string, unknown> & { run_id: string; experiment_id: string; artifact_uri: string; status: string };
  params: Map<string, string>;
  metrics: Array<{ key: string; value: number; timestamp: number; step: number }>;
  tags: Map<string, string>;
}

interface ModelVersionRec { name: string; version: string; source: string; run_id?: string; description?: string; tags: Array<{ key: string; value: string }>; creation_timestamp: number; last_updated_timestamp: number; current_stage: string; status: string }

export interface FakeMlflow {
  url: string;
  requests: RecordedRequest[];
  experiments: Map<string, { experiment_id: string; name: string; artifact_location: string; lifecycle_stage: string; creation_time: number; last_update_time: number }>;
  runs: Map<string, Run>;
  artifacts: Map<string, Buffer>;
  registeredModels: Map<string, { name: string; creation_timestamp: number; last_updated_timestamp: number; description?: string; versions: ModelVersionRec[]; aliases: Map<string, string> }>;
  faults: Fault[];
  close(): Promise<void>;
}

class MlflowError extends Error {
  constructor(readonly errorCode: string, message: string, readonly status = errorCode === 'RESOURCE_DOES_NOT_EXIST' ? 404 : errorCode === 'INTERNAL_ERROR' ? 500 : 400) {
    super(message);
  }
}

const HINT = ' See the API docs for more information about request parameters.';
type Body = Record<string, unknown>;

function required(body: Body, field: string, type: 'string' | 'array' | 'number' = 'string'): void {
  const v = body[field];
  if (v === undefined || v === null || v === '') throw new MlflowError('INVALID_PARAMETER_VALUE', `Missing value for required parameter '${field}'.${HINT}`);
  optional(body, field, type);
}

function optional(body: Body, field: string, type: 'string' | 'array' | 'number' = 'string'): void {
  const v = body[field];
  if (v === undefined || v === null) return;
  const ok = type === 'array' ? Array.isArray(v) : type === 'number' ? typeof v === 'number' || (typeof v === 'string' && /^-?\d+(\.\d+)?$/.test(v)) : typeof v === 'string';
  if (!ok) throw new MlflowError('INVALID_PARAMETER_VALUE', `Invalid value ${JSON.stringify(v)} for parameter '${field}' supplied. Hint: Value was of type '${Array.isArray(v) ? 'list' : typeof v}'.${HINT}`);
}

const NAME_RE = /^[/\w.\- :]*$/;
function validName(kind: string, key: string): void {
  if (!NAME_RE.test(key) || key.startsWith('/') || key.split('/').includes('..') || key.length > 250) {
    throw new MlflowError('INVALID_PARAMETER_VALUE', `Invalid ${kind} name: '${key}'. Names may only contain alphanumerics, underscores (_), dashes (-), periods (.), spaces ( ), colon(:) and slashes (/).`);
  }
}

function safePath(p: string): string {
  const decoded = decodeURIComponent(p);
  if (!decoded || decoded.startsWith('/') || decoded.split('/').some((s) => s === '..' || s === '.') || decoded.includes('\0')) throw new MlflowError('INVALID_PARAMETER_VALUE', 'Invalid path');
  return decoded;
}

export async function startFakeMlflow(opts: { faults?: Fault[] } = {}): Promise<FakeMlflow> {
  const t0 = 1_760_000_000_000;
  let tick = 0;
  const now = () => t0 + tick++;
  const state: Omit<FakeMlflow, 'url' | 'close'> = {
    requests: [],
    experiments: new Map([['0', { experiment_id: '0', name: 'Default', artifact_location: 'mlflow-artifacts:/0', lifecycle_stage: 'active', creation_time: t0, last_update_time: t0 }]]),
    runs: new Map(),
    artifacts: new Map(),
    registeredModels: new Map(),
    faults: [...(opts.faults ?? [])],
  };
  let nextExperiment = 1;

  const getRun = (id: unknown): Run => {
    const run = typeof id === 'string' ? state.runs.get(id) : undefined;
    if (!run) throw new MlflowError('RESOURCE_DOES_NOT_EXIST', `Run with id=${String(id)} not found`);
    return run;
  };
  const getModel = (name: string) => {
    const m = state.registeredModels.get(name);
    if (!m) throw new MlflowError('RESOURCE_DOES_NOT_EXIST', `Registered Model with name=${name} not found`);
    return m;
  };
  const versionJson = (m: NonNullable<ReturnType<typeof state.registeredModels.get>>, v: ModelVersionRec) => ({
    ...v, aliases: [...m.aliases].filter(([, ver]) => ver === v.version).map(([a]) => a),
  });
  const validAlias = (alias: string) => {
    if (alias.toLowerCase() === 'latest' || /^v\d+$/i.test(alias)) throw new MlflowError('INVALID_PARAMETER_VALUE', `Invalid alias name: '${alias}'. Aliases 'latest' and 'v<number>' are reserved.`);
  };

  const routes: Record<string, (body: Body, query: Record<string, string>) => unknown> = {
    'GET mlflow/experiments/get-by-name': (_b, q) => {
      required(q, 'experiment_name');
      const e = [...state.experiments.values()].find((x) => x.name === q.experiment_name);
      if (!e) throw new MlflowError('RESOURCE_DOES_NOT_EXIST', `Could not find experiment with name '${q.experiment_name}'`);
      return { experiment: e };
    },
    'POST mlflow/experiments/create': (b) => {
      required(b, 'name');
      optional(b, 'artifact_location');
      optional(b, 'tags', 'array');
      if ([...state.experiments.values()].some((x) => x.name === b.name)) throw new MlflowError('RESOURCE_ALREADY_EXISTS', `Experiment '${String(b.name)}' already exists.`);
      const id = String(nextExperiment++);
      state.experiments.set(id, { experiment_id: id, name: String(b.name), artifact_location: `mlflow-artifacts:/${id}`, lifecycle_stage: 'active', creation_time: now(), last_update_time: now() });
      return { experiment_id: id };
    },
    'POST mlflow/runs/create': (b) => {
      optional(b, 'experiment_id');
      optional(b, 'run_name');
      optional(b, 'start_time', 'number');
      optional(b, 'tags', 'array');
      const expId = (b.experiment_id as string | undefined) ?? '0';
      if (!state.experiments.has(expId)) throw new MlflowError('RESOURCE_DOES_NOT_EXIST', `No Experiment with id=${expId} exists`);
      const runId = randomUUID().replace(/-/g, '');
      const tags = new Map(((b.tags as Array<{ key: string; value: string }>) ?? []).map((t) => [t.key, t.value]));
      const runName = (b.run_name as string | undefined) ?? `run-${runId.slice(0, 6)}`;
      tags.set('mlflow.runName', runName);
      const info = { run_uuid: runId, run_id: runId, experiment_id: expId, run_name: runName, user_id: '', status: 'RUNNING', start_time: Number(b.start_time ?? now()), artifact_uri: `mlflow-artifacts:/${expId}/${runId}/artifacts`, lifecycle_stage: 'active' };
      state.runs.set(runId, { info, params: new Map(), metrics: [], tags });
      return { run: { info, data: { tags: [...tags].map(([key, value]) => ({ key, value })) }, inputs: {} } };
    },
    'POST mlflow/runs/log-batch': (b) => {
      required(b, 'run_id');
      for (const f of ['metrics', 'params', 'tags']) optional(b, f, 'array');
      const metrics = (b.metrics as Body[] | undefined) ?? [];
      const params = (b.params as Body[] | undefined) ?? [];
      const tags = (b.tags as Body[] | undefined) ?? [];
      if (metrics.length > 1000 || params.length > 100 || tags.length > 100 || metrics.length + params.length + tags.length > 1000) {
        throw new MlflowError('INVALID_PARAMETER_VALUE', 'A batch logging request can contain at most 1000 metrics, 100 params, 100 tags and 1000 entities in total.');
      }
      for (const m of metrics) {
        for (const f of ['key', 'value', 'timestamp']) if (m[f] === undefined || m[f] === null || m[f] === '') throw new MlflowError('INVALID_PARAMETER_VALUE', `Missing value for required parameter 'metrics'.${HINT}`);
        if (typeof m.value !== 'number') throw new MlflowError('INVALID_PARAMETER_VALUE', `Got invalid value ${JSON.stringify(m.value)} for metric '${String(m.key)}'`);
        validName('metric', String(m.key));
      }
      for (const p of [...params, ...tags]) if (!p.key) throw new MlflowError('INVALID_PARAMETER_VALUE', `Missing value for required parameter 'params'.${HINT}`);
      const run = getRun(b.run_id);
      for (const p of params) {
        validName('parameter', String(p.key));
        const value = String(p.value ?? '');
        if (value.length > 6000) throw new MlflowError('INVALID_PARAMETER_VALUE', `Param value '${value.slice(0, 20)}...' had length ${value.length}, which exceeded length limit of 6000`);
        const prior = run.params.get(String(p.key));
        if (prior !== undefined && prior !== value) throw new MlflowError('INVALID_PARAMETER_VALUE', `Changing param values is not allowed. Param with key='${String(p.key)}' was already logged with value='${prior}' for run ID='${run.info.run_id}'. Attempted logging new value '${value}'.`);
        run.params.set(String(p.key), value);
      }
      for (const t of tags) run.tags.set(String(t.key), String(t.value ?? ''));
      for (const m of metrics) run.metrics.push({ key: String(m.key), value: m.value as number, timestamp: Number(m.timestamp), step: Number(m.step ?? 0) });
      return {};
    },
    'POST mlflow/runs/update': (b) => {
      required(b, 'run_id');
      optional(b, 'status');
      optional(b, 'end_time', 'number');
      if (b.status !== undefined && !['RUNNING', 'SCHEDULED', 'FINISHED', 'FAILED', 'KILLED'].includes(String(b.status))) throw new MlflowError('INVALID_PARAMETER_VALUE', `Invalid value ${JSON.stringify(b.status)} for parameter 'status' supplied.${HINT}`);
      const run = getRun(b.run_id);
      if (b.status !== undefined) run.info.status = String(b.status);
      if (b.end_time !== undefined) run.info.end_time = Number(b.end_time);
      return { run_info: run.info };
    },
    'GET mlflow/runs/get': (_b, q) => {
      required(q, 'run_id');
      const run = getRun(q.run_id);
      return { run: { info: run.info, data: {
        metrics: run.metrics, params: [...run.params].map(([key, value]) => ({ key, value })), tags: [...run.tags].map(([key, value]) => ({ key, value })),
      } } };
    },
    'POST mlflow/registered-models/create': (b) => {
      required(b, 'name');
      optional(b, 'description');
      const name = String(b.name);
      if (state.registeredModels.has(name)) throw new MlflowError('RESOURCE_ALREADY_EXISTS', `Registered Model (name=${name}) already exists.`);
      const t = now();
      state.registeredModels.set(name, { name, creation_timestamp: t, last_updated_timestamp: t, description: b.description as string | undefined, versions: [], aliases: new Map() });
      return { registered_model: { name, creation_timestamp: t, last_updated_timestamp: t, ...(b.description ? { description: b.description } : {}) } };
    },
    'GET mlflow/registered-models/get': (_b, q) => {
      required(q, 'name');
      const m = getModel(q.name);
      return { registered_model: { name: m.name, creation_timestamp: m.creation_timestamp, last_updated_timestamp: m.last_updated_timestamp,
        latest_versions: m.versions.slice(-1).map((v) => versionJson(m, v)), aliases: [...m.aliases].map(([alias, version]) => ({ alias, version })) } };
    },
    'POST mlflow/model-versions/create': (b) => {
      required(b, 'name');
      required(b, 'source');
      optional(b, 'run_id');
      optional(b, 'description');
      optional(b, 'tags', 'array');
      const source = String(b.source);
      if (/^(file:|\/)/.test(source) || source.split('/').includes('..')) throw new MlflowError('INVALID_PARAMETER_VALUE', `Invalid model version source: '${source}'.`);
      const m = getModel(String(b.name));
      if (b.run_id) getRun(b.run_id);
      const t = now();
      const v: ModelVersionRec = { name: m.name, version: String(m.versions.length + 1), source, run_id: b.run_id as string | undefined, description: b.description as string | undefined,
        tags: (b.tags as Array<{ key: string; value: string }>) ?? [], creation_timestamp: t, last_updated_timestamp: t, current_stage: 'None', status: 'READY' };
      m.versions.push(v);
      return { model_version: versionJson(m, v) };
    },
    'POST mlflow/registered-models/alias': (b) => {
      required(b, 'name');
      required(b, 'alias');
      required(b, 'version');
      const m = getModel(String(b.name));
      validAlias(String(b.alias));
      if (!m.versions.some((v) => v.version === b.version)) throw new MlflowError('RESOURCE_DOES_NOT_EXIST', `Model Version (name=${m.name}, version=${String(b.version)}) not found`);
      m.aliases.set(String(b.alias), String(b.version));
      return {};
    },
    'DELETE mlflow/registered-models/alias': (b) => {
      required(b, 'name');
      required(b, 'alias');
      getModel(String(b.name)).aliases.delete(String(b.alias));
      return {};
    },
    'GET mlflow/registered-models/alias': (_b, q) => {
      required(q, 'name');
      required(q, 'alias');
      const m = getModel(q.name);
      const version = m.aliases.get(q.alias);
      if (!version) throw new MlflowError('INVALID_PARAMETER_VALUE', `Registered model alias ${q.alias} not found.`);
      return { model_version: versionJson(m, m.versions.find((v) => v.version === version)!) };
    },
  };

  const server = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const url = new URL(req.url ?? '/', 'http://fake');
      const method = req.method ?? 'GET';
      const raw = Buffer.concat(chunks);
      const contentType = req.headers['content-type'] ?? null;
      const query = Object.fromEntries(url.searchParams);
      const isArtifact = url.pathname.startsWith('/api/2.0/mlflow-artifacts/artifacts/');
      let body: unknown = null;
      if (raw.length) {
        if (isArtifact) body = raw.toString('utf8');
        else try { body = JSON.parse(raw.toString('utf8')); } catch { body = raw.toString('utf8'); }
      }
      state.requests.push({ method, path: url.pathname, query, contentType, body });
      const send = (status: number, payload: unknown, type = 'application/json') => {
        res.writeHead(status, { 'content-type': type });
        res.end(typeof payload === 'string' ? payload : JSON.stringify(payload));
      };
      const endpoint = url.pathname.replace(/^\/api\/2\.0\//, '');
      const fault = state.faults.find((f) => (f.method ?? method) === method && endpoint === f.endpoint && (f.times === undefined || f.times > 0));
      if (fault) {
        if (fault.times !== undefined) fault.times--;
        if (fault.raw !== undefined) return send(fault.status, fault.raw, 'text/html');
        return send(fault.status, { error_code: fault.errorCode ?? 'INTERNAL_ERROR', message: fault.message ?? 'injected failure' });
      }
      try {
        if (isArtifact) {
          const p = safePath(endpoint.slice('mlflow-artifacts/artifacts/'.length));
          if (method === 'PUT') {
            state.artifacts.set(p, raw);
            return send(200, {});
          }
          if (method === 'GET') {
            const data = state.artifacts.get(p);
            if (!data) throw new MlflowError('RESOURCE_DOES_NOT_EXIST', `File ${p} not found`);
            res.writeHead(200, { 'content-type': 'application/octet-stream' });
            return res.end(data);
          }
        }
        const handler = url.pathname.startsWith('/api/2.0/') ? routes[`${method} ${endpoint}`] : undefined;
        if (!handler) return send(404, '<!doctype html><title>404 Not Found</title><h1>Not Found</h1>', 'text/html');
        let json: Body = query;
        if (method !== 'GET') {
          if (!String(contentType ?? '').startsWith('application/json')) throw new MlflowError('INVALID_PARAMETER_VALUE', `Bad Request. Content-Type must be one of ['application/json'].`);
          json = body && typeof body === 'object' && !Array.isArray(body) ? (body as Body) : {};
        }
        return send(200, handler(json, query));
      } catch (err) {
        if (err instanceof MlflowError) return send(err.status, { error_code: err.errorCode, message: err.message });
        return send(500, { error_code: 'INTERNAL_ERROR', message: (err as Error).message });
      }
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    ...state,
    url: `http://127.0.0.1:${port}`,
    close: () => new Promise<void>((resolve) => {
      server.close(() => resolve());
      server.closeAllConnections();
    }),
  };
}
