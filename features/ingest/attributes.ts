/**
 * A table's own attributes (accounts only): the columns of a file that the contract does not name,
 * and the optional JSON column of the same name as the jsonb column (`attributes`), gathered into one
 * object of text values by attribute name. Blank values are left out (missing, not ""); numbers and
 * booleans become their text. Names are lower-case snake_case, so a feature definition can name them.
 */
import { nearestName } from '../../core/suggest.ts';
import { show } from './cells.ts';

export interface AttributesSpec {
  /** the jsonb column they are stored in, and the name of the optional JSON column of a file */
  column: string;
  /** the most attributes one row may have (and attribute columns one CSV header may name) */
  max: number;
  description: string;
}

export const ATTRIBUTE_NAME = /^[a-z][a-z0-9_]*$/;
export const MAX_ATTRIBUTE_NAME = 63;

const NUL = '\u0000';
const LONE_SURROGATE = /[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/;

/** `Acquisition Channel` -> `acquisition_channel`: the name we suggest for one we refuse, if there is one. */
export function suggestName(name: string): string | null {
  const s = name
    .trim()
    .replace(/([a-z0-9])([A-Z])/g, '$1_$2')
    .toLowerCase()
    .replace(/[^a-z0-9]+/g, '_')
    .replace(/^_+|_+$/g, '');
  return ATTRIBUTE_NAME.test(s) && s.length <= MAX_ATTRIBUTE_NAME ? s : null;
}

/** Why `name` cannot be an attribute's name, or null. `columns`: the table's own columns (not attributes). */
export function attributeNameProblem(name: string, table: string, columns: ReadonlySet<string>, spec: AttributesSpec): string | null {
  if (columns.has(name) || name === spec.column) return `'${name}' is a column of ${table}, not an attribute name`;
  if (name.length > MAX_ATTRIBUTE_NAME) return `not a valid attribute name: longer than ${MAX_ATTRIBUTE_NAME} characters`;
  if (ATTRIBUTE_NAME.test(name)) return null;
  const suggestion = suggestName(name);
  return `not a valid attribute name: attribute names are lower-case snake_case (a-z, 0-9 and _, starting with a letter)${suggestion ? `, e.g. ${suggestion}` : ''}`;
}

/**
 * Why a file's column `name` (one the contract does not name) cannot be an attribute column, or null.
 * A near miss of a column the record lacks (`absent`: `industy` without `industry`) is taken for that
 * column misspelt: as an attribute of its own, the column would load empty without a word.
 */
export function attributeColumnProblem(name: string, table: string, columns: ReadonlySet<string>, spec: AttributesSpec, absent: readonly string[]): string | null {
  const near = nearestName(name, absent);
  if (near) return `looks like the column ${near} misspelt, and it has no ${near}: rename it (to keep ${name} as an attribute of your own, add ${near}, blank if need be)`;
  const reason = attributeNameProblem(name, table, columns, spec);
  if (!reason) return null;
  return `neither a column of ${table} (${[...columns].join(', ')}) nor a valid attribute name: ${reason.replace(/^not a valid attribute name: /, '')}`;
}

function describe(v: unknown): string {
  if (v === null) return 'null';
  if (Array.isArray(v)) return 'an array';
  return typeof v === 'object' ? 'an object' : `a ${typeof v}`;
}

/** One attribute value as stored text; `undefined` when blank (left out); or a reason it cannot be one. */
export function attributeValue(raw: unknown): { ok: true; value: string | undefined } | { ok: false; reason: string } {
  let text: string;
  if (raw === undefined || raw === null) return { ok: true, value: undefined };
  if (typeof raw === 'string') text = raw;
  else if (typeof raw === 'number' && Number.isFinite(raw)) text = String(raw);
  else if (typeof raw === 'boolean') text = raw ? 'true' : 'false';
  else return { ok: false, reason: `an attribute value must be text, a number or a boolean, got ${describe(raw)}${typeof raw === 'object' ? ` (nested values are not allowed): ${show(raw)}` : ''}` };
  if (text.trim() === '') return { ok: true, value: undefined };
  if (text.includes(NUL)) return { ok: false, reason: 'contains a NUL character' };
  if (LONE_SURROGATE.test(text)) return { ok: false, reason: 'contains an unpaired UTF-16 surrogate (not valid Unicode)' };
  return { ok: true, value: text };
}

export interface AttributeIssue {
  column: string;
  reason: string;
}

/**
 * Gathers a record's attributes: every key that is neither a column of the table nor the JSON column,
 * then the JSON column's object (a JSON object, or text holding one) merged in. A name given both ways
 * must have the same value. Returns the object, or the issues (each on the column it comes from).
 */
export function gatherAttributes(
  values: Record<string, unknown>,
  table: string,
  columns: ReadonlySet<string>,
  spec: AttributesSpec,
): { ok: true; attributes: Record<string, string> } | { ok: false; issues: AttributeIssue[] } {
  const issues: AttributeIssue[] = [];
  // no prototype: an attribute may be called `constructor`
  const attributes: Record<string, string> = Object.create(null) as Record<string, string>;
  let count = 0;
  let absent: string[] | null = null; // the table's columns the record lacks, worked out at its first attribute
  for (const key in values) {
    if (columns.has(key) || key === spec.column) continue;
    absent ??= [...columns].filter((c) => values[c] === undefined);
    const nameProblem = attributeColumnProblem(key, table, columns, spec, absent);
    if (nameProblem) {
      issues.push({ column: key, reason: nameProblem });
      continue;
    }
    const v = attributeValue(values[key]);
    if (!v.ok) issues.push({ column: key, reason: v.reason });
    else if (v.value !== undefined) {
      attributes[key] = v.value;
      count++;
    }
  }
  const json = readJsonColumn(values[spec.column]);
  if (!json.ok) issues.push({ column: spec.column, reason: json.reason });
  else if (json.object) {
    for (const key of Object.keys(json.object)) {
      const nameProblem = attributeNameProblem(key, table, columns, spec);
      if (nameProblem) {
        issues.push({ column: spec.column, reason: `key ${show(key)}: ${nameProblem}` });
        continue;
      }
      const v = attributeValue(json.object[key]);
      if (!v.ok) issues.push({ column: spec.column, reason: `key '${key}': ${v.reason}` });
      else if (v.value !== undefined) {
        const before = Object.hasOwn(attributes, key) ? attributes[key] : undefined;
        if (before === undefined) {
          attributes[key] = v.value;
          count++;
        } else if (before !== v.value) {
          issues.push({ column: spec.column, reason: `key '${key}': ${show(v.value)} differs from the ${key} column's ${show(before)}` });
        }
      }
    }
  }
  if (count > spec.max) issues.push({ column: spec.column, reason: `${count} attributes; at most ${spec.max} per ${table === 'accounts' ? 'account' : 'row'}` });
  return issues.length ? { ok: false, issues } : { ok: true, attributes };
}

/** The JSON column's object: blank (or absent, or JSON null) is none; text must parse to an object. */
function readJsonColumn(raw: unknown): { ok: true; object: Record<string, unknown> | null } | { ok: false; reason: string } {
  if (raw === undefined || raw === null || (typeof raw === 'string' && raw.trim() === '')) return { ok: true, object: null };
  let value: unknown = raw;
  if (typeof raw === 'string') {
    try {
      value = JSON.parse(raw);
    } catch (err) {
      const message = (err as Error).message.replace(/[\r\n\t]/g, ' ');
      return { ok: false, reason: `not valid JSON (expected an object such as {"country": "DE", "employees": 120}): ${message.length > 120 ? `${message.slice(0, 117)}...` : message}` };
    }
  }
  if (value === null) return { ok: true, object: null };
  if (typeof value !== 'object' || Array.isArray(value)) return { ok: false, reason: `expected a JSON object of attributes, got ${describe(value)}: ${show(raw)}` };
  return { ok: true, object: value as Record<string, unknown> };
}
