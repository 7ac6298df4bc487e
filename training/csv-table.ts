import { createHash } from 'node:crypto';
import { parse } from 'csv-parse/sync';
import { z } from 'zod';
import { ChurnError, describeIssues } from '../core/errors.ts';
import { nearNames } from '../core/suggest.ts';
import type { Catalog } from '../features/catalog.ts';
import { definitionFields } from '../features/qa.ts';
import { declaredFields, type Column, type PreparedTable, type Split } from './table.ts';

/** The split column read when none is named. */
export const DEFAULT_SPLIT_COL = 'split';

export const CsvTableOptions = z.object({
  label: z.string().min(1),
  idCol: z.string().min(1).default('id'),
  /** a split column the file must have; when not given, DEFAULT_SPLIT_COL is read if the file has it */
  splitCol: z.string().min(1).optional(),
});
export type CsvTableOptions = z.input<typeof CsvTableOptions>;

const BLANKS = new Set(['', 'na', 'nan', 'null', 'none']);
const LABELS: Record<string, number> = { '0': 0, '1': 1, false: 0, true: 1, no: 0, yes: 1 };

/** A cell that means "no value": empty, whitespace, NA, NaN, null, None (case-insensitive). */
export function isBlank(cell: string | undefined | null): boolean {
  return cell === undefined || cell === null || BLANKS.has(cell.trim().toLowerCase());
}

function asNumber(cell: string): number | null {
  const t = cell.trim();
  if (!/^[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?$/.test(t)) return null;
  const v = Number(t);
  return Number.isFinite(v) ? v : null;
}

/** Share of a column's non-blank cells that must be numbers for it to be read as numbers. */
export const NUMERIC_SHARE = 0.95;

/**
 * A feature column from raw cells: numeric when (almost) every non-blank cell is a number (at least
 * NUMERIC_SHARE, the rest become missing, as in Telco's TotalCharges), text otherwise; blanks are null
 * either way.
 */
export function inferColumn(name: string, cells: string[]): Column {
  return inferColumnNoted(name, cells).column;
}

/**
 * inferColumn, with a note when the column mixes numbers and text: read as numbers, how many text
 * cells became missing; read as text although at least half of its cells are numbers, how many cells
 * were not numbers (each distinct number is then a category of its own). The note names the first
 * such cell by its line (the header is line 1).
 */
export function inferColumnNoted(name: string, cells: string[]): { column: Column; note: string | null } {
  let present = 0;
  let numeric = 0;
  let first = -1;
  for (let i = 0; i < cells.length; i++) {
    const c = cells[i];
    if (isBlank(c)) continue;
    present++;
    if (asNumber(c) !== null) numeric++;
    else if (first < 0) first = i;
  }
  const text = present - numeric;
  const counted = `${text} of ${present} non-blank cells ${text === 1 ? 'is not a number' : 'are not numbers'}`;
  const where = first >= 0 ? `first on line ${first + 2}: "${cells[first].trim()}"` : '';
  if (present > 0 && numeric / present >= NUMERIC_SHARE) {
    const column: Column = { name, kind: 'numeric', values: cells.map((c) => (isBlank(c) ? null : asNumber(c))) };
    const note = text ? `column "${name}": ${counted} (${where}); read as numbers, with ${text === 1 ? 'that cell' : 'those cells'} missing` : null;
    return { column, note };
  }
  const column: Column = { name, kind: 'text', values: cells.map((c) => (isBlank(c) ? null : c.trim())) };
  const note = numeric > 0 && numeric * 2 >= present
    ? `column "${name}": ${counted} (${where}), over ${Math.round((1 - NUMERIC_SHARE) * 100)}%; read as text, every distinct value a category of its own (blank those cells to read it as numbers)`
    : null;
  return { column, note };
}

/** Parses CSV text into header and rows; a malformed file is one CHURN_ERR_BAD_FILE. */
export function parseCsv(text: string, file: string): { header: string[]; rows: string[][] } {
  let records: string[][];
  try {
    records = parse(text, { bom: true, skip_empty_lines: true, relax_column_count: false }) as string[][];
  } catch (err) {
    throw new ChurnError('CHURN_ERR_BAD_FILE', `${file}: not a valid CSV file: ${(err as Error).message}`);
  }
  if (records.length === 0) throw new ChurnError('CHURN_ERR_BAD_FILE', `${file}: the file is empty`);
  const header = records[0].map((h) => h.trim());
  const dup = header.find((h, i) => header.indexOf(h) !== i);
  if (dup !== undefined) throw new ChurnError('CHURN_ERR_BAD_FILE', `${file}: column "${dup}" appears twice in the header`);
  return { header, rows: records.slice(1) };
}

/** A prepared table read from a CSV file, and what reading it noticed (columns left out, mixed columns). */
export interface CsvTable {
  table: PreparedTable;
  notes: string[];
  /** the split column read, or null when the file has none (every row is a train row) */
  splitColumn: string | null;
}

/**
 * A prepared table from CSV text: an id column, a 0/1 label column, an optional split column
 * (`train`, `valid` or `test`; every row is `train` when the file has no such column) and feature
 * columns, numeric or text, blanks allowed.
 */
export function tableFromCsv(text: string, file: string, options: CsvTableOptions): PreparedTable {
  return readCsvTable(text, file, options).table;
}

/** The index of `name` in the header, or one error naming it with the near matches and the columns. */
function requireColumn(header: string[], name: string, what: string, file: string): number {
  const i = header.indexOf(name);
  if (i >= 0) return i;
  const near = nearNames(name, header);
  const hint = near.length ? `; did you mean ${near.map((n) => `"${n}"`).join(' or ')}?` : '';
  throw new ChurnError('CHURN_ERR_BAD_FILE', `${file}: no ${what} column "${name}"${hint} (columns: ${header.join(', ')})`);
}

/**
 * tableFromCsv, with its notes. A named split column (`splitCol`) must be in the file; without one,
 * `split` is read when present. A column named like a split column (`split` in any case) that is not
 * the one read is left out of the features, with a note: train/test markers are no feature, and
 * reading them as one would hide that the test rows were trained on.
 */
export function readCsvTable(text: string, file: string, options: CsvTableOptions): CsvTable {
  const parsedOpts = CsvTableOptions.safeParse(options);
  if (!parsedOpts.success) throw new ChurnError('CHURN_ERR_VALIDATION', describeIssues(parsedOpts.error.issues));
  const opts = parsedOpts.data;
  const { header, rows } = parseCsv(text, file);
  const labelIdx = requireColumn(header, opts.label, 'label', file);
  const idIdx = requireColumn(header, opts.idCol, 'id', file);
  const splitIdx = opts.splitCol === undefined ? header.indexOf(DEFAULT_SPLIT_COL) : requireColumn(header, opts.splitCol, 'split', file);
  if (rows.length === 0) throw new ChurnError('CHURN_ERR_NOT_ENOUGH_DATA', `${file}: the file has a header but no rows`);
  const notes: string[] = [];
  const splitLike = header.flatMap((name, j) => (j !== splitIdx && j !== labelIdx && j !== idIdx && name.toLowerCase() === DEFAULT_SPLIT_COL ? [j] : []));
  for (const j of splitLike) {
    notes.push(splitIdx >= 0
      ? `column "${header[j]}" is left out of the features: it is named as a split column, and the split is read from "${header[splitIdx]}"`
      : `column "${header[j]}" is left out of the features: it is named as a split column, and the file has no column "${DEFAULT_SPLIT_COL}", so every row is a train row (--split-col ${header[j]} reads the split from it)`);
  }

  const ids: string[] = [];
  const label: number[] = [];
  const split: Split[] = [];
  const seen = new Set<string>();
  rows.forEach((r, i) => {
    const line = i + 2;
    const id = r[idIdx]?.trim() ?? '';
    if (!id) throw new ChurnError('CHURN_ERR_BAD_FILE', `${file}: line ${line}: empty id`);
    if (seen.has(id)) throw new ChurnError('CHURN_ERR_BAD_FILE', `${file}: line ${line}: duplicate id "${id}"`);
    seen.add(id);
    const y = LABELS[(r[labelIdx] ?? '').trim().toLowerCase()];
    if (y === undefined) throw new ChurnError('CHURN_ERR_BAD_FILE', `${file}: line ${line}: label "${r[labelIdx]}" in column "${opts.label}" is not 0/1`);
    let s: Split = 'train';
    if (splitIdx >= 0) {
      const v = (r[splitIdx] ?? '').trim().toLowerCase();
      if (v !== 'train' && v !== 'valid' && v !== 'test') throw new ChurnError('CHURN_ERR_BAD_FILE', `${file}: line ${line}: split "${r[splitIdx]}" is not train, valid or test`);
      s = v;
    }
    ids.push(id);
    label.push(y);
    split.push(s);
  });
  const skip = new Set([labelIdx, idIdx, splitIdx, ...splitLike]);
  const columns = header.flatMap((name, j) => {
    if (skip.has(j)) return [];
    const { column, note } = inferColumnNoted(name, rows.map((r) => r[j] ?? ''));
    if (note) notes.push(note);
    return [column];
  });
  if (columns.length === 0) throw new ChurnError('CHURN_ERR_BAD_FILE', `${file}: no feature columns besides id, label and split`);
  const sha256 = createHash('sha256').update(text).digest('hex');
  return { table: { ids, label, split, columns, source: { kind: 'csv', path: file, sha256 } }, notes, splitColumn: splitIdx >= 0 ? header[splitIdx] : null };
}

/** What the feature catalogue declared on a prepared table's columns (catalogueDeclarations). */
export interface CatalogueMatch {
  /** columns named as catalogue features */
  matched: number;
  /** of those, with a declared risk direction */
  risk: number;
  /** of those, with a declared meaning of a missing value */
  missing: number;
}

/**
 * A prepared table whose columns named as features of the catalogue (a `churn dataset export` file)
 * carry the catalogue's declarations, as the database path's columns do: family, unit, the direction
 * of risk and what a missing value stands for. A model trained on the file then keeps to them, so it
 * never explains "90 days late" as lowering the risk. Columns of other names are left as they are; a
 * text column named as a feature gets only its family (directions are of numbers).
 */
export function catalogueDeclarations(table: PreparedTable, catalog: Pick<Catalog, 'byName' | 'features'>): { table: PreparedTable; match: CatalogueMatch } {
  const match: CatalogueMatch = { matched: 0, risk: 0, missing: 0 };
  const declarations = definitionFields(catalog.features, table.columns.map((c) => c.name));
  const columns = table.columns.map((c, k): Column => {
    if (!catalog.byName.has(c.name)) return c;
    match.matched++;
    const declared = declaredFields(declarations, k);
    if (c.kind === 'text') return { ...c, family: declared.family };
    if (declared.risk) match.risk++;
    if (declared.missing) match.missing++;
    return { ...c, ...declared };
  });
  return { table: { ...table, columns }, match };
}

/** The one line training prints when a prepared table's columns take the catalogue's declarations. */
export function describeCatalogueMatch(match: CatalogueMatch, columns: number): string {
  return `feature catalogue: ${match.matched} of ${columns} columns are its features; their declarations apply (${match.risk} risk directions, ${match.missing} meanings of a missing value)`;
}

/** Rows of a CSV file as records keyed by column name (blanks as null), for scoring. */
export function recordsFromCsv(text: string, file: string): { header: string[]; records: Record<string, string | null>[] } {
  const { header, rows } = parseCsv(text, file);
  return { header, records: rows.map((r) => Object.fromEntries(header.map((h, j) => [h, isBlank(r[j]) ? null : r[j].trim()]))) };
}
