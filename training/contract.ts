import { z } from 'zod';
import type { Catalog } from '../features/catalog.ts';
import { valueDomain, type Domain } from '../features/domain.ts';
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
   * the values the feature can take at all, from its definition (counts and amounts are never
   * negative; a share lies in 0-1, active days in a 28-day window in 0-28, an NPS answer in 0-10; see
   * features/domain.ts), where training agreed: a value outside it is refused, not scored. Absent: no
   * such bound (a prepared table's columns, a change that can fall as well as rise).
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

/**
 * The domain of a numeric feature whose definition bounds it to `declared` (features/domain.ts) and
 * whose training values spanned `range`: the bounds the training data kept to (a bound the data broke
 * is not one: the definition was wrong, or the data counts something else).
 */
export function domainOf(declared: Domain | undefined, range: { min: number; max: number } | null | undefined): Domain | undefined {
  if (!declared || (range && range.min < declared.min)) return undefined;
  return declared.max !== undefined && (!range || range.max <= declared.max) ? { min: declared.min, max: declared.max } : { min: declared.min };
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
    const domain = domainOf(col.kind === 'numeric' ? col.domain : undefined, range);
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

/**
 * The contract of an artifact (`contractOf`) with the domains its feature catalogue's definitions give
 * where it has none, so a model trained before a definition bounded a feature is held to the bound too
 * (a value the training data broke it with still lifts it). Only the catalogue of the model's own
 * feature set adds anything.
 */
export function modelContract(artifact: Parameters<typeof contractOf>[0], catalog: Catalog | undefined): InputContract {
  const contract = contractOf(artifact);
  if (!catalog || contract.feature_set_version !== catalog.version) return contract;
  return {
    ...contract,
    features: contract.features.map((f) => {
      if (f.type !== 'numeric' || f.domain) return f;
      const domain = domainOf(valueDomain(catalog.byName.get(f.name) as Readonly<Record<string, unknown>> | undefined), f.range);
      return domain ? { ...f, domain } : f;
    }),
  };
}
