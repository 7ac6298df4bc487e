/**
 * Feature drift of a model's inputs: the population stability index (jobs/report/psi.ts) per
 * feature between the model's training snapshot (the stored snapshot at the end of its training
 * window: the latest data it learned from, every account in it) and the latest stored snapshot of the
 * same feature set. The same samples feed the report (buildReportData) and `churn monitor`.
 */
import { query, type Queryable, type Sql } from '../../core/db.ts';
import { ChurnError } from '../../core/errors.ts';
import { psi, psiStatus, type DriftStatus, type FeatureValue } from './psi.ts';

export interface DriftSamples {
  featureSetVersion: string;
  referenceAsOf: string;
  latestAsOf: string;
  /** rows x features, in the order of the requested feature names */
  reference: FeatureValue[][];
  latest: FeatureValue[][];
}

export interface FeatureDrift {
  feature: string;
  psi: number;
  status: DriftStatus;
}

const featureSetNames = (version: string): Sql => ({
  text: 'SELECT feature_names FROM churn.feature_sets WHERE feature_set_version = $1',
  values: [version],
});

/** The stored snapshot at or before `at` (latest of all when `at` is null). */
const snapshotAt = (version: string, at: Date | null): Sql => ({
  text: `SELECT max(as_of) AS as_of FROM churn.feature_snapshots
    WHERE feature_set_version = $1 AND ($2::timestamptz IS NULL OR as_of <= $2::timestamptz)`,
  values: [version, at],
});

const snapshotRows = (version: string, asOf: Date): Sql => ({
  text: `SELECT feature_values FROM churn.feature_snapshots WHERE feature_set_version = $1 AND as_of = $2 ORDER BY account_id`,
  values: [version, asOf],
});

async function snapshotTime(db: Queryable, version: string, at: Date | null): Promise<Date> {
  const [row] = await query<{ as_of: Date | null }>(db, snapshotAt(version, at));
  if (!row?.as_of) {
    throw new ChurnError('CHURN_ERR_NOT_ENOUGH_DATA', `feature set ${version} has no stored snapshot${at ? ` at or before ${at.toISOString()}` : ''}; run \`churn features build\``);
  }
  return row.as_of;
}

/** Reads both snapshots, keeping the model's features in its order. */
export async function driftSamples(db: Queryable, featureSetVersion: string, featureNames: readonly string[], trainedUntil: Date): Promise<DriftSamples> {
  const [set] = await query<{ feature_names: string[] }>(db, featureSetNames(featureSetVersion));
  if (!set) throw new ChurnError('CHURN_ERR_NOT_ENOUGH_DATA', `feature set ${featureSetVersion} is not recorded in the database`);
  const index = new Map(set.feature_names.map((n, i) => [n, i]));
  const missing = featureNames.filter((f) => !index.has(f));
  if (missing.length) {
    throw new ChurnError('CHURN_ERR_FEATURE_MISMATCH', `feature set ${featureSetVersion} lacks the model's features ${missing.slice(0, 3).join(', ')}`);
  }
  const cols = featureNames.map((f) => index.get(f)!);
  const read = async (asOf: Date): Promise<FeatureValue[][]> => {
    const rows = await query<{ feature_values: (number | null)[] }>(db, snapshotRows(featureSetVersion, asOf));
    return rows.map((r) => cols.map((j) => r.feature_values[j] ?? null));
  };
  const referenceAt = await snapshotTime(db, featureSetVersion, trainedUntil);
  const latestAt = await snapshotTime(db, featureSetVersion, null);
  const reference = await read(referenceAt);
  const latest = latestAt.getTime() === referenceAt.getTime() ? reference : await read(latestAt);
  return { featureSetVersion, referenceAsOf: referenceAt.toISOString(), latestAsOf: latestAt.toISOString(), reference, latest };
}

/** PSI and status per feature of two samples (rows x features, same columns). */
export function featureDrift(featureNames: readonly string[], samples: Pick<DriftSamples, 'reference' | 'latest'>): FeatureDrift[] {
  return featureNames.map((feature, j) => {
    const value = psi(samples.reference.map((r) => r[j]), samples.latest.map((r) => r[j]));
    return { feature, psi: value, status: psiStatus(value) };
  });
}
