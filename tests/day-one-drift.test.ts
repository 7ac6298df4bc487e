import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { query } from '../core/db.ts';
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
    // a release before declared missing meanings stored the same version's definitions without them;
    // training brings them up to date from the catalogue, also when every snapshot exists already
    await query(db.pool, 'UPDATE churn.feature_sets SET definitions = $2 WHERE feature_set_version = $1', [catalog.version, JSON.stringify(catalog.features.map(({ missing: _, ...f }) => f))]);
    const again = await databaseTrainingSet(db.pool, catalog, { horizonDays: 30, seed: 5 });
    expect(again.table.columns.find((c) => c.name === 'days_since_last_activity')).toMatchObject({ missing: 'highest' });
    const run = await trainAndRegister(db.pool, table, { train: { seed: 5, modelTypes: ['logistic'], bootstrap: 0 }, actor: 'test', catalogVersion: catalog.version });
    version = run.registered.version.version;
    inputs = run.result.artifact.feature_names.length;
    // the training set carries each feature's unit from the stored feature set into the contract
    const contract = new Map(run.result.artifact.input_contract!.features.map((f) => [f.name, f]));
    expect([contract.get('mrr')?.domain, contract.get('catalog_adoption_share_90d')?.domain, contract.get('days_since_last_activity')?.domain, contract.get('active_days_trend_28d')?.domain])
      .toEqual([{ min: 0 }, { min: 0, max: 1 }, { min: 0 }, undefined]);
    // and training brought the stored definitions up to date: "never active" reads as the longest time since activity seen
    const since = run.result.artifact.preprocessing!.columns.find((c) => c.name === 'days_since_last_activity');
    const longest = Math.max(...table.columns.find((c) => c.name === 'days_since_last_activity')!.values.filter((v): v is number => typeof v === 'number'));
    expect(since?.kind === 'numeric' ? [since.missingValue, since.missingAs] : null).toEqual([longest, 'highest']);
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
    // the day's snapshot is the training data's own (same time, same data): drift is not measured yet,
    // rather than a PSI of 0 for every input (the report's rule)
    expect(run.drift).toMatchObject({ referenceAsOf: trainedUntil.toISOString(), measured: false, features: [] });
    expect(inputs).toBeGreaterThan(catalog.names.length - 5);
    // a second start the same day keeps those scores; the next day's start scores that day, though
    // scores were stored minutes before (a backfill as of another day must not stand in for today's)
    const said: string[] = [];
    await ensureScores(db.pool, catalog, version, DEFAULT_SERVING_CONFIG, asOf, (m) => said.push(m));
    expect(said).toEqual([expect.stringMatching(new RegExp(`^scores +\\d+ scores as of ${asOf.toISOString()} exist for version ${version}$`))]);
    const next = new Date(asOf.getTime() + 24 * HOUR);
    await ensureScores(db.pool, catalog, version, DEFAULT_SERVING_CONFIG, next, (m) => said.push(m));
    expect(said[1]).toMatch(/^scores +scored \d+ active accounts/);
    const [stored] = await query<{ n: number }>(db.pool, 'SELECT count(*)::int AS n FROM churn.score_history WHERE as_of = $1', [next]);
    expect(stored.n).toBeGreaterThan(0);
    // (that run also stored its feature snapshot, as every scoring run does: the next tests take the latest)
    await query(db.pool, 'DELETE FROM churn.score_history WHERE as_of = $1', [next]);
    await query(db.pool, 'DELETE FROM churn.feature_snapshots WHERE as_of = $1', [next]);
  });

  it('compares a snapshot taken at another time of day with the training data at that time, where the stored training snapshot would show skew', async () => {
    // the same day's features as of 09:16, as a score "as of now" would see them
    const morning = new Date(trainedUntil.getTime() + 9 * HOUR + 16 * 60_000);
    await buildSnapshots(db.pool, catalog, [morning]);
    const s = await driftSamples(db.pool, catalog.version, catalog.names, trainedUntil, catalog);
    expect(s.latestAsOf).toBe(morning.toISOString());
    expect(s.referenceAsOf).toBe(new Date(morning.getTime() - 7 * 24 * HOUR).toISOString()); // computed, not stored
    expect(s.aligned).toBe(true);
    expect(s.reference.length).toBeGreaterThan(s.latest.length * 0.9); // every account as of then (a week ago: a few fewer)
    expect(featureDrift(catalog.names, s).filter((f) => f.psi > 0.1)).toEqual([]);
    // without the catalogue to compute it, the stored midnight snapshot: skew the data did not cause
    const stored = await driftSamples(db.pool, catalog.version, catalog.names, trainedUntil);
    expect(stored).toMatchObject({ referenceAsOf: trainedUntil.toISOString(), aligned: false });
    expect(featureDrift(catalog.names, stored).filter((f) => f.psi > 0.1).map((f) => f.feature)).toContain('stickiness_28d');
  });

  it('compares a snapshot of another weekday with the training data of the same weekday: the week\'s rhythm is not drift', async () => {
    // the first Monday at least a day after the end of training (recency features follow the week)
    const monday = new Date(trainedUntil.getTime() + 24 * HOUR);
    while (monday.getUTCDay() !== 1) monday.setTime(monday.getTime() + 24 * HOUR);
    await buildSnapshots(db.pool, catalog, [monday]);
    const s = await driftSamples(db.pool, catalog.version, catalog.names, trainedUntil, catalog);
    expect(s.latestAsOf).toBe(monday.toISOString());
    const reference = new Date(s.referenceAsOf);
    expect(reference.getUTCDay()).toBe(1);
    expect(reference.getTime()).toBeLessThanOrEqual(trainedUntil.getTime());
    expect(trainedUntil.getTime() - reference.getTime()).toBeLessThan(7 * 24 * HOUR);
    const psiOf = (samples: typeof s, feature: string) => featureDrift(catalog.names, samples).find((f) => f.feature === feature)!.psi;
    const stored = await driftSamples(db.pool, catalog.version, catalog.names, trainedUntil);
    expect(stored.aligned).toBe(false);
    // against the stored snapshot of another weekday, days since the last activity moves with the week
    expect(psiOf(stored, 'days_since_last_activity')).toBeGreaterThan(0.1);
    expect(psiOf(s, 'days_since_last_activity')).toBeLessThan(0.1);
    expect(featureDrift(catalog.names, s).filter((f) => f.psi > 0.1)).toEqual([]);
  });
});
