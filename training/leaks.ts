import { LEAK_AUC } from '../features/qa.ts';
import { rocAuc } from './evaluate.ts';
import type { Column, PreparedTable } from './table.ts';

/** Categories of a text column seen on fewer training rows than this are pooled with the missing values. */
const MIN_CATEGORY_ROWS = 10;

export interface Leak {
  feature: string;
  /** the feature's single-feature AUC on the training rows */
  auc: number;
}

/**
 * The AUC with which one column alone ranks the labels of `rows`: a numeric column by its values
 * (missing values lowest, tied), a text column by each category's churn rate on those rows (categories
 * of fewer than MIN_CATEGORY_ROWS rows pooled with the missing values, so an id-like column ranks nothing).
 */
export function singleFeatureAuc(column: Column, label: readonly number[], rows: readonly number[]): number {
  const y = Float64Array.from(rows, (i) => label[i]);
  if (column.kind === 'numeric') {
    return rocAuc(y, Float64Array.from(rows, (i) => {
      const v = column.values[i];
      return v === null || !Number.isFinite(v) ? -Number.MAX_VALUE : v;
    }));
  }
  const counts = new Map<string, { n: number; churned: number }>();
  for (const i of rows) {
    const v = column.values[i];
    if (v === null) continue;
    const c = counts.get(v) ?? { n: 0, churned: 0 };
    c.n++;
    c.churned += label[i];
    counts.set(v, c);
  }
  const pooled = { n: 0, churned: 0 };
  for (const i of rows) {
    const v = column.values[i];
    if (v === null || counts.get(v)!.n < MIN_CATEGORY_ROWS) {
      pooled.n++;
      pooled.churned += label[i];
    }
  }
  const rate = (v: string | null) => {
    const c = v === null ? undefined : counts.get(v);
    const g = c && c.n >= MIN_CATEGORY_ROWS ? c : pooled;
    return g.churned / g.n;
  };
  return rocAuc(y, Float64Array.from(rows, (i) => rate(column.values[i])));
}

/** The features whose values alone separate the labels of the training rows (single-feature AUC at or beyond LEAK_AUC). */
export function findLeaks(table: PreparedTable, trainRows: readonly number[]): Leak[] {
  return table.columns.flatMap((c) => {
    const auc = singleFeatureAuc(c, table.label, trainRows);
    return auc >= LEAK_AUC || auc <= 1 - LEAK_AUC ? [{ feature: c.name, auc }] : [];
  });
}

/** The warning training prints and records for a possible leak. */
export function describeLeak(l: Leak): string {
  return `leak? \`${l.feature}\` alone ranks the label with AUC ${l.auc.toFixed(3)}${l.auc < 0.5 ? ' (the other way round)' : ''} on the training rows: `
    + 'a column that is known only after the outcome makes a model that cannot work on new accounts';
}
