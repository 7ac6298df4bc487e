/**
 * Validates raw records against a contract and encodes the valid ones as PostgreSQL COPY text
 * (tab-separated, `\N` for NULL), in chunks of about 64 KiB for the COPY stream.
 */
import type { CellValue } from './cells.ts';
import type { TableContract } from './contract.ts';
import type { Problem, ProblemList } from './problems.ts';
import type { RawRecord } from './read.ts';

const CHUNK_CHARS = 64 * 1024;

export function encodeCell(v: CellValue): string {
  if (v === null) return '\\N';
  if (typeof v === 'boolean') return v ? 't' : 'f';
  if (typeof v === 'number') return String(v);
  return v.replace(/[\\\n\r\t]/g, (ch) => (ch === '\\' ? '\\\\' : ch === '\n' ? '\\n' : ch === '\r' ? '\\r' : '\\t'));
}

/** zod issues of one row as problems: one per bad cell or unknown column. */
export function issuesToProblems(issues: ReadonlyArray<{ path: ReadonlyArray<PropertyKey>; message: string }>, line: number): Problem[] {
  return issues.map((issue) => ({ line, column: issue.path.length ? String(issue.path[0]) : null, reason: issue.message }));
}

export interface ValidateStats {
  valid: number;
}

export async function* validateAndEncode(records: AsyncIterable<RawRecord>, contract: TableContract, problems: ProblemList, stats: ValidateStats): AsyncGenerator<string> {
  const names = contract.stored;
  let buf = '';
  for await (const rec of records) {
    const parsed = contract.schema.safeParse(rec.values);
    if (!parsed.success) {
      for (const p of issuesToProblems(parsed.error.issues, rec.line)) problems.add(p);
      continue;
    }
    stats.valid++;
    const row = parsed.data;
    buf += String(rec.line);
    for (const n of names) buf += `\t${encodeCell(row[n])}`;
    buf += '\n';
    if (buf.length >= CHUNK_CHARS) {
      yield buf;
      buf = '';
    }
  }
  if (buf) yield buf;
}
