import { query, type Queryable, type Sql } from '../core/db.ts';
import { ChurnError } from '../core/errors.ts';
import { labelsQuery } from './labels.sql.ts';
import { labelParams } from './labels.ts';
import { valueDomain, type Domain } from './domain.ts';

/** A stored feature set: ordered names, and families/descriptions when its definitions carry them. */
export interface FeatureSetInfo {
  version: string;
  names: string[];
  families: (string | undefined)[];
  descriptions: (string | undefined)[];
  /** how churn risk moves as each value rises, where the catalogue declares it */
  risks: ('increasing' | 'decreasing' | undefined)[];
  /** each feature's unit (users, currency, share, ...), where its definition carries one */
  units: (string | undefined)[];
  /** what a missing value stands for (`lowest` or `highest` on the feature's scale), where the catalogue declares it */
  missings: ('lowest' | 'highest' | undefined)[];
  /** the values each feature can take at all (features/domain.ts), where its definition bounds them */
  domains: (Domain | undefined)[];
}

/**
 * Reads family, description, risk, unit, missing meaning and domain per name from definitions: stored ones (an
 * array, `{ features: [...] }`, or a map by name) or the catalogue's own.
 */
export function definitionFields(defs: unknown, names: string[]): Omit<FeatureSetInfo, 'version' | 'names'> {
  const byName = new Map<string, Record<string, unknown>>();
  const list = Array.isArray(defs) ? defs : defs && typeof defs === 'object' && Array.isArray((defs as { features?: unknown }).features) ? (defs as { features: unknown[] }).features : null;
  if (list) {
    for (const d of list) if (d && typeof d === 'object' && typeof (d as { name?: unknown }).name === 'string') byName.set((d as { name: string }).name, d as Record<string, unknown>);
  } else if (defs && typeof defs === 'object') {
    for (const [k, v] of Object.entries(defs as Record<string, unknown>)) if (v && typeof v === 'object') byName.set(k, v as Record<string, unknown>);
  }
  const str = (v: unknown) => (typeof v === 'string' ? v : undefined);
  const risk = (v: unknown) => (v === 'increasing' || v === 'decreasing' ? v : undefined);
  const missing = (v: unknown) => (v === 'lowest' || v === 'highest' ? v : undefined);
  return {
    families: names.map((n) => str(byName.get(n)?.family)), descriptions: names.map((n) => str(byName.get(n)?.description)),
    risks: names.map((n) => risk(byName.get(n)?.risk)), units: names.map((n) => str(byName.get(n)?.unit)), missings: names.map((n) => missing(byName.get(n)?.missing)),
    domains: names.map((n) => valueDomain(byName.get(n))),
  };
}

/**
 * The requested feature set, or (none requested) the one whose snapshots were built last.
 * CHURN_ERR_VALIDATION for an unknown version; CHURN_ERR_NOT_ENOUGH_DATA when nothing was built yet.
 */
export async function readFeatureSet(db: Queryable, version?: string): Promise<FeatureSetInfo> {
  const rows = version
    ? await query<{ feature_set_version: string; feature_names: string[]; definitions: unknown }>(db, {
        text: 'SELECT feature_set_version, feature_names, definitions FROM churn.feature_sets WHERE feature_set_version = $1',
        values: [version],
      })
    : await query<{ feature_set_version: string; feature_names: string[]; definitions: unknown }>(db, {
        text: `SELECT f.feature_set_version, f.feature_names, f.definitions
FROM churn.feature_sets f
JOIN LATERAL (SELECT max(s.built_at) AS built FROM churn.feature_snapshots s WHERE s.feature_set_version = f.feature_set_version) b ON b.built IS NOT NULL
ORDER BY b.built DESC, f.created_at DESC LIMIT 1`,
        values: [],
      });
  if (!rows.length) {
    if (version) throw new ChurnError('CHURN_ERR_VALIDATION', `no feature set ${version}`);
    throw new ChurnError('CHURN_ERR_NOT_ENOUGH_DATA', 'no feature snapshots yet; run `churn features build` first');
  }
  const r = rows[0];
  return { version: r.feature_set_version, names: r.feature_names, ...definitionFields(r.definitions, r.feature_names) };
}

/** Per-feature statistics over one snapshot, from the stored arrays (NaN counts as null). */
export function snapshotStatsQuery(version: string, asOf: Date): Sql {
  return {
    text: `WITH
-- 1. the snapshot
snap AS (SELECT feature_values FROM churn.feature_snapshots WHERE feature_set_version = $1 AND as_of = $2),
-- 2. one row per (account, feature)
vals AS (SELECT u.i::int AS i, nullif(u.v, 'NaN'::double precision) AS v FROM snap s, unnest(s.feature_values) WITH ORDINALITY AS u(v, i))
SELECT i, count(v)::int AS non_null, (count(*) FILTER (WHERE v = 0))::int AS zeros,
       min(v) AS min, max(v) AS max, avg(v) AS mean, stddev_pop(v) AS std, count(DISTINCT v)::int AS distinct_values,
       percentile_cont(ARRAY[0.25, 0.5, 0.75]::double precision[]) WITHIN GROUP (ORDER BY v) AS q
FROM vals GROUP BY i ORDER BY i`,
    values: [version, asOf],
  };
}

/**
 * Single-feature AUC against the labels at the snapshot's as_of, by ranks (ties get their average
 * rank; nulls rank lowest, tied together, so a feature that is null exactly for one class also shows).
 */
export function featureAucQuery(version: string, asOf: Date, label: { horizonDays: number; leadDays: number; graceDays: number; minTenureDays: number; dataEnd?: Date }): Sql {
  const l = labelsQuery(labelParams({ ...label, asOfs: [asOf] }));
  const n = l.values?.length ?? 0;
  return {
    text: `WITH
-- 1. labels at the snapshot time
labels AS (${l.text}),
-- 2. the labelled snapshot rows, one row per (account, feature)
vals AS (
  SELECT u.i::int AS i, nullif(u.v, 'NaN'::double precision) AS v, l.churned
  FROM churn.feature_snapshots s
  JOIN labels l ON l.account_id = s.account_id
  CROSS JOIN LATERAL unnest(s.feature_values) WITH ORDINALITY AS u(v, i)
  WHERE s.feature_set_version = $${n + 1} AND s.as_of = $${n + 2}
),
-- 3. average ranks per feature
ranked AS (
  SELECT i, churned, rank() OVER (PARTITION BY i ORDER BY v NULLS FIRST) + (count(*) OVER (PARTITION BY i, v) - 1) / 2.0 AS r FROM vals
)
SELECT i, (count(*) FILTER (WHERE churned))::int AS pos, (count(*) FILTER (WHERE NOT churned))::int AS neg,
       (sum(r) FILTER (WHERE churned))::double precision AS rank_sum
FROM ranked GROUP BY i ORDER BY i`,
    values: [...(l.values ?? []), version, asOf],
  };
}

export type QaFlag = 'constant' | 'mostly_null' | 'leaking';

/** A feature whose values alone rank the labels with an AUC at or above this (or at or below 1 minus it) is a possible leak: here and in training (training/leaks.ts). */
export const LEAK_AUC = 0.95;

export interface FeatureStats {
  index: number;
  name: string;
  family?: string;
  description?: string;
  rows: number;
  count: number;
  coverage: number;
  nullShare: number;
  zeroShare: number;
  min: number | null;
  p25: number | null;
  median: number | null;
  p75: number | null;
  max: number | null;
  mean: number | null;
  std: number | null;
  distinct: number;
  /** single-feature AUC against the labels; null when the labels are unknown or one class is too small */
  auc: number | null;
  flags: QaFlag[];
}

export interface SnapshotDescription {
  featureSetVersion: string;
  asOf: string;
  rows: number;
  labels: { rows: number; churned: number; churnRate: number } | null;
  features: FeatureStats[];
}

export interface DescribeOptions {
  featureSetVersion?: string;
  /** default: the latest as_of stored for the feature set */
  asOf?: Date;
  horizonDays?: number;
  leadDays?: number;
  graceDays?: number;
  minTenureDays?: number;
  dataEnd?: Date;
  /** AUC at or above this (or at or below 1 minus it) flags a leak; default LEAK_AUC (0.95) */
  leakAuc?: number;
  /** null share above this flags mostly-null; default 0.95 */
  mostlyNull?: number;
  /** fewest rows of each class for an AUC; default 5 */
  minClassRows?: number;
}

/** Coverage, nulls and distribution per feature for one snapshot, with constant / mostly-null / leaking flags. */
export async function describeSnapshot(db: Queryable, opts: DescribeOptions = {}): Promise<SnapshotDescription> {
  const fs = await readFeatureSet(db, opts.featureSetVersion);
  let asOf = opts.asOf;
  if (!asOf) {
    const r = await query<{ as_of: Date | null }>(db, { text: 'SELECT max(as_of) AS as_of FROM churn.feature_snapshots WHERE feature_set_version = $1', values: [fs.version] });
    if (!r[0]?.as_of) throw new ChurnError('CHURN_ERR_NOT_ENOUGH_DATA', `feature set ${fs.version} has no snapshots; run \`churn features build\` first`);
    asOf = r[0].as_of;
  }
  const [{ n: rows }] = await query<{ n: number }>(db, { text: 'SELECT count(*)::int AS n FROM churn.feature_snapshots WHERE feature_set_version = $1 AND as_of = $2', values: [fs.version, asOf] });
  if (!rows) throw new ChurnError('CHURN_ERR_NOT_ENOUGH_DATA', `no snapshot of feature set ${fs.version} as of ${asOf.toISOString()}`);

  const label = { horizonDays: opts.horizonDays ?? 30, leadDays: opts.leadDays ?? 0, graceDays: opts.graceDays ?? 14, minTenureDays: opts.minTenureDays ?? 14, dataEnd: opts.dataEnd };
  const [stats, aucs] = await Promise.all([
    query<{ i: number; non_null: number; zeros: number; min: number | null; max: number | null; mean: number | null; std: number | null; distinct_values: number; q: number[] | null }>(db, snapshotStatsQuery(fs.version, asOf)),
    query<{ i: number; pos: number; neg: number; rank_sum: number | null }>(db, featureAucQuery(fs.version, asOf, label)),
  ]);
  const statByIndex = new Map(stats.map((s) => [s.i, s]));
  const aucByIndex = new Map(aucs.map((a) => [a.i, a]));
  const leakAuc = opts.leakAuc ?? LEAK_AUC;
  const mostlyNull = opts.mostlyNull ?? 0.95;
  const minClass = opts.minClassRows ?? 5;
  const first = aucs[0];
  const labels = first ? { rows: first.pos + first.neg, churned: first.pos, churnRate: first.pos / (first.pos + first.neg) } : null;

  const features = fs.names.map((name, k): FeatureStats => {
    const s = statByIndex.get(k + 1);
    const a = aucByIndex.get(k + 1);
    const count = s?.non_null ?? 0;
    const auc = a && a.pos >= minClass && a.neg >= minClass && a.rank_sum !== null ? (a.rank_sum - (a.pos * (a.pos + 1)) / 2) / (a.pos * a.neg) : null;
    const std = count ? (s?.std ?? 0) : null;
    const distinct = s?.distinct_values ?? 0;
    const flags: QaFlag[] = [];
    if (distinct <= 1 || std === 0) flags.push('constant');
    if (1 - count / rows > mostlyNull) flags.push('mostly_null');
    if (auc !== null && (auc >= leakAuc || auc <= 1 - leakAuc)) flags.push('leaking');
    return {
      index: k + 1,
      name,
      family: fs.families[k],
      description: fs.descriptions[k],
      rows,
      count,
      coverage: count / rows,
      nullShare: 1 - count / rows,
      zeroShare: (s?.zeros ?? 0) / rows,
      min: count ? (s?.min ?? null) : null,
      p25: s?.q?.[0] ?? null,
      median: s?.q?.[1] ?? null,
      p75: s?.q?.[2] ?? null,
      max: count ? (s?.max ?? null) : null,
      mean: count ? (s?.mean ?? null) : null,
      std,
      distinct,
      auc,
      flags,
    };
  });
  return { featureSetVersion: fs.version, asOf: asOf.toISOString(), rows, labels, features };
}
