import type { Domain } from '../features/domain.ts';
import type { FeatureSetInfo } from '../features/qa.ts';

/**
 * The in-memory training table: what both the prepared-CSV loader and the database loader produce,
 * what `churn dataset export` writes, and what preprocessing and models consume.
 */
export type Split = 'train' | 'valid' | 'test';

/** The declarations of a feature set's features, by position (features/qa.ts `definitionFields`). */
export type Declarations = Pick<FeatureSetInfo, 'families' | 'risks' | 'units' | 'missings' | 'domains'>;

/** What a column of the feature at position `k` carries of its declarations: the fields declared, and no others. */
export function declaredFields(d: Declarations, k: number): Pick<NumericColumn, 'family' | 'risk' | 'unit' | 'missing' | 'domain'> {
  return {
    ...(d.families[k] ? { family: d.families[k] } : {}), ...(d.risks[k] ? { risk: d.risks[k] } : {}),
    ...(d.units[k] ? { unit: d.units[k] } : {}), ...(d.missings[k] ? { missing: d.missings[k] } : {}),
    ...(d.domains[k] ? { domain: d.domains[k] } : {}),
  };
}

export interface NumericColumn {
  name: string;
  kind: 'numeric';
  values: (number | null)[];
  /** feature family (engagement, usage, adoption, support, commercial, sentiment) when known */
  family?: string;
  /** how churn risk moves as the value rises, when the feature catalogue declares it (the model is constrained to it) */
  risk?: 'increasing' | 'decreasing';
  /** the feature's unit in the catalogue, when known (users, currency, share, ...) */
  unit?: string;
  /** the values the feature can take at all, when its definition bounds them (features/domain.ts) */
  domain?: Domain;
  /**
   * what a missing value stands for, when the feature catalogue declares it: the lowest or the highest
   * value training saw (a missing value is scored as that, not as a category of its own)
   */
  missing?: 'lowest' | 'highest';
}

export interface TextColumn {
  name: string;
  kind: 'text';
  values: (string | null)[];
  family?: string;
}

export type Column = NumericColumn | TextColumn;

export interface PreparedTable {
  /** row identifiers (account id, or account id and observation date on the database path) */
  ids: string[];
  /** 1 = churned, 0 = retained; one per row */
  label: number[];
  /** which side of the evaluation each row is on */
  split: Split[];
  columns: Column[];
  /** optional per-row context used for evaluation breakdowns, never as model inputs */
  context?: {
    accountId?: string[];
    asOf?: string[];
    segment?: string[];
  };
  /** lineage: where the rows came from (file path, or feature-set version and observation window) */
  source: { kind: 'csv'; path: string; sha256: string } | { kind: 'database'; featureSetVersion: string; asOfs: string[]; horizonDays: number };
}
