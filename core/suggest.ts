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
