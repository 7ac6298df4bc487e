/** The model registry in PostgreSQL: versions, artifacts with checksums, lineage, aliases and their history. */
export * from './types.ts';
export { AliasName, getModel, listModels, loadModel, parseVersionRef, recordFailedRun, recordMlflowResult, registerModel, resolveVersion, type VersionRef } from './store.ts';
export { ALIAS_CHANNEL, aliasHistory, setAlias, type AliasNotification, type SetAliasInput } from './aliases.ts';
export { canonicalJson, packArtifact, sha256Hex, unpackArtifact } from './canonical.ts';
export { flattenNumeric, metricValue } from './metrics.ts';
export { gitRevision } from './git.ts';
export { describeModel, type ModelDetails } from './manual.ts';
export { promote, promoteOrExplain, type PromoteRequest } from './promotion.ts';
