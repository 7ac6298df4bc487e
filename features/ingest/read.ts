/**
 * Streaming readers: a CSV or JSONL file as raw records `{ line, values }`, never the whole file in
 * memory. Problems with the file's shape (header, field counts, malformed JSON, emptiness) go to the
 * problem list with their physical line numbers; only well-shaped records are yielded.
 */
import fs from 'node:fs';
import { pipeline, Transform, type Readable } from 'node:stream';
import { StringDecoder } from 'node:string_decoder';
import { parse, type InfoRecord, type Options as CsvOptions } from 'csv-parse';
import { attributeColumnProblem } from './attributes.ts';
import { unknownColumnReason, type TableContract } from './contract.ts';
import type { ProblemList } from './problems.ts';

export type FileFormat = 'csv' | 'jsonl';

export interface RawRecord {
  line: number;
  values: Record<string, unknown>;
}

export interface ReadStats {
  /** data rows seen (well-shaped or not) */
  rows: number;
}

const MAX_RECORD_BYTES = 4 * 1024 * 1024;

/** The file as a byte stream, reporting every chunk (for the checksum and the progress bar). */
function openFile(filePath: string, onChunk: (chunk: Buffer) => void): { file: fs.ReadStream; tap: Transform } {
  const file = fs.createReadStream(filePath, { highWaterMark: 256 * 1024 });
  const tap = new Transform({
    transform(chunk: Buffer, _enc, done) {
      onChunk(chunk);
      done(null, chunk);
    },
  });
  return { file, tap };
}

export function readRecords(filePath: string, format: FileFormat, contract: TableContract, problems: ProblemList, stats: ReadStats, onChunk: (chunk: Buffer) => void): AsyncGenerator<RawRecord> {
  return format === 'csv' ? readCsv(filePath, contract, problems, stats, onChunk) : readJsonl(filePath, problems, stats, onChunk);
}

/**
 * The header's problems, at its line: blank, repeated and missing columns; columns the contract does not
 * name (an error, or for a table with attributes an attribute column, which needs a valid name and
 * counts towards the table's limit). A file whose header has problems is not read further.
 */
function checkHeader(header: string[], line: number, contract: TableContract, problems: ProblemList): boolean {
  const before = problems.count;
  const known = new Set(contract.columns.map((c) => c.name));
  const seen = new Set<string>();
  const spec = contract.attributes;
  let attributeColumns = 0;
  const inHeader = new Set(header);
  const absent = [...known].filter((c) => !inHeader.has(c));
  header.forEach((name, i) => {
    if (name === '') problems.add({ line, column: null, reason: `field ${i + 1} of the header has no column name` });
    else if (seen.has(name)) problems.add({ line, column: name, reason: 'column appears more than once in the header' });
    else if (!known.has(name) && !spec) problems.add({ line, column: name, reason: unknownColumnReason(name, contract.name, known, absent) });
    else if (!known.has(name) && spec && name !== spec.column) {
      attributeColumns++;
      const reason = attributeColumnProblem(name, contract.name, known, spec, absent);
      if (reason) problems.add({ line, column: name, reason });
    }
    seen.add(name);
  });
  if (spec && attributeColumns > spec.max) {
    problems.add({ line, column: null, reason: `${attributeColumns} attribute columns (columns ${contract.name} does not name); at most ${spec.max}` });
  }
  for (const name of contract.required) if (!seen.has(name)) problems.add({ line, column: name, reason: 'required column is missing from the header' });
  return problems.count === before;
}

function csvReason(err: { code?: string; message?: string }): string {
  switch (err.code) {
    case 'CSV_QUOTE_NOT_CLOSED':
      return 'malformed CSV: a quoted field is never closed';
    case 'CSV_INVALID_CLOSING_QUOTE':
      return 'malformed CSV: a closing quote is followed by other characters';
    case 'CSV_MAX_RECORD_SIZE':
      return `malformed CSV: a record is longer than ${MAX_RECORD_BYTES} bytes`;
    default:
      return `malformed CSV: ${String(err.message ?? err).split('\n')[0].slice(0, 160)}`;
  }
}

function lineBreaks(field: string): number {
  let n = 0;
  for (let i = field.indexOf('\n'); i >= 0; i = field.indexOf('\n', i + 1)) n++;
  for (let i = field.indexOf('\r'); i >= 0; i = field.indexOf('\r', i + 1)) if (field[i + 1] !== '\n') n++;
  return n;
}

async function* readCsv(filePath: string, contract: TableContract, problems: ProblemList, stats: ReadStats, onChunk: (chunk: Buffer) => void): AsyncGenerator<RawRecord> {
  const { file, tap } = openFile(filePath, onChunk);
  let lastLine = 0;
  let lastEmpty = 0;
  let drift = 0;
  // Numbered as parsed (synchronously, so also right when a later parse error drops buffered records):
  // a record starts after the previous one and any skipped blank lines, and spans the line breaks inside
  // its quoted fields (csv-parse's own count takes a CRLF inside quotes for two lines).
  const numbered = (record: string[], ctx: InfoRecord) => {
    const line = lastLine + 1 + (ctx.empty_lines - lastEmpty);
    lastLine = line + record.reduce((sum, field) => sum + lineBreaks(field), 0);
    lastEmpty = ctx.empty_lines;
    drift = ctx.lines - lastLine;
    return { record, line };
  };
  const options: CsvOptions<{ record: string[]; line: number }, string[]> = { bom: true, relax_column_count: true, skip_empty_lines: true, max_record_size: MAX_RECORD_BYTES, on_record: numbered };
  const parser = parse(options as unknown as CsvOptions);
  pipeline(file, tap, parser, () => undefined);
  let header: string[] | undefined;
  try {
    for await (const { record, line } of parser as AsyncIterable<ReturnType<typeof numbered>>) {
      if (!header) {
        header = record.map((h) => h.trim());
        if (!checkHeader(header, line, contract, problems)) return;
        continue;
      }
      stats.rows++;
      if (record.length !== header.length) {
        problems.add({ line, column: null, reason: `expected ${header.length} fields, got ${record.length}` });
        continue;
      }
      const values: Record<string, unknown> = {};
      for (let i = 0; i < header.length; i++) values[header[i]] = record[i];
      yield { line, values };
    }
  } catch (err) {
    const e = err as { code?: string; message?: string; lines?: number };
    problems.add({ line: e.lines === undefined ? lastLine + 1 : e.lines - drift, column: null, reason: csvReason(e) });
    return;
  } finally {
    parser.destroy();
  }
  if (!header) problems.add({ line: 1, column: null, reason: 'the file is empty (expected a header row)' });
  else if (stats.rows === 0) problems.add({ line: lastLine + 1, column: null, reason: 'the file has no rows after the header' });
}

/** Lines of a byte stream, without their line endings; a line longer than the limit is an error. */
async function* splitLines(src: Readable): AsyncGenerator<string> {
  const decoder = new StringDecoder('utf8');
  let rest = '';
  const strip = (s: string) => (s.endsWith('\r') ? s.slice(0, -1) : s);
  for await (const chunk of src) {
    rest += decoder.write(chunk as Buffer);
    let start = 0;
    for (let i = rest.indexOf('\n'); i >= 0; i = rest.indexOf('\n', start)) {
      yield strip(rest.slice(start, i));
      start = i + 1;
    }
    rest = rest.slice(start);
    if (rest.length > MAX_RECORD_BYTES) throw new Error(`a line is longer than ${MAX_RECORD_BYTES} bytes`);
  }
  rest += decoder.end();
  if (rest.length) yield strip(rest);
}

function describeJson(v: unknown): string {
  if (v === null) return 'null';
  if (Array.isArray(v)) return 'an array';
  return `a ${typeof v}`;
}

async function* readJsonl(filePath: string, problems: ProblemList, stats: ReadStats, onChunk: (chunk: Buffer) => void): AsyncGenerator<RawRecord> {
  const { file, tap } = openFile(filePath, onChunk);
  pipeline(file, tap, () => undefined);
  let line = 0;
  try {
    for await (let text of splitLines(tap)) {
      line++;
      if (line === 1 && text.charCodeAt(0) === 0xfeff) text = text.slice(1);
      if (text.trim() === '') continue;
      stats.rows++;
      let value: unknown;
      try {
        value = JSON.parse(text);
      } catch (err) {
        problems.add({ line, column: null, reason: `malformed JSON: ${(err as Error).message.slice(0, 160)}` });
        continue;
      }
      if (typeof value !== 'object' || value === null || Array.isArray(value)) {
        problems.add({ line, column: null, reason: `expected a JSON object, got ${describeJson(value)}` });
        continue;
      }
      yield { line, values: value as Record<string, unknown> };
    }
  } catch (err) {
    problems.add({ line: line + 1, column: null, reason: (err as Error).message });
    return;
  } finally {
    tap.destroy();
  }
  if (stats.rows === 0) problems.add({ line: 1, column: null, reason: 'the file is empty (no JSON lines)' });
}
