import { expect } from 'vitest';
import type { Catalog } from '../../features/catalog.ts';
import type { Score } from '../../scoring/schema.ts';

/**
 * Checks every driver of a score (`?top=all`) whose value is missing against what the catalogue
 * declares a missing value of that feature stands for: read as the feature's lowest (or highest)
 * value, it moves the risk the way its declared direction says from the reference ("No activity ever
 * recorded" never lowers it), and not at all when the reference is missing too. Returns how many
 * drivers it checked against a present reference.
 */
export function expectMissingOnDeclaredSide(s: Score, catalog: Catalog): number {
  let checked = 0;
  for (const d of s.drivers) {
    const def = catalog.byName.get(d.feature);
    if (d.value !== null || !def?.missing || !def.risk) continue;
    if (d.reference === null) {
      expect(Math.abs(d.contribution), `${s.account_id} ${d.feature}: both missing`).toBeLessThan(1e-9);
      continue;
    }
    // the lowest value of a feature whose risk falls as it rises is the riskiest, and so on
    const side = (def.missing === 'lowest' ? -1 : 1) * (def.risk === 'increasing' ? 1 : -1);
    if (side > 0) expect(d.contribution, `${s.account_id} ${d.feature}: ${d.description}`).toBeGreaterThanOrEqual(-1e-9);
    else expect(d.contribution, `${s.account_id} ${d.feature}: ${d.description}`).toBeLessThanOrEqual(1e-9);
    checked++;
  }
  return checked;
}
