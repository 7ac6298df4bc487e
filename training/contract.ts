import { z } from 'zod';
import type { UNITS } from '../features/definitions/schema.ts';
import type { Preprocessing } from './preprocess.ts';
import type { PreparedTable } from './table.ts';

/**
 * A model's input contract: what a row must look like to be scored by it. Stored with the artifact,
 * shown by `GET /v1/models/:version` and `churn models show`, and checked at every seam where a row
 * meets the model (`POST /v1/predict`, `churn predict`, the server loading a champion).
 */
export const ContractFeature = z.object({
  name: z.string(),
  type: z.enum(['numeric', 'categorical']),
  family: z.string(),
  /** categories seen in the table the model was trained from (categorical features): any other value is refused */
  categories: z.array(z.string()).optional(),
  /** smallest and largest value seen in training (numeric features; null when every value was missing) */
  range: z.object({ min: z.number(), max: z.number() }).nullable().optional(),
  /**
   * the values the feature can take at all, from its unit (counts and amounts are never negative; a
   * share lies in 0-1, a percentage in 0-100, a flag in 0-1), where training agreed: a value outside
   * it is refused, not scored. Absent: no such bound (and for models trained before domains).
   */
  domain: z.object({ min: z.number(), max: z.number().optional() }).optional(),
  /** whether training saw missing values (null) for it */
  missing_seen: z.boolean(),
  /** how churn risk moves as the value rises, as declared by the feature catalogue (the model keeps to it) */
  risk: z.enum(['increasing', 'decreasing']).optional(),
  /**
   * what a missing value (null) is scored as, as declared by the feature catalogue: the lowest or the
   * highest value training saw (absent: what training learnt from the data)
   */
  missing_as: z.enum(['lowest', 'highest']).optional(),
});
export type ContractFeature = z.infer<typeof ContractFeature>;

export const InputContract = z.object({
  /** the feature catalogue the features come from (null: a prepared table's own columns) */
  feature_set_version: z.string().nullable(),
  features: z.array(ContractFeature),
  /** the account segments (source.accounts.segment) seen in training, when known */
  account_segments: z.array(z.string()).optional(),
  /**
   * features of the table that training left out (one value on every training row, or nearly always
   * missing): a row may carry them, and they are not scored; any other key is refused
   */
  left_out: z.array(z.string()).optional(),
});
export type InputContract = z.infer<typeof InputContract>;

type Unit = (typeof UNITS)[number];

/** The values a feature of each unit can take at all (units without a bound are absent). */
const UNIT_DOMAINS: Readonly<Partial<Record<Unit, { min: number; max?: number }>>> = {
  users: { min: 0 }, events: { min: 0 }, events_per_day: { min: 0 }, events_per_user: { min: 0 }, ratio: { min: 0 },
  areas: { min: 0 }, features: { min: 0 }, tickets: { min: 0 }, hours: { min: 0 }, currency: { min: 0 }, seats: { min: 0 },
  invoices: { min: 0 }, payments: { min: 0 },
  share: { min: 0, max: 1 }, percent: { min: 0, max: 100 }, flag: { min: 0, max: 1 },
};

/**
 * The domain of a numeric feature of `unit` whose training values spanned `range`: the unit's bounds
 * that the training data kept to (a bound the data broke is not one: the definition's unit was wrong,
 * or the data counts something else).
 */
export function domainOf(unit: string | undefined, range: { min: number; max: number } | null): { min: number; max?: number } | undefined {
  const d = unit === undefined ? undefined : UNIT_DOMAINS[unit as Unit]; // a unit of stored definitions: any text
  if (!d || (range && range.min < d.min)) return undefined;
  return d.max !== undefined && (!range || range.max <= d.max) ? { min: d.min, max: d.max } : { min: d.min };
}

/**
 * The contract of a model fitted on `rows` of `table` with preprocessing `pre`: ranges from those
 * rows, categories from every row of the table (a category seen only in held-out rows is known to the
 * data, and the model scores it in its rare bucket).
 */
export function buildContract(table: PreparedTable, rows: readonly number[], pre: Preprocessing, featureSetVersion: string | null, leftOut: readonly string[] = []): InputContract {
  const byName = new Map(table.columns.map((c) => [c.name, c]));
  const features = pre.columns.map((spec): ContractFeature => {
    const col = byName.get(spec.name)!;
    let missing = false;
    if (col.kind === 'text') {
      const seen = new Set<string>();
      for (const v of col.values) {
        if (v === null) missing = true;
        else seen.add(v);
      }
      return { name: spec.name, type: 'categorical', family: spec.family, categories: [...seen].sort(), missing_seen: missing };
    }
    let min = Infinity;
    let max = -Infinity;
    for (const i of rows) {
      const v = col.values[i];
      if (v === null || !Number.isFinite(v)) missing = true;
      else if (v < min) min = v;
      if (v !== null && Number.isFinite(v) && v > max) max = v;
    }
    const range = min <= max ? { min, max } : null;
    const domain = domainOf(col.kind === 'numeric' ? col.unit : undefined, range);
    return {
      name: spec.name, type: 'numeric', family: spec.family, range, ...(domain ? { domain } : {}), missing_seen: missing,
      ...(spec.kind === 'numeric' && spec.risk ? { risk: spec.risk } : {}),
      ...(col.kind === 'numeric' && col.missing ? { missing_as: col.missing } : {}),
    };
  });
  const segments = table.context?.segment ? [...new Set(rows.map((i) => table.context!.segment![i]).filter((s) => typeof s === 'string' && s !== ''))].sort() : [];
  return { feature_set_version: featureSetVersion, features, ...(segments.length ? { account_segments: segments } : {}), ...(leftOut.length ? { left_out: [...leftOut] } : {}) };
}

/**
 * The contract an artifact carries, or (artifacts from before contracts) the one its preprocessing or
 * its trees imply: types, families and the categories the model knows; no ranges.
 */
export function contractOf(artifact: {
  input_contract?: InputContract; feature_set_version: string | null; preprocessing?: Preprocessing;
  gbdt?: { features: ({ name: string; kind: 'numeric' } | { name: string; kind: 'categorical'; categories: string[] })[] }; feature_families: Record<string, string>;
}): InputContract {
  if (artifact.input_contract) return artifact.input_contract;
  if (!artifact.preprocessing) {
    return {
      feature_set_version: artifact.feature_set_version,
      features: (artifact.gbdt?.features ?? []).map((f) => ({
        name: f.name, type: f.kind, family: artifact.feature_families[f.name] ?? 'other', missing_seen: true,
        ...(f.kind === 'categorical' ? { categories: [...f.categories].sort() } : { range: null }),
      })),
    };
  }
  return {
    feature_set_version: artifact.feature_set_version,
    features: artifact.preprocessing.columns.map((c) => c.kind === 'text'
      ? { name: c.name, type: 'categorical' as const, family: c.family, categories: [...c.categories].sort(), missing_seen: c.missingBucket }
      : { name: c.name, type: 'numeric' as const, family: c.family, range: null, missing_seen: c.missingIndicator }),
  };
}
