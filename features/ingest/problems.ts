import { ChurnError } from '../../core/errors.ts';

/** One thing wrong with a file: a physical line (1-based), the column when there is one, and why. */
export interface Problem {
  line: number;
  column: string | null;
  reason: string;
}

export const MAX_PROBLEMS = 20;

/** Keeps the first `max` problems (in the order found) and counts all of them. */
export class ProblemList {
  readonly items: Problem[] = [];
  count = 0;

  constructor(readonly max = MAX_PROBLEMS) {}

  add(p: Problem): void {
    this.count++;
    if (this.items.length < this.max) this.items.push(p);
  }

  /** Adds problems found elsewhere (SQL checks) of which `total` exist, `first` being the earliest. */
  merge(first: Problem[], total: number): void {
    this.count += total;
    this.items.push(...first);
    this.items.sort((a, b) => a.line - b.line || (a.column ?? '').localeCompare(b.column ?? ''));
    this.items.length = Math.min(this.items.length, this.max);
  }
}

export function formatProblem(p: Problem): string {
  return p.column ? `line ${p.line}, column ${p.column}: ${p.reason}` : `line ${p.line}: ${p.reason}`;
}

/** The one error for a bad file: a single line naming the file, the count and the first problems. */
export function badFileError(file: string, problems: ProblemList): ChurnError {
  const n = problems.count;
  const shown = problems.items.map(formatProblem).join('; ');
  const more = n > problems.items.length ? `; and ${n - problems.items.length} more` : '';
  return new ChurnError('CHURN_ERR_BAD_FILE', `${file}: ${n} problem${n === 1 ? '' : 's'}; first: ${shown}${more}; nothing was loaded`, { details: problems.items });
}
