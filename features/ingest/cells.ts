/**
 * Cell coercion for ingested files: turns one raw value (a CSV string, or any JSON value) into the
 * canonical value sent to PostgreSQL, or a reason it is unacceptable. Every rule here mirrors a type
 * or CHECK constraint of `source.*`, so a value that passes never fails in the database.
 */
export type ColumnType = 'text' | 'smallint' | 'integer' | 'bigint' | 'numeric' | 'boolean' | 'timestamptz';

/** A canonical cell: text, a number, a boolean, a bigint or numeric as decimal text, a timestamp as UTC ISO text with microseconds. */
export type CellValue = string | number | boolean | null;

export interface ColumnSpec {
  name: string;
  type: ColumnType;
  description: string;
  /** NULL allowed; a blank cell (or JSON null) becomes NULL */
  nullable?: boolean;
  /** the database default, used when the column is absent or blank */
  default?: string | number | boolean;
  /** allowed values of a text column */
  values?: readonly string[];
  /** inclusive bounds of a numeric column */
  min?: number;
  max?: number;
  /** numeric(precision, scale) */
  precision?: number;
  scale?: number;
  /** a timestamp of something that has happened (an event, a payment): a time after the load is noted as likely wrong */
  happened?: boolean;
}

export type CellResult = { ok: true; value: CellValue } | { ok: false; reason: string };

const INT_BOUNDS: Record<'smallint' | 'integer', [number, number]> = { smallint: [-32768, 32767], integer: [-2147483648, 2147483647] };
const INT8_MIN = -(2n ** 63n);
const INT8_MAX = 2n ** 63n - 1n;
const NUMBER_RE = /^[+-]?(\d+(\.\d*)?|\.\d+)([eE][+-]?\d+)?$/;
/** a date, then optionally a time with its zone (a time without one does not match) */
const TIMESTAMP_RE = /^(\d{4})-(\d{2})-(\d{2})(?:[Tt ](\d{2}):(\d{2})(?::(\d{2})(?:\.(\d{1,9}))?)?\s*([Zz]|[+-]\d{2}(?::?\d{2})?))?$/;

/** How a bad value is quoted in a reason: strings in quotes (shortened), other JSON values as JSON. */
export function show(raw: unknown): string {
  if (typeof raw === 'string') {
    const flat = raw.replace(/[\r\n\t]/g, ' ');
    return `'${flat.length > 40 ? `${flat.slice(0, 37)}...` : flat}'`;
  }
  const json = JSON.stringify(raw);
  return json.length > 40 ? `${json.slice(0, 37)}...` : json;
}

const ok = (value: CellValue): CellResult => ({ ok: true, value });
const bad = (reason: string): CellResult => ({ ok: false, reason });

function isBlank(raw: unknown): boolean {
  return raw === undefined || raw === null || (typeof raw === 'string' && raw.trim() === '');
}

/** Coerces one raw cell for a column. `undefined` means the column is absent from the row. */
export function parseCell(spec: ColumnSpec, raw: unknown): CellResult {
  if (isBlank(raw)) {
    if (spec.default !== undefined) return ok(spec.default);
    if (spec.nullable) return ok(null);
    if (raw === undefined) return bad('required column is missing');
    return bad(raw === null ? 'required, got null' : 'required, got a blank value');
  }
  switch (spec.type) {
    case 'text':
      return parseText(spec, raw);
    case 'smallint':
    case 'integer':
      return parseInteger(spec, raw, spec.type);
    case 'bigint':
      return parseBigint(raw);
    case 'numeric':
      return parseNumeric(spec, raw);
    case 'boolean':
      return parseBoolean(raw);
    case 'timestamptz':
      return parseTimestamp(raw);
  }
}

/** An identifier column (`account_id`, `invoice_id`, ...): its values are compared exactly. */
const isId = (spec: ColumnSpec) => spec.name.endsWith('_id');

function parseText(spec: ColumnSpec, raw: unknown): CellResult {
  // A JSON integer is read as its digits (numeric ids), as the same value in a CSV file would be.
  if (typeof raw === 'number' && Number.isSafeInteger(raw)) raw = String(raw);
  if (typeof raw !== 'string') return bad(`expected a string, got ${show(raw)}`);
  if (raw.includes('\u0000')) return bad('contains a NUL character');
  // Ids are matched exactly (`acc_1 ` would be a second account beside `acc_1`), and trimming them
  // silently could merge two ids the source system keeps apart: a space at either end is refused.
  if (isId(spec) && /^\s|\s$/.test(raw)) return bad(`an id may not begin or end with whitespace, got ${show(raw)}`);
  if (spec.values && !spec.values.includes(raw)) return bad(`expected one of ${spec.values.join(', ')}, got ${show(raw)}`);
  return ok(raw);
}

function toNumber(raw: unknown): number | undefined {
  if (typeof raw === 'number') return Number.isFinite(raw) ? raw : undefined;
  if (typeof raw === 'string' && NUMBER_RE.test(raw.trim())) return Number(raw.trim());
  return undefined;
}

function checkRange(spec: ColumnSpec, n: number, got: unknown): CellResult {
  if (spec.min !== undefined && spec.max !== undefined && (n < spec.min || n > spec.max)) return bad(`must be between ${spec.min} and ${spec.max}, got ${show(got)}`);
  if (spec.min !== undefined && n < spec.min) return bad(`must be >= ${spec.min}, got ${show(got)}`);
  if (spec.max !== undefined && n > spec.max) return bad(`must be <= ${spec.max}, got ${show(got)}`);
  return ok(n);
}

function parseInteger(spec: ColumnSpec, raw: unknown, type: 'smallint' | 'integer'): CellResult {
  const n = toNumber(raw);
  if (n === undefined) return bad(`expected an integer, got ${show(raw)}`);
  if (!Number.isInteger(n)) return bad(`expected an integer, got ${show(raw)}`);
  const [lo, hi] = INT_BOUNDS[type];
  if (n < lo || n > hi) return bad(`out of range for ${type}, got ${show(raw)}`);
  return checkRange(spec, n, raw);
}

function parseBigint(raw: unknown): CellResult {
  let v: bigint;
  if (typeof raw === 'number') {
    if (!Number.isSafeInteger(raw)) return bad(`expected an integer (write integers beyond 2^53 as strings), got ${show(raw)}`);
    v = BigInt(raw);
  } else if (typeof raw === 'string' && /^[+-]?\d+$/.test(raw.trim())) {
    v = BigInt(raw.trim());
  } else {
    return bad(`expected an integer, got ${show(raw)}`);
  }
  if (v < INT8_MIN || v > INT8_MAX) return bad(`out of range for bigint, got ${show(raw)}`);
  return ok(v.toString());
}

/**
 * numeric(precision, scale): rounded half away from zero to the scale in decimal (as PostgreSQL does,
 * and unlike binary floating point: 1.005 becomes 1.01), then checked against the precision and bounds.
 * The value stays a decimal string, so nothing is lost on the way to the database.
 */
function parseNumeric(spec: ColumnSpec, raw: unknown): CellResult {
  const text = typeof raw === 'number' && Number.isFinite(raw) ? String(raw) : typeof raw === 'string' ? raw.trim() : '';
  const m = /^([+-]?)(\d*)(?:\.(\d*))?(?:[eE]([+-]?\d+))?$/.exec(text);
  if (!m || !NUMBER_RE.test(text)) return bad(`expected a number, got ${show(raw)}`);
  const scale = spec.scale ?? 0;
  const precision = spec.precision ?? 1000;
  const tooLarge = bad(`must be below ${10 ** (precision - scale)}, got ${show(raw)}`);
  const all = `${m[2]}${m[3] ?? ''}`;
  const zeros = /^0*/.exec(all)![0].length;
  const digits = all.slice(zeros);
  // the decimal point sits before digits[point]; keep scale + 1 decimals, then round half away from zero
  const point = m[2].length + Number(m[4] ?? 0) - zeros;
  const keep = point + scale + 1;
  if (digits && keep > precision + 1) return tooLarge;
  const tenths = !digits || keep <= 0 ? 0n : BigInt(digits.slice(0, keep).padEnd(keep, '0'));
  const units = (tenths + 5n) / 10n;
  if (units >= 10n ** BigInt(precision)) return tooLarge;
  const signed = m[1] === '-' ? -units : units;
  const factor = 10n ** BigInt(scale);
  const value = `${signed < 0n ? '-' : ''}${(units / factor).toString()}${scale ? `.${(units % factor).toString().padStart(scale, '0')}` : ''}`;
  const range = checkRange(spec, Number(value), raw);
  return range.ok ? ok(value) : range;
}

const TRUE_TEXT = new Set(['true', 't', 'yes', 'y', 'on', '1']);
const FALSE_TEXT = new Set(['false', 'f', 'no', 'n', 'off', '0']);

/**
 * true/false, t/f (PostgreSQL's own output, what `\copy ... csv` writes), yes/no, y/n, on/off (what
 * spreadsheets and PostgreSQL's input also take) and 1/0, in any case.
 */
function parseBoolean(raw: unknown): CellResult {
  if (typeof raw === 'boolean') return ok(raw);
  if (raw === 1 || raw === 0) return ok(raw === 1);
  if (typeof raw === 'string') {
    const s = raw.trim().toLowerCase();
    if (TRUE_TEXT.has(s)) return ok(true);
    if (FALSE_TEXT.has(s)) return ok(false);
  }
  return bad(`expected true or false (also t/f, yes/no, y/n, on/off, 1/0), got ${show(raw)}`);
}

const DAYS_IN_MONTH = [31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31];

function daysInMonth(year: number, month: number): number {
  return month === 2 && (year % 4 === 0 && (year % 100 !== 0 || year % 400 === 0)) ? 29 : DAYS_IN_MONTH[month - 1];
}

/**
 * ISO 8601 date and time with an explicit zone (`Z`, `+02:00`, `+0200`, `+02`), to microseconds, or a
 * date alone, which is its 00:00 UTC (as the API reads dates). A time without a zone is refused: it
 * could be any of 26 instants. Returns UTC as `YYYY-MM-DDTHH:MM:SS.ffffffZ`, which sorts as text in
 * time order.
 */
export function parseTimestamp(raw: unknown): CellResult {
  const expected = `expected an ISO 8601 timestamp with time zone (e.g. 2026-01-31T09:30:00Z) or a date (2026-01-31, read as 00:00 UTC), got ${show(raw)}`;
  if (typeof raw !== 'string') return bad(expected);
  const m = TIMESTAMP_RE.exec(raw.trim());
  if (!m) return bad(expected);
  const [hh, mm, ss] = [m[4] ?? '00', m[5] ?? '00', m[6] ?? '00']; // a date alone: 00:00:00 UTC
  const [y, mo, d, h, mi, s] = [m[1], m[2], m[3], hh, mm, ss].map(Number);
  const fraction = (m[7] ?? '').slice(0, 6).padEnd(6, '0');
  if (y < 1000 || mo < 1 || mo > 12 || d < 1 || d > daysInMonth(y, mo) || h > 23 || mi > 59 || s > 59) return bad(`not a valid ${m[4] ? 'date and time' : 'date'}: ${show(raw)}`);
  let offsetMin = 0;
  const zone = m[8] ?? 'Z';
  if (zone !== 'Z' && zone !== 'z') {
    const digits = zone.slice(1).replace(':', '');
    const oh = Number(digits.slice(0, 2));
    const om = Number(digits.slice(2) || '0');
    if (oh > 15 || om > 59) return bad(`not a valid time zone offset: ${show(raw)}`);
    offsetMin = (zone[0] === '-' ? -1 : 1) * (oh * 60 + om);
  }
  if (offsetMin === 0) return ok(`${m[1]}-${m[2]}-${m[3]}T${hh}:${mm}:${ss}.${fraction}Z`);
  const date = new Date(0);
  date.setUTCFullYear(y, mo - 1, d);
  date.setUTCHours(h, mi - offsetMin, s, 0);
  const iso = date.toISOString();
  if (!/^\d{4}-/.test(iso)) return bad(`year out of range: ${show(raw)}`);
  return ok(`${iso.slice(0, 19)}.${fraction}Z`);
}
