/**
 * A small world for the report and monitoring tests: generated source data, monthly feature snapshots,
 * the database training set (the default out-of-time split), and models trained with the real
 * training code and registered (v1 the first champion; optionally v2, made champion after it, so v1 is
 * its previous champion; optionally a version trained on the split grouped by account, alias `grouped`).
 */
import { query, type Pool } from '../core/db.ts';
import { loadCatalog, type Catalog } from '../features/catalog.ts';
import { generate } from '../features/generate/index.ts';
import { buildSnapshots } from '../features/materialize.ts';
import { buildTrainingSet, trainingFingerprint } from '../training/dataset.ts';
import { registerAndPromote } from '../training/register-run.ts';
import { setAlias, type ModelLineage } from '../training/registry/index.ts';
import type { PreparedTable } from '../training/table.ts';
import { trainModel, type TrainOptions } from '../training/train.ts';

export const DATA_END = '2026-10-01';
export const SEED = 42;
export const HORIZON_DAYS = 30;

export interface World {
  catalog: Catalog;
  table: PreparedTable;
  versions: number[];
  /** the version trained with groupByAccount (alias `grouped`), and its table */
  grouped?: { version: number; table: PreparedTable };
}

function lineage(table: PreparedTable): ModelLineage {
  const src = table.source;
  if (src.kind !== 'database') throw new Error('expected a database table');
  return {
    trainingWindow: { from: src.asOfs[0], to: src.asOfs[src.asOfs.length - 1] },
    featureSetVersion: src.featureSetVersion,
    dataFingerprint: trainingFingerprint(table),
    gitRevision: 'test',
    dataSource: 'database',
  };
}

async function trainAndRegister(pool: Pool, table: PreparedTable, opts: Partial<TrainOptions>, alias?: string): Promise<number> {
  const result = await trainModel(table, { seed: SEED, modelTypes: ['logistic'], epochs: 30, bootstrap: 0, ...opts });
  const run = await registerAndPromote(pool, table, result, lineage(table), { actor: 'test', catalogVersion: loadCatalog().version, alias });
  return run.version.version;
}

/** Generates data, builds the monthly snapshots and the training set, trains and registers `models` versions. */
/** `trainAsOfs`: the observation dates to train on (default: every month the data labels) */
export async function buildWorld(pool: Pool, opts: { accounts?: number; seed?: number; models?: 1 | 2; grouped?: boolean; trainAsOfs?: string[] } = {}): Promise<World> {
  await generate(pool, { accounts: opts.accounts ?? 300, months: 8, seed: opts.seed ?? 7, end: DATA_END });
  const catalog = loadCatalog();
  const { table } = await buildTrainingSet(pool, {
    featureSetVersion: catalog.version, horizonDays: HORIZON_DAYS, seed: SEED, asOfs: opts.trainAsOfs?.map((t) => new Date(`${t}T00:00:00Z`)) ?? 'monthly',
    buildSnapshots: (dates) => buildSnapshots(pool, catalog, dates),
  });
  const versions = [await trainAndRegister(pool, table, {})];
  if (opts.models === 2) {
    const v2 = await trainAndRegister(pool, table, { epochs: 3, params: { logistic: { l2: 0.05 } } });
    await setAlias(pool, { alias: 'champion', version: v2, actor: 'test', reason: 'report test: v2 becomes champion' });
    versions.push(v2);
  }
  let grouped: World['grouped'];
  if (opts.grouped) {
    const g = await buildTrainingSet(pool, { featureSetVersion: catalog.version, horizonDays: HORIZON_DAYS, seed: SEED, groupByAccount: true, validDates: 2, testDates: 0 });
    grouped = { version: await trainAndRegister(pool, g.table, {}, 'grouped'), table: g.table };
  }
  return { catalog, table, versions, ...(grouped ? { grouped } : {}) };
}

/** Stores a copy of a snapshot at a later time with every present value moved far above any real value. */
export async function insertShiftedSnapshot(pool: Pool, featureSetVersion: string, from: Date, at: Date): Promise<number> {
  const rows = await query<{ n: number }>(pool, {
    text: `WITH ins AS (
        INSERT INTO churn.feature_snapshots (feature_set_version, as_of, account_id, feature_values)
        SELECT feature_set_version, $3, account_id,
          (SELECT array_agg(v + 1e9 ORDER BY k) FROM unnest(feature_values) WITH ORDINALITY AS u(v, k))
        FROM churn.feature_snapshots WHERE feature_set_version = $1 AND as_of = $2
        RETURNING 1)
      SELECT count(*)::int AS n FROM ins`,
    values: [featureSetVersion, from, at],
  });
  return rows[0].n;
}
