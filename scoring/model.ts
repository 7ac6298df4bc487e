import { FAMILIES } from '../features/definitions/schema.ts';
import type { Catalog } from '../features/catalog.ts';
import { sentenceOf } from '../features/describe-value.ts';
import { parseArtifact } from '../training/artifact.ts';
import { modelContract, type ContractFeature, type InputContract } from '../training/contract.ts';
import { createScorer, type RowScore } from '../training/scorer.ts';

/** A feature value as scoring takes it: a number, a category, or null for "no value". */
export type RowValue = number | string | null;

/**
 * A model as scoring uses it, loaded once: everything that depends only on the model (feature
 * order, families and their slots, reference values, the sentence of each feature, for established
 * and young accounts) is worked out here, so a score only runs the model and formats values.
 */
export interface ScoringModel {
  /** registry version (0 for a model read from an artifact file) */
  version: number;
  modelType: string;
  featureSetVersion: string | null;
  /** the model's training churn rate: the `relative` health mapping is anchored on it */
  baseRate: number;
  featureNames: string[];
  /** each feature's position in `featureNames` */
  featureIndex: ReadonlyMap<string, number>;
  families: string[];
  /** each feature's family as an index into FAMILIES (-1: a family outside them) */
  familySlots: Int8Array;
  /** typical value among retained training accounts, per feature (null when unknown) */
  references: (number | string | null)[];
  /** the young accounts' references, youngest first: a row `score` puts in band k is explained against youngBands[k] */
  youngBands: { maxTenureDays: number; references: (number | string | null)[] }[];
  /** what a row must look like to be scored (training/contract.ts), with its features by name and the features training left out */
  contract: InputContract & { byName: Map<string, ContractFeature>; leftOut: ReadonlySet<string> };
  /**
   * The catalogue's flags of the account's segment (`segment_enterprise`: 1 for an enterprise account),
   * so a caller's row names its segment as the account's own data does (none without the catalogue)
   */
  segmentFlags: readonly { feature: string; segment: string }[];
  /** calibrated probability, log-odds and per-feature contributions of one row */
  score(row: Readonly<Record<string, RowValue>>): RowScore;
  /** the plain-language sentence for feature `i` at `value`, against the model's reference (young band `band`'s, when 0 or more) */
  describe(i: number, value: RowValue, band?: number): string;
}

/** Builds the scoring model of an artifact (registry version `version`); `catalog` gives the sentences. */
export function scoringModel(input: unknown, opts: { version: number; catalog?: Catalog }): ScoringModel {
  const artifact = parseArtifact(input);
  const scorer = createScorer(artifact);
  const contract = modelContract(artifact, opts.catalog);
  const families = scorer.families;
  const sentences = scorer.featureNames.map((name, i) => sentenceOf(name, opts.catalog?.byName.get(name), scorer.references[i]));
  const bandSentences = scorer.youngBands.map((yb) => scorer.featureNames.map((name, i) => sentenceOf(name, opts.catalog?.byName.get(name), yb.references[i], `typical retained account in its first ${yb.maxTenureDays} days`)));
  return {
    version: opts.version,
    modelType: scorer.modelType,
    featureSetVersion: artifact.feature_set_version,
    baseRate: artifact.training.churn_rate,
    featureNames: scorer.featureNames,
    featureIndex: new Map(scorer.featureNames.map((name, i) => [name, i])),
    families,
    familySlots: Int8Array.from(families, (f) => (FAMILIES as readonly string[]).indexOf(f)),
    references: scorer.references,
    youngBands: scorer.youngBands.map((yb) => ({ maxTenureDays: yb.maxTenureDays, references: yb.references })),
    contract: { ...contract, byName: new Map(contract.features.map((f) => [f.name, f])), leftOut: new Set(contract.left_out) },
    segmentFlags: opts.catalog && opts.catalog.version === artifact.feature_set_version
      ? opts.catalog.features.flatMap((d) => (d.kind === 'account_attr' && d.attr === 'segment' ? [{ feature: d.name, segment: d.equals }] : []))
      : [],
    score: (row) => scorer.score(row),
    describe: (i, value, band = -1) => (band >= 0 ? bandSentences[band] : sentences)[i](value),
  };
}
