import { createHash } from 'node:crypto';
import type { Queryable } from '../core/db.ts';
import { query } from '../core/db.ts';
import { canonicalJson } from '../core/canonical-json.ts';
import { ChurnError, describeIssues } from '../core/errors.ts';
import { definitionsFromConfig, productDefinitions, type FeaturesConfig } from './config.ts';
import { FAMILIES, FeatureDefSchema, dependenciesOf, type FeatureDef, type FeatureInput } from './definitions/schema.ts';

export { FAMILIES, defineFeature, type Family, type FeatureDef, type FeatureInput } from './definitions/schema.ts';

/**
 * Bumped whenever the SQL templates change what a definition computes, so that the feature-set
 * version (a hash of the definitions and this revision) changes with them.
 */
export const SQL_REVISION = 4; // 2: inactivity windows count only the days since sign-up; 3: days late in whole days; 4: a window that ends before the account was created is NULL

export interface Catalog {
  /** sha256 of the canonical JSON of every definition (but its `singular` wording) and SQL_REVISION, first 16 hex digits */
  version: string;
  /** ordered: every derived feature after the features it depends on */
  features: FeatureDef[];
  byName: Map<string, FeatureDef>;
  names: string[];
}

/**
 * The fields that do not change a feature's values: its wording for people (labels and sentences)
 * and what training reads a missing value as (`missing`).
 */
const NOT_VALUES = ['label', 'description', 'singular', 'whenNull', 'yesNo', 'levels', 'missing'] as const;

/** A definition as the feature-set version hashes it: what it computes, without its wording. */
function withoutWording(def: FeatureDef): Partial<FeatureDef> {
  const rest: Partial<FeatureDef> = { ...def };
  for (const k of NOT_VALUES) delete rest[k];
  return rest;
}

function fail(message: string): never {
  throw new ChurnError('CHURN_ERR_VALIDATION', `feature catalogue: ${message}`);
}

/**
 * Validates the definitions (zod), checks names and dependencies, orders them, and hashes them.
 * Default: the product's catalogue, with the features of the file CHURN_FEATURES_CONFIG names.
 */
export function loadCatalog(inputs: readonly FeatureInput[] = productDefinitions()): Catalog {
  const parsed: FeatureDef[] = inputs.map((input, i) => {
    const r = FeatureDefSchema.safeParse(input);
    if (!r.success) {
      const name = typeof (input as { name?: unknown })?.name === 'string' ? (input as { name: string }).name : `#${i}`;
      fail(`feature ${name}: ${describeIssues(r.error.issues)}`);
    }
    return r.data;
  });
  const byName = new Map<string, FeatureDef>();
  for (const def of parsed) {
    if (byName.has(def.name)) fail(`feature ${def.name} is defined twice`);
    byName.set(def.name, def);
  }
  for (const def of parsed) {
    for (const dep of dependenciesOf(def)) {
      if (!byName.has(dep)) fail(`feature ${def.name} depends on unknown feature ${dep}`);
    }
    if (def.yesNo && def.unit !== 'flag') fail(`feature ${def.name}: yesNo words a flag (unit flag), not a value in ${def.unit}`);
    if (def.levels && def.unit !== 'ordinal') fail(`feature ${def.name}: levels name the values of an ordinal (unit ordinal), not of a value in ${def.unit}`);
    // a share of users: its numerator counts the users active in its own window
    if (def.kind === 'user_share') {
      const top = byName.get(def.dependsOn[0])!;
      if (top.kind !== 'active_users' || top.window.days !== def.window.days || top.window.offsetDays !== def.window.offsetDays) {
        fail(`feature ${def.name}: a user share depends on the active_users feature of its own window (${def.window.days} days back from ${def.window.offsetDays}), not on ${top.name}`);
      }
    }
  }
  // Stable topological order: declaration order, each derived feature moved after its inputs.
  const ordered: FeatureDef[] = [];
  const state = new Map<string, 'visiting' | 'done'>();
  const visit = (def: FeatureDef, path: string[]) => {
    const s = state.get(def.name);
    if (s === 'done') return;
    if (s === 'visiting') fail(`dependency cycle: ${[...path, def.name].join(' -> ')}`);
    state.set(def.name, 'visiting');
    for (const dep of dependenciesOf(def)) visit(byName.get(dep)!, [...path, def.name]);
    state.set(def.name, 'done');
    ordered.push(def);
  };
  for (const def of parsed) visit(def, []);
  const version = createHash('sha256').update(canonicalJson({ sqlRevision: SQL_REVISION, features: ordered.map(withoutWording) })).digest('hex').slice(0, 16);
  return { version, features: ordered, byName, names: ordered.map((f) => f.name) };
}

/**
 * Records the feature set (names in order, definitions) so snapshots and models can refer to its
 * version; the stored definitions take the catalogue's current wording, which the version leaves out.
 */
export async function ensureFeatureSet(db: Queryable, catalog: Catalog): Promise<void> {
  await query(db, {
    text: `INSERT INTO churn.feature_sets (feature_set_version, feature_names, definitions)
           VALUES ($1, $2::text[], $3::jsonb)
           ON CONFLICT (feature_set_version) DO UPDATE SET definitions = EXCLUDED.definitions
           WHERE churn.feature_sets.definitions IS DISTINCT FROM EXCLUDED.definitions`,
    values: [catalog.version, catalog.names, JSON.stringify(catalog.features)],
  });
}

/** The families present in a catalogue, in the canonical order. */
export function familiesOf(catalog: Catalog): string[] {
  const present = new Set(catalog.features.map((f) => f.family));
  return FAMILIES.filter((f) => present.has(f));
}

/** The catalogue a features configuration declares (features/config.ts). */
export function catalogFromConfig(config: FeaturesConfig): Catalog {
  return loadCatalog(definitionsFromConfig(config));
}
