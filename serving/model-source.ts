import type { Queryable } from '../core/db.ts';
import { isChurnError } from '../core/errors.ts';
import type { Catalog } from '../features/catalog.ts';
import { loadModel, resolveVersion } from '../training/registry/index.ts';
import { createScorer } from '../training/scorer.ts';
import type { ModelSource } from './model-holder.ts';
import { describeValue } from './describe.ts';
import type { ServingModel } from './score-builder.ts';

/** Builds a serving model from a registry artifact: the plain-JS scorer plus feature descriptions. */
export function servingModelFrom(version: number, artifact: unknown, catalog: Catalog): ServingModel {
  const scorer = createScorer(artifact);
  const featureSetVersion = (artifact as { feature_set_version?: string | null }).feature_set_version ?? null;
  const defs = scorer.featureNames.map((f) => catalog.byName.get(f));
  return {
    version,
    featureSetVersion,
    featureNames: scorer.featureNames,
    families: scorer.families,
    references: scorer.references,
    score: (row) => scorer.score(row),
    describe: (i, value, reference) => describeValue(scorer.featureNames[i], defs[i], value, reference),
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
