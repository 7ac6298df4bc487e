import type { Queryable } from '../core/db.ts';
import { isChurnError } from '../core/errors.ts';
import type { Catalog } from '../features/catalog.ts';
import { loadModel, resolveVersion } from '../training/registry/index.ts';
import { baseRateOf } from '../training/artifact.ts';
import { createScorer } from '../training/scorer.ts';
import type { ModelSource } from './holder.ts';
import { describeValue } from './describe.ts';
import type { ServingModel } from './build-score.ts';

/** Builds a serving model from a registry artifact: the plain-JS scorer plus feature descriptions. */
export function servingModelFrom(version: number, artifact: unknown, catalog: Catalog): ServingModel {
  const scorer = createScorer(artifact);
  const featureSetVersion = (artifact as { feature_set_version?: string | null }).feature_set_version ?? null;
  const defs = scorer.featureNames.map((f) => catalog.byName.get(f));
  const sentences = scorer.featureNames.map(() => new Map<number | string | null, string>());
  return {
    version,
    featureSetVersion,
    baseRate: baseRateOf(artifact),
    featureNames: scorer.featureNames,
    families: scorer.families,
    references: scorer.references,
    score: (row) => scorer.score(row),
    describe: (i, value, reference) => {
      if (reference !== scorer.references[i]) return describeValue(scorer.featureNames[i], defs[i], value, reference);
      // Against the model's own reference the sentence depends on the value only: memoised per
      // feature, keyed by the value itself (no key string per driver on the hot path).
      const memo = sentences[i];
      let text = memo.get(value);
      if (text === undefined) {
        if (memo.size >= 4096) memo.clear();
        memo.set(value, (text = describeValue(scorer.featureNames[i], defs[i], value, reference)));
      }
      return text;
    },
  };
}

/** The model registry in PostgreSQL as the model holder's source. */
export function registryModelSource(db: Queryable, catalog: Catalog): ModelSource {
  return {
    resolveAlias: async (alias) => {
      try {
        return await resolveVersion(db, alias);
      } catch (err) {
        if (isChurnError(err) && err.code === 'CHURN_ERR_MODEL_NOT_FOUND') return null;
        throw err;
      }
    },
    load: async (version) => {
      const { meta, artifact } = await loadModel(db, version);
      return servingModelFrom(meta.version, artifact, catalog);
    },
  };
}
