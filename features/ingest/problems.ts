import { ChurnError } from '../../core/errors.ts';

/** One thing wrong with a file: a physical line (1-based), the column when there is one, and why. */
export interface Problem {
  line: number;
  column: string | null;
  reason: string;
}

/** Every row with one problem (the same column and reason): how many, and the first lines. */
export interface ProblemGroup {
  column: string | null;
  reason: string;
  count: number;
  /** the first `LINES_PER_GROUP` lines, ascending */
  lines: number[];
}

export const MAX_PROBLEMS = 20;
export const LINES_PER_GROUP = 3;
/** distinct problems counted per file (beyond, only the total grows) */
const MAX_TALLIES = 1000;

const keyOf = (column: string | null, reason: string) => `${column ?? ''}\u0000${reason}`;

/**
 * Keeps the first `max` problems (in line order) and counts all of them, each distinct problem
 * (column and reason) separately, so that a problem repeated on many rows is told once with its count.
 */
export class ProblemList {
  readonly items: Problem[] = [];
  count = 0;
  private readonly tallies = new Map<string, ProblemGroup>();

  constructor(readonly max = MAX_PROBLEMS) {}

  add(p: Problem): void {
    this.count++;
    if (this.items.length < this.max) this.items.push(p);
    const key = keyOf(p.column, p.reason);
    let t = this.tallies.get(key);
    if (!t) {
      if (this.tallies.size >= MAX_TALLIES) return;
      t = { column: p.column, reason: p.reason, count: 0, lines: [] };
      this.tallies.set(key, t);
    }
    t.count++;
    if (t.lines.length < LINES_PER_GROUP) t.lines.push(p.line);
  }

  /**
   * Adds problems found elsewhere (SQL checks) of which `total` exist, `first` being the earliest,
   * and `groups`, the count and first lines of each distinct problem among them.
   */
  merge(first: Problem[], total: number, groups: ProblemGroup[] = []): void {
    this.count += total;
    this.items.push(...first);
    this.items.sort((a, b) => a.line - b.line || (a.column ?? '').localeCompare(b.column ?? ''));
    this.items.length = Math.min(this.items.length, this.max);
    for (const g of groups) this.tallies.set(keyOf(g.column, g.reason), { ...g, lines: g.lines.slice(0, LINES_PER_GROUP) });
  }

  /** The first problems, each distinct one once (in the order of its first line) with its count. */
  groups(): ProblemGroup[] {
    const out = new Map<string, ProblemGroup>();
    for (const p of this.items) {
      const key = keyOf(p.column, p.reason);
      if (!out.has(key)) out.set(key, this.tallies.get(key) ?? { column: p.column, reason: p.reason, count: 1, lines: [p.line] });
    }
    return [...out.values()];
  }
}

export function formatProblem(p: Problem): string {
  return p.column ? `line ${p.line}, column ${p.column}: ${p.reason}` : `line ${p.line}: ${p.reason}`;
}

/** One problem as it reads in a message: `line 3, column mrr: ...`, or `lines 3, 7, 12 and 17 more, column is_trial: ... (20 rows)`. */
export function formatGroup(g: ProblemGroup): string {
  if (g.count <= 1) return formatProblem({ line: g.lines[0], column: g.column, reason: g.reason });
  const rest = g.count - g.lines.length;
  const lines = rest > 0 ? `${g.lines.join(', ')} and ${rest} more` : `${g.lines.slice(0, -1).join(', ')} and ${g.lines[g.lines.length - 1]}`;
  return `lines ${lines}${g.column ? `, column ${g.column}` : ''}: ${g.reason} (${g.count} rows)`;
}

/** The one error for a bad file: a single line naming the file, the count and the first problems. */
export function badFileError(file: string, problems: ProblemList): ChurnError {
  const n = problems.count;
  const groups = problems.groups();
  const told = groups.reduce((sum, g) => sum + g.count, 0);
  const more = n > told ? `; and ${n - told} more` : '';
  return new ChurnError('CHURN_ERR_BAD_FILE', `${file}: ${n} problem${n === 1 ? '' : 's'}; first: ${groups.map(formatGroup).join('; ')}${more}; nothing was loaded`, { details: problems.items });
}
