import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { canonicalJson } from '../training/registry/canonical.ts';
import { getModel, registerModel, type RegisterModelInput } from '../training/registry/index.ts';
import { chunkBatches, logTrainingRun, mirrorToMlflow, MlflowClient, mlflowKey, proxiedArtifactPath, toMlflowMetrics, toMlflowParams } from '../training/mlflow/index.ts';
import { createTestDatabase, type TestDatabase } from './helpers/db.ts';
import { startFakeMlflow, type FakeMlflow } from './helpers/fake-mlflow.ts';

const artifact = { kind: 'mlp', layers: [{ units: 8, weights: [0.1, -0.2] }], preprocessing: { means: { active_days_28d: 11.5 } }, calibration: { a: 1, b: 0 } };
const metrics = { validation: { auc: 0.81, brier: 0.12, ci: { auc: { lower: 0.78, upper: 0.84 } } }, test: { auc: 0.8, 'lift@10%': 3.1 }, rows: { train: 800, 'odd key!': 5 }, reliability: [{ bin: 0 }] };
const params = { model: 'mlp', hidden: [16, 8], optimizer: { name: 'adam', lr: 0.01 }, seed: 7 };
let clock = 1_770_000_000_000;
const now = () => clock++;

function registration(): RegisterModelInput {
  return { modelType: 'mlp', artifact, params, metrics, trainingWindow: null, featureSetVersion: 'fs1', dataFingerprint: 'a'.repeat(64), gitRevision: 'deadbeef', dataSource: 'csv:train.csv' };
}

describe('MLflow logging against a fake that follows the REST API 2.0', () => {
  let fake: FakeMlflow;
  let db: TestDatabase;
  beforeAll(async () => {
    db = await createTestDatabase();
  });
  afterAll(async () => {
    await db?.drop();
  });
  afterEach(async () => {
    await fake?.close();
  });

  it('logs a training run with the exact documented request sequence and bodies', async () => {
    fake = await startFakeMlflow();
    const logged = await logTrainingRun(fake.url, { experiment: 'churn-exp', modelName: 'churn-model', params, metrics, artifactJson: artifact, version: 12, aliases: ['champion'], gitRevision: 'deadbeef', user: 'tester', now });
    const seq = fake.requests.map((r) => `${r.method} ${r.path}`);
    const runId = logged.runId;
    expect(seq).toEqual([
      'GET /api/2.0/mlflow/experiments/get-by-name',
      'POST /api/2.0/mlflow/experiments/create',
      'POST /api/2.0/mlflow/runs/create',
      'POST /api/2.0/mlflow/runs/log-batch',
      `PUT /api/2.0/mlflow-artifacts/artifacts/1/${runId}/artifacts/model/model.json`,
      'POST /api/2.0/mlflow/runs/update',
      'POST /api/2.0/mlflow/registered-models/create',
      'POST /api/2.0/mlflow/model-versions/create',
      'POST /api/2.0/mlflow/registered-models/alias',
    ]);
    const [getByName, createExp, createRun, batch, upload, update, createModel, createVersion, alias] = fake.requests;
    expect(getByName.query).toEqual({ experiment_name: 'churn-exp' });
    expect(createExp.body).toEqual({ name: 'churn-exp' });
    expect(createRun.body).toMatchObject({ experiment_id: '1', run_name: 'churnlens-v12', start_time: expect.any(Number) });
    expect((createRun.body as { tags: unknown[] }).tags).toEqual(expect.arrayContaining([{ key: 'mlflow.source.git.commit', value: 'deadbeef' }, { key: 'mlflow.user', value: 'tester' }]));
    const b = batch.body as { run_id: string; params: Array<{ key: string; value: string }>; metrics: Array<{ key: string; value: number; timestamp: number; step: number }>; tags: unknown[] };
    expect(b.run_id).toBe(runId);
    expect(b.params).toEqual([
      { key: 'model', value: 'mlp' }, { key: 'hidden', value: '[16,8]' }, { key: 'optimizer.name', value: 'adam' }, { key: 'optimizer.lr', value: '0.01' }, { key: 'seed', value: '7' },
    ]);
    expect(Object.fromEntries(b.metrics.map((m) => [m.key, m.value]))).toEqual({
      'validation.auc': 0.81, 'validation.brier': 0.12, 'validation.ci.auc.lower': 0.78, 'validation.ci.auc.upper': 0.84, 'test.auc': 0.8, 'test.lift_10_': 3.1, 'rows.train': 800, 'rows.odd key_': 5,
    });
    expect(b.metrics.every((m) => m.step === 0 && Number.isInteger(m.timestamp))).toBe(true);
    expect(b.tags).toEqual([{ key: 'churnlens.version', value: '12' }]);
    expect(upload.body).toBe(canonicalJson(artifact));
    expect(fake.artifacts.get(`1/${runId}/artifacts/model/model.json`)?.toString()).toBe(canonicalJson(artifact));
    expect(update.body).toMatchObject({ run_id: runId, status: 'FINISHED', end_time: expect.any(Number) });
    expect(createModel.body).toMatchObject({ name: 'churn-model' });
    expect(createVersion.body).toEqual({ name: 'churn-model', source: `mlflow-artifacts:/1/${runId}/artifacts/model`, run_id: runId, description: 'churnlens registry version 12', tags: [{ key: 'churnlens.version', value: '12' }] });
    expect(alias.body).toEqual({ name: 'churn-model', alias: 'champion', version: '1' });
    expect(logged).toEqual({ experimentId: '1', runId, artifactUri: `mlflow-artifacts:/1/${runId}/artifacts`, modelName: 'churn-model', modelVersion: '1', aliases: ['champion'] });
    expect(fake.runs.get(runId)?.info.status).toBe('FINISHED');
    expect(fake.registeredModels.get('churn-model')?.aliases.get('champion')).toBe('1');
  });

  it('reuses the experiment and registered model on a second run and numbers the next version', async () => {
    fake = await startFakeMlflow();
    await logTrainingRun(fake.url, { params, metrics, artifactJson: artifact, version: 1, aliases: ['champion'], now });
    fake.requests.length = 0;
    const second = await logTrainingRun(fake.url, { params, metrics, artifactJson: artifact, version: 2, aliases: [], now });
    expect(fake.requests.map((r) => r.path.replace(`/${second.runId}/`, '/RUN/'))).toEqual([
      '/api/2.0/mlflow/experiments/get-by-name', '/api/2.0/mlflow/runs/create', '/api/2.0/mlflow/runs/log-batch',
      '/api/2.0/mlflow-artifacts/artifacts/1/RUN/artifacts/model/model.json', '/api/2.0/mlflow/runs/update', '/api/2.0/mlflow/registered-models/create',
      '/api/2.0/mlflow/model-versions/create',
    ]);
    expect(second.modelVersion).toBe('2');
    expect(fake.registeredModels.get('churnlens')?.aliases.get('champion')).toBe('1');
  });

  it('fails with CHURN_ERR_MLFLOW carrying the server error, marks the run FAILED, and keeps the PostgreSQL registration', async () => {
    fake = await startFakeMlflow({ faults: [{ endpoint: 'mlflow/runs/log-batch', status: 500, errorCode: 'INTERNAL_ERROR', message: 'database is locked' }] });
    const version = await registerModel(db.pool, registration());
    const err = await logTrainingRun(fake.url, { params, metrics, artifactJson: artifact, version: version.version, aliases: ['champion'], now }).catch((e: unknown) => e);
    expect(err).toMatchObject({ code: 'CHURN_ERR_MLFLOW', message: expect.stringContaining('HTTP 500 INTERNAL_ERROR: database is locked') });
    const run = [...fake.runs.values()][0];
    expect(run.info.status).toBe('FAILED');
    expect(fake.requests.some((r) => r.path.includes('model-versions'))).toBe(false);
    const mirrored = await mirrorToMlflow(db.pool, fake.url, { params, metrics, artifactJson: artifact, version: version.version, aliases: [], now });
    expect(mirrored).toBeNull();
    const stored = await getModel(db.pool, version.version);
    expect(stored.mlflow).toMatchObject({ status: 'failed', error: expect.stringContaining('CHURN_ERR_MLFLOW') });
    expect(stored.checksum).toBe(version.checksum);
  });

  it('reports a 400 from the registry (alias on an unknown model version) and a proxy HTML error', async () => {
    fake = await startFakeMlflow({ faults: [{ endpoint: 'mlflow/registered-models/alias', status: 400, errorCode: 'INVALID_PARAMETER_VALUE', message: 'bad alias' }] });
    await expect(logTrainingRun(fake.url, { params, metrics, artifactJson: artifact, version: 3, aliases: ['champion'], now }))
      .rejects.toMatchObject({ code: 'CHURN_ERR_MLFLOW', details: { status: 400, errorCode: 'INVALID_PARAMETER_VALUE' } });
    await fake.close();
    fake = await startFakeMlflow({ faults: [{ endpoint: 'mlflow/experiments/get-by-name', status: 502, raw: '<html>Bad Gateway</html>' }] });
    await expect(logTrainingRun(fake.url, { params, metrics, artifactJson: artifact, version: 3, aliases: [], now }))
      .rejects.toMatchObject({ code: 'CHURN_ERR_MLFLOW', message: expect.stringContaining('HTTP 502') });
  });

  it('records the MLflow ids on the PostgreSQL version when mirroring succeeds', async () => {
    fake = await startFakeMlflow();
    const version = await registerModel(db.pool, registration());
    const logged = await mirrorToMlflow(db.pool, fake.url, { params, metrics, artifactJson: artifact, version: version.version, aliases: ['challenger'], now });
    expect(logged).not.toBeNull();
    expect((await getModel(db.pool, version.version)).mlflow).toEqual({ runId: logged!.runId, modelVersion: '1', status: 'logged', error: null });
  });

  it('answers like MLflow to requests that break the protocol', async () => {
    fake = await startFakeMlflow();
    const client = new MlflowClient({ trackingUri: fake.url });
    const res = await fetch(`${fake.url}/api/2.0/mlflow/experiments/create`, { method: 'POST', body: '{"name":"x"}', headers: { 'content-type': 'text/plain' } });
    expect(res.status).toBe(400);
    expect(await res.json()).toMatchObject({ error_code: 'INVALID_PARAMETER_VALUE' });
    await expect(client.createExperiment('')).rejects.toMatchObject({ details: { status: 400, errorCode: 'INVALID_PARAMETER_VALUE' } });
    await expect(client.logBatch('nope', { params: [{ key: 'a', value: '1' }] })).rejects.toMatchObject({ details: { status: 404, errorCode: 'RESOURCE_DOES_NOT_EXIST' } });
    const exp = await client.ensureExperiment('e');
    const run = await client.createRun({ experimentId: exp, startTime: 1 });
    await client.logBatch(run.run_id, { params: [{ key: 'lr', value: '0.1' }] });
    await expect(client.logBatch(run.run_id, { params: [{ key: 'lr', value: '0.2' }] })).rejects.toMatchObject({ message: expect.stringContaining('Changing param values is not allowed') });
    expect(await client.getExperimentByName('missing')).toBeNull();
    expect(await client.createRegisteredModel('m')).toBe(true);
    expect(await client.createRegisteredModel('m')).toBe(false);
    await expect(client.setRegisteredModelAlias('m', 'champion', '1')).rejects.toMatchObject({ details: { status: 404 } });
  });
});

describe('MLflow payload rules', () => {
  it('keeps keys within MLflow naming rules and batches within the documented limits', () => {
    expect(mlflowKey('test.lift@10%')).toBe('test.lift_10_');
    expect(mlflowKey('/../x')).toBe('./x');
    const many = toMlflowMetrics(Object.fromEntries(Array.from({ length: 2500 }, (_, i) => [`m${i}`, i])), 1);
    const batches = chunkBatches({ metrics: many, params: toMlflowParams(Object.fromEntries(Array.from({ length: 150 }, (_, i) => [`p${i}`, i]))), tags: [] });
    expect(batches.every((x) => (x.metrics?.length ?? 0) <= 1000 && (x.params?.length ?? 0) <= 100 && (x.metrics?.length ?? 0) + (x.params?.length ?? 0) <= 1000)).toBe(true);
    expect(batches.reduce((s, x) => s + (x.metrics?.length ?? 0), 0)).toBe(2500);
    expect(batches.reduce((s, x) => s + (x.params?.length ?? 0), 0)).toBe(150);
  });

  it('flattens a list of objects by position and keeps a list of numbers as JSON', () => {
    const flat = Object.fromEntries(toMlflowParams({ model: { members: [{ params: { maxDepth: 5 }, rounds: 153 }, { params: { maxDepth: 3 }, rounds: 40 }] }, hidden: [16, 8] }).map((p) => [p.key, p.value]));
    expect(flat).toEqual({ 'model.members.0.params.maxDepth': '5', 'model.members.0.rounds': '153', 'model.members.1.params.maxDepth': '3', 'model.members.1.rounds': '40', hidden: '[16,8]' });
  });

  it('maps run artifact roots onto the artifact proxy and refuses roots it does not serve', () => {
    expect(proxiedArtifactPath('mlflow-artifacts:/3/abc/artifacts')).toBe('3/abc/artifacts');
    expect(proxiedArtifactPath('mlflow-artifacts://host:5000/3/abc/artifacts')).toBe('3/abc/artifacts');
    expect(proxiedArtifactPath('http://h:5000/api/2.0/mlflow-artifacts/artifacts/3/abc/artifacts')).toBe('3/abc/artifacts');
    expect(() => proxiedArtifactPath('s3://bucket/3/abc/artifacts')).toThrow(/not served by the tracking server/);
    expect(() => new MlflowClient({ trackingUri: 'file:///tmp/mlruns' })).toThrow(/http\(s\)/);
  });
});
