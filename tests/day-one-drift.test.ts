import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { defaultAsOf } from '../core/time.ts';
import { ensureFeatureSet, loadCatalog } from '../features/catalog.ts';
import { isUtcMidnight } from '../features/compile.ts';
import { generate } from '../features/generate/index.ts';
import { buildSnapshots } from '../features/materialize.ts';
import { runMonitor } from '../jobs/monitor/monitor.ts';
import { driftSamples, featureDrift } from '../jobs/report/drift.ts';
import { ensureFreshSnapshot, ensureScores } from '../cli/start-stages.ts';
import { DEFAULT_SERVING_CONFIG } from '../scoring/config.ts';
import { databaseTrainingSet, trainAndRegister } from '../training/run.ts';
import { createTestDatabase, type TestDatabase } from './helpers/db.ts';

const HOUR = 3_600_000;

/**
 * Day one of a fresh install: the model was trained on snapshots taken at UTC midnights, and the
 * server scores and snapshots "as of now" on the same day. The drift check compares the two; on the
 * same day and data, any drift is skew between training and serving, not a change in the data.
 */
describe('day one: training and serving see the same features', () => {
  let db: TestDatabase;
  const catalog = loadCatalog();
  let trainedUntil: Date;
  let version: number;
  let inputs: number;
  beforeAll(async () => {
    db = await createTestDatabase();
    await ensureFeatureSet(db.pool, catalog);
    await generate(db.pool, { accounts: 400, months: 9, seed: 5, end: '2026-10-01' });
    const { table } = await databaseTrainingSet(db.pool, catalog, { horizonDays: 30, seed: 5 });
    const run = await trainAndRegister(db.pool, table, { train: { seed: 5, modelTypes: ['logistic'], bootstrap: 0 }, actor: 'test', catalogVersion: catalog.version });
    version = run.registered.version.version;
    inputs = run.result.artifact.feature_names.length;
    expect(run.registered.promotion.promoted).toBe(true);
    trainedUntil = new Date(run.registered.version.trainingWindow!.to);
    expect(isUtcMidnight(trainedUntil)).toBe(true);
  }, 600_000);
  afterAll(async () => db?.drop());

  it('snapshots and scores as of the latest UTC midnight by default, so the day-one drift check finds nothing the data did not cause', async () => {
    // 09:16 on the day of the training window's last snapshot: the data has not changed since
    const now = new Date(trainedUntil.getTime() + 9 * HOUR + 16 * 60_000);
    const asOf = defaultAsOf(now.getTime());
    expect(asOf).toEqual(trainedUntil);
    await ensureFreshSnapshot(db.pool, catalog, asOf, () => undefined);
    await ensureScores(db.pool, catalog, version, DEFAULT_SERVING_CONFIG, asOf, () => undefined);
    const run = await runMonitor(db.pool, { now });
    expect(run.drift.latestAsOf).toBe(trainedUntil.toISOString());
    // every model input (the catalogue less what training left out as carrying nothing)
    expect(run.drift.features.length).toBe(inputs);
    expect(inputs).toBeGreaterThan(catalog.names.length - 5);
    expect(run.drift.features.filter((f) => f.psi > 0.1)).toEqual([]);
  });

  it('would report skew if serving computed its features at another time of day than training (what the default prevents)', async () => {
    // the same day's features as of 09:16, as a score "as of now" would see them
    const morning = new Date(trainedUntil.getTime() + 9 * HOUR + 16 * 60_000);
    await buildSnapshots(db.pool, catalog, [morning]);
    const s = await driftSamples(db.pool, catalog.version, catalog.names, trainedUntil);
    expect(s.latestAsOf).toBe(morning.toISOString());
    const skewed = featureDrift(catalog.names, s).filter((f) => f.psi > 0.1).map((f) => f.feature);
    expect(skewed).toContain('stickiness_28d');
  });
});
