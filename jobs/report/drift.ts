/**
 * Feature drift of a model's inputs: the population stability index (jobs/report/psi.ts) per
 * feature between the model's training data (every account as of the end of its training window, or
 * up to six days before it, see `driftSamples`) and the latest stored snapshot of the same feature
 * set. The same samples feed the report (buildReportData) and `churn monitor`.
 */
import { query, type Queryable, type Sql } from '../../core/db.ts';
import { ChurnError } from '../../core/errors.ts';
import type { Catalog } from '../../features/catalog.ts';
import { selectFeatures } from '../../features/materialize.ts';
import { psi, psiStatus, type DriftStatus, type FeatureValue } from './psi.ts';

const WEEK_MS = 7 * 86_400_000;

export interface DriftSamples {
  featureSetVersion: string;
  /** the time of the training-side sample: the same time of the week as `latestAsOf` when `aligned` */
  referenceAsOf: string;
  latestAsOf: string;
  /**
   * whether both sides are at the same time of the week; false when the feature set's catalogue was
   * not at hand to compute the aligned sample (the stored training snapshot is used then)
   */
  aligned: boolean;
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

/**
 * The latest time at or before `reference` that lies a whole number of weeks before `latest`: the
 * same weekday and time of day. Features of recency follow the week (as of a Monday 00:00 a B2B
 * account's last activity was often Friday's), so a training snapshot of a Thursday against a
 * scoring snapshot of a Monday differs with no change in the data (PSI 0.60 for days since last
 * activity on the demo data, the day the model was trained).
 */
export function sameTimeOfWeek(latest: Date, reference: Date): Date {
  const weeks = Math.max(0, Math.ceil((latest.getTime() - reference.getTime()) / WEEK_MS));
  return new Date(latest.getTime() - weeks * WEEK_MS);
}

/**
 * Reads both samples, keeping the model's features in its order. The training side is the feature
 * set's values at the same time of the week as the latest snapshot, at most six days before the end
 * of the training window (`trainedUntil`), so that weekly and daily rhythms do not read as drift:
 * the stored snapshot when there is one at that time, else computed point-in-time from `catalog`
 * (read only, nothing stored). Without the catalogue of that feature set, the stored training
 * snapshot is used as it is (`aligned` false).
 */
export async function driftSamples(db: Queryable, featureSetVersion: string, featureNames: readonly string[], trainedUntil: Date, catalog?: Catalog): Promise<DriftSamples> {
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
  const storedAt = await snapshotTime(db, featureSetVersion, trainedUntil);
  const latestAt = await snapshotTime(db, featureSetVersion, null);
  const alignedAt = sameTimeOfWeek(latestAt, storedAt);
  const latest = await read(latestAt);
  if (alignedAt.getTime() === latestAt.getTime()) return { featureSetVersion, referenceAsOf: latestAt.toISOString(), latestAsOf: latestAt.toISOString(), aligned: true, reference: latest, latest };
  // the stored snapshot at that time, else computed (rows in any order: PSI compares distributions)
  const stored = await read(alignedAt);
  const reference = stored.length ? stored
    : catalog?.version === featureSetVersion ? (await selectFeatures(db, catalog, [alignedAt], { events: 'auto' })).map((r) => cols.map((j) => r.feature_values[j] ?? null))
      : null;
  if (reference) return { featureSetVersion, referenceAsOf: alignedAt.toISOString(), latestAsOf: latestAt.toISOString(), aligned: true, reference, latest };
  // (at `storedAt` itself the stored snapshot was read above: this is another time of the week)
  return { featureSetVersion, referenceAsOf: storedAt.toISOString(), latestAsOf: latestAt.toISOString(), aligned: false, reference: await read(storedAt), latest };
}

/** PSI and status per feature of two samples (rows x features, same columns). */
export function featureDrift(featureNames: readonly string[], samples: Pick<DriftSamples, 'reference' | 'latest'>): FeatureDrift[] {
  return featureNames.map((feature, j) => {
    const value = psi(samples.reference.map((r) => r[j]), samples.latest.map((r) => r[j]));
    return { feature, psi: value, status: psiStatus(value) };
  });
}

const when = (iso: string): string => {
  const d = new Date(iso);
  const time = iso.slice(11, 16) === '00:00' ? '' : ` ${iso.slice(11, 16)} UTC`;
  return `${d.toLocaleDateString('en-GB', { weekday: 'long', timeZone: 'UTC' })} ${iso.slice(0, 10)}${time}`;
};

/**
 * Whether the latest snapshot is the training data's own: then both samples are one, a PSI of 0
 * everywhere would say "nothing moved" of no new data, and drift is not measured (the report and
 * `churn monitor` alike).
 */
export const noSnapshotSinceTraining = (s: Pick<DriftSamples, 'referenceAsOf' | 'latestAsOf'>): boolean => s.referenceAsOf === s.latestAsOf;

/**
 * While there is no snapshot since training (`noSnapshotSinceTraining`), drift is not
 * measured: the one sentence the report and `churn monitor` say then (and the only place that names
 * where a later snapshot comes from).
 */
export const DRIFT_NOT_MEASURED = "Drift is not measured yet: the latest feature snapshot is the training data's own; "
  + 'a snapshot stored on a later day (by the server\'s daily run, `churn score` or `churn features build`) is compared with it.';

/** DRIFT_NOT_MEASURED with the snapshot's time (`churn monitor`, the stored run's note). */
export function driftNotMeasured(s: Pick<DriftSamples, 'latestAsOf'>): string {
  return DRIFT_NOT_MEASURED.replace("the latest feature snapshot is the training data's own", `the latest feature snapshot (${when(s.latestAsOf)}) is the training data's own`);
}

/** What the two samples are, in words (the report's "evaluated on" line, `churn monitor`). */
export function driftNote(s: Pick<DriftSamples, 'referenceAsOf' | 'latestAsOf' | 'aligned'>): string {
  if (noSnapshotSinceTraining(s)) return `snapshot ${when(s.latestAsOf)}, the training data's own`;
  if (s.aligned) return `snapshot ${when(s.latestAsOf)} against the training data as of ${when(s.referenceAsOf)} (the same weekday and time)`;
  return `snapshot ${when(s.latestAsOf)} against training snapshot ${when(s.referenceAsOf)} (another weekday or time: weekly rhythms can show as drift)`;
}
