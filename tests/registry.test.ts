import { gzipSync } from 'node:zlib';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { query } from '../core/db.ts';
import {
  ALIAS_CHANNEL, aliasHistory, canonicalJson, getModel, gitRevision, listModels, loadModel, metricValue, promote,
  recordFailedRun, registerModel, setAlias, sha256Hex, type AliasNotification, type RegisterModelInput,
} from '../training/registry/index.ts';
import { createTestDatabase, type TestDatabase } from './helpers/db.ts';

function input(over: Partial<RegisterModelInput> = {}, auc = 0.8): RegisterModelInput {
  return {
    modelType: 'logistic',
    artifact: { kind: 'logistic', features: ['active_days_28d', 'tickets_90d'], weights: [0.25, -1.5e-7], bias: -2, calibration: { a: 1.1, b: -0.2 } },
    params: { l2: 0.01, epochs: 40 },
    metrics: { validation: { auc, brier: 0.1 }, test: { auc: auc - 0.01 } },
    trainingWindow: { from: '2026-01-01T00:00:00.000Z', to: '2026-06-01T00:00:00.000Z' },
    featureSetVersion: 'fs_abc123',
    dataFingerprint: 'f'.repeat(64),
    gitRevision: 'abc1234',
    dataSource: 'database',
    ...over,
  };
}

describe('model registry', () => {
  let db: TestDatabase;
  beforeAll(async () => {
    db = await createTestDatabase();
  });
  afterAll(async () => {
    await db?.drop();
  });

  it('registers a version and loads the same artifact back with its lineage and checksum', async () => {
    const reg = input({ artifact: { z: [1, 2.5, -0.000123], a: { y: 'text', b: null }, typed: new Float32Array([0.5, 0.25]) } });
    const v = await registerModel(db.pool, reg);
    expect(v.status).toBe('candidate');
    expect(v.aliases).toEqual([]);
    expect(v.checksum).toBe(sha256Hex(canonicalJson(reg.artifact)));
    const loaded = await loadModel(db.pool, v.version);
    expect(loaded.artifact).toEqual({ a: { b: null, y: 'text' }, typed: [0.5, 0.25], z: [1, 2.5, -0.000123] });
    expect(loaded.meta).toMatchObject({
      version: v.version, modelType: 'logistic', params: { l2: 0.01, epochs: 40 }, featureSetVersion: 'fs_abc123',
      trainingWindow: { from: '2026-01-01T00:00:00.000Z', to: '2026-06-01T00:00:00.000Z' }, dataFingerprint: 'f'.repeat(64),
      gitRevision: 'abc1234', dataSource: 'database', metrics: { validation: { auc: 0.8, brier: 0.1 } },
    });
    expect(await loadModel(db.pool, String(v.version))).toEqual(loaded);
  });

  it('computes the same checksum whatever the key order of the artifact', () => {
    expect(canonicalJson({ b: 1, a: { d: [1, { f: 2, e: 3 }], c: true } })).toBe('{"a":{"c":true,"d":[1,{"e":3,"f":2}]},"b":1}');
    expect(() => canonicalJson({ w: [1, Number.NaN] })).toThrow(/non-finite number at w\[1\]/);
  });

  it('refuses to load an artifact whose stored bytes were changed', async () => {
    const v = await registerModel(db.pool, input());
    const tampered = canonicalJson({ ...(input().artifact as object), bias: 5 });
    await query(db.pool, 'UPDATE churn.model_versions SET artifact_gzip = $2 WHERE version = $1', [v.version, gzipSync(Buffer.from(tampered))]);
    await expect(loadModel(db.pool, v.version)).rejects.toMatchObject({ code: 'CHURN_ERR_ARTIFACT_CORRUPT' });
    await query(db.pool, 'UPDATE churn.model_versions SET artifact_gzip = $2 WHERE version = $1', [v.version, Buffer.from('not gzip')]);
    await expect(loadModel(db.pool, v.version)).rejects.toMatchObject({ code: 'CHURN_ERR_ARTIFACT_CORRUPT' });
  });

  it('answers CHURN_ERR_MODEL_NOT_FOUND for an unknown version or alias and a validation error for a bad reference', async () => {
    await expect(loadModel(db.pool, 999_999)).rejects.toMatchObject({ code: 'CHURN_ERR_MODEL_NOT_FOUND' });
    await expect(loadModel(db.pool, 'nobody')).rejects.toMatchObject({ code: 'CHURN_ERR_MODEL_NOT_FOUND' });
    await expect(getModel(db.pool, 'Bad Alias!')).rejects.toMatchObject({ code: 'CHURN_ERR_VALIDATION' });
  });

  it('rejects an invalid registration and stores nothing', async () => {
    const before = (await listModels(db.pool)).length;
    await expect(registerModel(db.pool, input({ dataFingerprint: '' }))).rejects.toMatchObject({ code: 'CHURN_ERR_VALIDATION' });
    await expect(registerModel(db.pool, input({ trainingWindow: { from: '2026-07-01', to: '2026-01-01' } }))).rejects.toMatchObject({ code: 'CHURN_ERR_VALIDATION' });
    expect((await listModels(db.pool)).length).toBe(before);
  });

  it('records every alias move with from, to, by and reason, and resolves aliases', async () => {
    const a = await registerModel(db.pool, input());
    const b = await registerModel(db.pool, input());
    expect(await setAlias(db.pool, { alias: 'challenger', version: a.version, actor: 'alice' })).toMatchObject({ fromVersion: null, toVersion: a.version, moved: true });
    expect(await setAlias(db.pool, { alias: 'challenger', version: b.version, actor: 'bob', reason: 'fresher data' })).toMatchObject({ fromVersion: a.version, moved: true });
    expect(await setAlias(db.pool, { alias: 'challenger', version: b.version, actor: 'bob' })).toMatchObject({ moved: false });
    const history = await aliasHistory(db.pool, 'challenger');
    expect(history.map(({ fromVersion, toVersion, movedBy, reason }) => ({ fromVersion, toVersion, movedBy, reason }))).toEqual([
      { fromVersion: a.version, toVersion: b.version, movedBy: 'bob', reason: 'fresher data' },
      { fromVersion: null, toVersion: a.version, movedBy: 'alice', reason: null },
    ]);
    expect((await loadModel(db.pool, 'challenger')).meta.version).toBe(b.version);
    expect((await getModel(db.pool, b.version)).aliases).toEqual(['challenger']);
    await expect(setAlias(db.pool, { alias: 'Champion', version: a.version, actor: 'x' })).rejects.toMatchObject({ code: 'CHURN_ERR_VALIDATION' });
    await expect(setAlias(db.pool, { alias: 'v2', version: a.version, actor: 'x' })).rejects.toMatchObject({ code: 'CHURN_ERR_VALIDATION' });
    await expect(setAlias(db.pool, { alias: 'latest', version: a.version, actor: 'x' })).rejects.toMatchObject({ code: 'CHURN_ERR_VALIDATION' });
    // a reference that is neither says why and what to name instead
    await expect(getModel(db.pool, 'latest')).rejects.toMatchObject({ code: 'CHURN_ERR_VALIDATION', message: "'latest' is neither a version number nor an alias name ('latest' is reserved (as in MLflow)); name a version (7 or v7) or an alias such as champion" });
    await expect(getModel(db.pool, 'Champion')).rejects.toMatchObject({ message: expect.stringContaining('(an alias is a lower-case name: letters, digits, _ and -, starting with a letter)') });
  });

  it('notifies a listening client when an alias moves', async () => {
    const v = await registerModel(db.pool, input());
    const listener = new pg.Client({ connectionString: db.url });
    await listener.connect();
    try {
      await listener.query(`LISTEN ${ALIAS_CHANNEL}`);
      const received = new Promise<AliasNotification>((resolve) => listener.on('notification', (n) => resolve(JSON.parse(n.payload ?? '{}'))));
      await setAlias(db.pool, { alias: 'notify-test', version: v.version, actor: 'carol' });
      const payload = await received;
      expect(payload).toMatchObject({ alias: 'notify-test', from_version: null, to_version: v.version, moved_by: 'carol' });
      expect(Number.isNaN(Date.parse(payload.moved_at))).toBe(false);
    } finally {
      await listener.end();
    }
  });

  it('also records a move made by hand in SQL', async () => {
    const a = await registerModel(db.pool, input());
    const b = await registerModel(db.pool, input());
    await setAlias(db.pool, { alias: 'manual', version: a.version, actor: 'dave' });
    await query(db.pool, `UPDATE churn.model_aliases SET version = $1, updated_by = 'dba' WHERE alias = 'manual'`, [b.version]);
    expect((await aliasHistory(db.pool, 'manual'))[0]).toMatchObject({ fromVersion: a.version, toVersion: b.version, movedBy: 'dba' });
  });
});

describe('champion promotion', () => {
  let db: TestDatabase;
  beforeAll(async () => {
    db = await createTestDatabase();
  });
  afterAll(async () => {
    await db?.drop();
  });

  const champion = async () => (await getModel(db.pool, 'champion')).version;

  /** the promotion training makes: both versions scored on the same rows, the holder it scored named */
  const promoteScored = (version: number, candidate: number, holder: number | null, holderVersion: number | null, extra: { force?: boolean; reason?: string; actor?: string } = {}) =>
    promote(db.pool, { ref: version, alias: 'champion', actor: extra.actor ?? 'train', catalogVersion: 'fs_abc123', force: extra.force, reason: extra.reason, sameRows: { metric: 'test AUC', candidate, holder, holderVersion } });

  it('promotes when there is no champion, then only a candidate that is not worse', async () => {
    const first = await registerModel(db.pool, input({}, 0.8));
    expect(await promoteScored(first.version, 0.8, null, null)).toMatchObject({ promoted: true, decision: 'no_champion', fromVersion: null });
    const better = await registerModel(db.pool, input({}, 0.82));
    expect(await promoteScored(better.version, 0.82, 0.79, first.version)).toMatchObject({ promoted: true, decision: 'promoted', fromVersion: first.version });
    expect(await champion()).toBe(better.version);
    const equal = await registerModel(db.pool, input({}, 0.82));
    expect((await promoteScored(equal.version, 0.81, 0.81, better.version)).decision).toBe('promoted');
    expect(await champion()).toBe(equal.version);
  });

  it('refuses a worse candidate unless forced, and the history says why', async () => {
    const current = await champion();
    const worse = await registerModel(db.pool, input({}, 0.7));
    const refused = await promoteScored(worse.version, 0.7, 0.81, current);
    expect(refused).toMatchObject({ promoted: false, decision: 'not_better' });
    expect(refused.reason).toMatch(/test AUC 0\.7000 vs 0\.8100/);
    expect(await champion()).toBe(current);
    const forced = await promoteScored(worse.version, 0.7, 0.81, current, { force: true, reason: 'drill', actor: 'ops' });
    expect(forced).toMatchObject({ promoted: true, decision: 'forced', fromVersion: current });
    expect((await aliasHistory(db.pool, 'champion'))[0]).toMatchObject({ fromVersion: current, toVersion: worse.version, movedBy: 'ops', reason: 'forced by ops: drill' });
    await setAlias(db.pool, { alias: 'champion', version: current, actor: 'ops', reason: 'roll back' });
  });

  it('moves nothing when the champion moved after training scored it', async () => {
    const scored = await champion();
    const other = await registerModel(db.pool, input());
    await setAlias(db.pool, { alias: 'champion', version: other.version, actor: 'someone-else' });
    const candidate = await registerModel(db.pool, input({}, 0.9));
    const r = await promoteScored(candidate.version, 0.9, 0.8, scored);
    expect(r).toMatchObject({ promoted: false, decision: 'conflict' });
    expect(r.reason).toContain(`'champion' moved from version ${scored} to version ${other.version} after the candidate was compared with it`);
    expect(await champion()).toBe(other.version);
  });

  it('lets exactly one of two simultaneous promotions against the same champion win', async () => {
    const scored = await champion();
    const [x, y] = await Promise.all([registerModel(db.pool, input()), registerModel(db.pool, input())]);
    const results = await Promise.all([x, y].map((c) => promoteScored(c.version, 0.95, 0.8, scored)));
    expect(results.map((r) => r.decision).sort()).toEqual(['conflict', 'promoted']);
    const winner = results.find((r) => r.promoted)!.toVersion;
    expect(await champion()).toBe(winner);
    expect((await aliasHistory(db.pool, 'champion'))[0]).toMatchObject({ fromVersion: scored, toVersion: winner });
  });

  it('keeps the champion and records the error when a training run fails', async () => {
    const before = await champion();
    const moves = (await aliasHistory(db.pool)).length;
    const failed = await recordFailedRun(db.pool, { modelType: 'mlp', params: { epochs: 5 }, error: 'loss became NaN at epoch 3' });
    expect(failed).toMatchObject({ status: 'failed', error: 'loss became NaN at epoch 3', checksum: '', gitRevision: 'unknown', aliases: [] });
    expect(await champion()).toBe(before);
    expect((await aliasHistory(db.pool)).length).toBe(moves);
    await expect(setAlias(db.pool, { alias: 'champion', version: failed.version, actor: 'x' })).rejects.toMatchObject({ code: 'CHURN_ERR_VALIDATION' });
    await expect(promoteScored(failed.version, 1, 0, before, { force: true, reason: 'drill', actor: 'x' })).rejects.toMatchObject({ code: 'CHURN_ERR_VALIDATION' });
    await expect(loadModel(db.pool, failed.version)).rejects.toMatchObject({ code: 'CHURN_ERR_MODEL_NOT_FOUND' });
    expect(await champion()).toBe(before);
    expect((await listModels(db.pool, { includeFailed: false })).some((m) => m.version === failed.version)).toBe(false);
  });
});

describe('registry helpers', () => {
  it('finds a split metric whatever the nesting', () => {
    expect(metricValue({ validation: { auc: 0.8 }, test: { auc: 0.7 } }, 'auc', 'test')).toBe(0.7);
    expect(metricValue({ valid: { metrics: { rocAuc: 0.75 } } })).toBe(0.75);
    expect(metricValue({ validation_auc: 0.66 })).toBe(0.66);
    expect(metricValue({ validation: { auc: { estimate: 0.7, lower: 0.6 } } })).toBe(0.7);
    expect(metricValue({ test: { auc: 0.7 } })).toBeNull();
  });

  it('reads the git revision of a repository and says unknown elsewhere', async () => {
    expect(await gitRevision(process.cwd())).toMatch(/^[0-9a-f]{40}$/);
    expect(await gitRevision('/')).toBe('unknown');
  });
});
