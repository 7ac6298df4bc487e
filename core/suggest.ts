import { closest, distance } from 'fastest-levenshtein';

/**
 * The candidate a misspelt name most likely meant: the closest by edit distance, if it is at most two
 * edits away (fewer for short names, so that `id` never suggests `mrr`); null when none is that close.
 */
export function nearestName(name: string, candidates: readonly string[]): string | null {
  if (candidates.length === 0) return null;
  const near = closest(name, candidates as string[]);
  return distance(name, near) <= Math.min(2, Math.floor(name.length / 3)) ? near : null;
}

/** Column or key names that usually hold an account's own id. */
export const ID_LIKE_NAMES: readonly string[] = ['id', 'account_id', 'accountid', 'accountId', 'account', 'customer_id', 'customerID', 'customer', 'key', 'row_id'];

/**
 * Names among `candidates` that `name` may have meant: the same but for case, `_`, `-` or spaces,
 * and the closest by edit distance (nearestName); none when nothing is that close.
 */
export function nearNames(name: string, candidates: readonly string[]): string[] {
  const norm = (s: string) => s.toLowerCase().replace(/[\s_-]/g, '');
  const same = candidates.filter((c) => c !== name && norm(c) === norm(name));
  const near = nearestName(name, candidates);
  return [...new Set([...same, ...(near !== null && near !== name ? [near] : [])])];
}
