import { execFile } from 'node:child_process';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { mirrorToMlflow } from '../training/mlflow/index.ts';
import { loadCatalog } from '../features/catalog.ts';
import { aliasHistory, getModel, recordFailedRun, registerModel, setAlias, type RegisterModelInput } from '../training/registry/index.ts';
import { createTestDatabase, type TestDatabase } from './helpers/db.ts';
import { startFakeMlflow } from './helpers/fake-mlflow.ts';

const BIN = path.resolve('bin/churn.js');

function churn(db: TestDatabase, args: string[], env: Record<string, string> = {}): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(process.execPath, [BIN, ...args], { env: { ...process.env, DATABASE_URL: db.url, USER: 'erin', CHURN_LOG_LEVEL: 'error', MLFLOW_TRACKING_URI: '', ...env }, timeout: 60_000 }, (err, stdout, stderr) => {
      resolve({ code: err ? Number((err as { code?: number }).code ?? 1) : 0, stdout, stderr });
    });
  });
}

const CATALOG = loadCatalog().version;

function model(auc: number, fingerprint = 'a'.repeat(64), featureSetVersion: string | null = CATALOG): RegisterModelInput {
  return {
    modelType: 'logistic', artifact: { w: [auc] }, params: { l2: 0.1 }, metrics: { validation: { auc }, test: { auc: auc - 0.02 } },
    trainingWindow: null, featureSetVersion, dataFingerprint: fingerprint, gitRevision: 'abc', dataSource: featureSetVersion ? 'database' : 'csv:t.csv',
  };
}

describe('churn models (CLI)', () => {
  let db: TestDatabase;
  let good: number;
  let worse: number;
  let otherData: number;
  let csvModel: number;
  beforeAll(async () => {
    db = await createTestDatabase();
    good = (await registerModel(db.pool, model(0.81))).version;
    worse = (await registerModel(db.pool, model(0.7))).version;
    otherData = (await registerModel(db.pool, model(0.6, 'b'.repeat(64)))).version;
    csvModel = (await registerModel(db.pool, model(0.95, 'c'.repeat(64), null))).version;
    await recordFailedRun(db.pool, { modelType: 'mlp', params: {}, error: 'boom' });
    await setAlias(db.pool, { alias: 'champion', version: good, actor: 'train' });
  });
  afterAll(async () => {
    await db?.drop();
  });

  it('lists versions with AUCs, aliases and status, newest first', async () => {
    const r = await churn(db, ['models', 'list']);
    expect(r.code).toBe(0);
    const lines = r.stdout.trim().split('\n');
    expect(lines[0]).toMatch(/^VERSION\s+TYPE\s+CREATED\s+AUC VALID\s+AUC TEST\s+FEATURE SET\s+ALIASES\s+STATUS$/);
    expect(lines.slice(1).map((l) => Number(l.split(/\s+/)[0]))).toEqual([csvModel, otherData, worse, good]);
    expect(lines.find((l) => l.startsWith(`${good} `))).toMatch(new RegExp(`0\\.8100\\s+0\\.7900\\s+${CATALOG}\\s+champion\\s+candidate$`));
    const all = await churn(db, ['models', 'list', '--all']);
    expect(all.stdout).toMatch(/\s+failed$/m);
  });

  it('shows one version with lineage, metrics and alias history', async () => {
    const text = await churn(db, ['models', 'show', 'champion']);
    expect(text.code, text.stderr).toBe(0);
    expect(text.stdout).toMatch(new RegExp(`^version +${good} +logistic +candidate +aliases: champion$`, 'm'));
    expect(text.stdout).toMatch(/^metrics +test +AUC 0\.790$/m);
    expect(text.stdout).toMatch(new RegExp(`^alias .* champion: unset -> v${good} by train$`, 'm'));
    const r = await churn(db, ['models', 'show', 'champion', '--json']);
    expect(r.code).toBe(0);
    const d = JSON.parse(r.stdout);
    expect(d).toMatchObject({ version: good, aliases: ['champion'], lineage: { dataFingerprint: 'a'.repeat(64), featureSetVersion: CATALOG }, metricsSummary: { 'validation.auc': 0.81 } });
    expect(d.aliasHistory[0]).toMatchObject({ alias: 'champion', fromVersion: null, toVersion: good, movedBy: 'train' });
  });

  it('refuses a version not trained on the feature catalogue, and one worse on the same rows; --force with a reason moves it, recorded', async () => {
    const csv = await churn(db, ['models', 'promote', String(csvModel), '--alias', 'champion']);
    expect(csv.code).toBe(1);
    expect(csv.stderr).toMatch(new RegExp(`^CHURN_ERR_FEATURE_MISMATCH: version ${csvModel} was trained on a prepared table \\(csv:t\\.csv\\), not on this database's feature catalogue`, 'm'));
    const refused = await churn(db, ['models', 'promote', String(worse), '--alias', 'champion']);
    expect(refused.code).toBe(1);
    expect(refused.stderr).toMatch(new RegExp(`^CHURN_ERR_NOT_BETTER: version ${worse} is worse: test AUC 0\\.6800 vs 0\\.7900 for version ${good} on the same rows`, 'm'));
    expect((await getModel(db.pool, 'champion')).version).toBe(good);
    const noReason = await churn(db, ['models', 'promote', String(worse), '--alias', 'champion', '--force']);
    expect(noReason.code).toBe(1);
    expect(noReason.stderr).toMatch(/^CHURN_ERR_VALIDATION: reason: --force needs --reason/m);
    // a blank reason is no reason, said once; an alias too long is told its length limit
    const blank = await churn(db, ['models', 'promote', String(worse), '--alias', 'champion', '--force', '--reason', ' ']);
    expect([blank.code, blank.stderr.trim()]).toEqual([1, 'CHURN_ERR_VALIDATION: reason: --force needs --reason TEXT (recorded in the alias history)']);
    const long = await churn(db, ['models', 'promote', String(worse), '--alias', 'a'.repeat(300)]);
    expect([long.code, long.stderr.trim()]).toEqual([1, 'CHURN_ERR_VALIDATION: alias: an alias is at most 63 characters']);
    expect((await getModel(db.pool, 'champion')).version).toBe(good);
    const forced = await churn(db, ['models', 'promote', String(worse), '--alias', 'champion', '--force', '--reason', 'drill']);
    expect(forced.code).toBe(0);
    expect(forced.stdout).toContain(`champion: version ${good} -> version ${worse}`);
    expect((await aliasHistory(db.pool, 'champion'))[0]).toMatchObject({ fromVersion: good, toVersion: worse, movedBy: 'erin', reason: 'forced by erin: drill' });
  });

  it('refuses to call a version not worse when the two were evaluated on different rows', async () => {
    expect((await churn(db, ['models', 'promote', String(otherData), '--alias', 'challenger'])).code).toBe(0); // the alias was free
    const r = await churn(db, ['models', 'promote', String(good), '--alias', 'challenger']);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/^CHURN_ERR_NOT_COMPARABLE: versions \d+ and \d+ were evaluated on different rows/m);
    expect((await getModel(db.pool, 'challenger')).version).toBe(otherData);
  });

  it('refuses a version that ranks no better than chance, even to a free alias (every account would score alike); --force moves it', async () => {
    const flat = (await registerModel(db.pool, { ...model(0.5), metrics: { validation: { auc: 0.5 }, test: { auc: 0.5 } } })).version;
    const backwards = (await registerModel(db.pool, { ...model(0.47), metrics: { validation: { auc: 0.47 } } })).version;
    const r = await churn(db, ['models', 'promote', String(flat), '--alias', 'chance']);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(new RegExp(`^CHURN_ERR_NOT_BETTER: version ${flat} is no better than chance: test AUC 0\\.5000, so every account would score alike; 'chance' stays unset`, 'm'));
    const v = await churn(db, ['models', 'promote', String(backwards), '--alias', 'chance']);
    expect(v.stderr).toMatch(/no better than chance: validation AUC 0\.4700/);
    await expect(getModel(db.pool, 'chance')).rejects.toMatchObject({ code: 'CHURN_ERR_MODEL_NOT_FOUND' });
    const forced = await churn(db, ['models', 'promote', String(flat), '--alias', 'chance', '--force', '--reason', 'drill']);
    expect(forced.code).toBe(0);
    expect((await getModel(db.pool, 'chance')).version).toBe(flat);
  });

  it('rejects bad input with one coded line and changes nothing', async () => {
    const before = (await aliasHistory(db.pool)).length;
    const badAlias = await churn(db, ['models', 'promote', String(good), '--alias', 'Not Valid']);
    expect(badAlias.code).not.toBe(0);
    expect(badAlias.stderr).toMatch(/^CHURN_ERR_VALIDATION: alias: /m);
    const missing = await churn(db, ['models', 'show', '424242']);
    expect(missing.stderr).toMatch(/^CHURN_ERR_MODEL_NOT_FOUND: no model version 424242/m);
    expect((await aliasHistory(db.pool)).length).toBe(before);
  });

  it('mirrors a promotion onto the MLflow version when MLFLOW_TRACKING_URI is set', async () => {
    const fake = await startFakeMlflow();
    try {
      const v = await registerModel(db.pool, model(0.9));
      const logged = await mirrorToMlflow(db.pool, fake.url, { params: {}, metrics: { validation: { auc: 0.9 } }, artifactJson: { w: [0.9] }, version: v.version, aliases: [] });
      expect(logged?.modelVersion).toBe('1');
      fake.requests.length = 0;
      const r = await churn(db, ['models', 'promote', String(v.version), '--alias', 'champion'], { MLFLOW_TRACKING_URI: fake.url });
      expect(r.code).toBe(0);
      expect(fake.requests.map((q) => [q.method, q.path, q.body])).toEqual([
        ['POST', '/api/2.0/mlflow/registered-models/alias', { name: 'churnlens', alias: 'champion', version: '1' }],
      ]);
      expect((await getModel(db.pool, 'champion')).version).toBe(v.version);
    } finally {
      await fake.close();
    }
  });
});
