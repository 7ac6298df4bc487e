import type { Column } from '../../table.ts';
import type { RawColumn } from './binning.ts';

/**
 * The GBDT's raw columns from a prepared table's columns: numeric columns as they are, text columns as
 * categorical (no one-hot: the trees split on category sets).
 */
export function rawColumnsFromTable(columns: Column[]): RawColumn[] {
  return columns.map((c): RawColumn => (c.kind === 'numeric'
    ? { name: c.name, kind: 'numeric', values: c.values }
    : { name: c.name, kind: 'categorical', values: c.values }));
}
