/** Shared checks for the generator tests: per-table checksums and a small logistic regression. */
import { ident, query, type Queryable } from '../core/db.ts';

export const CHECKSUM_TABLES: ReadonlyArray<[schema: string, table: string, key: string]> = [
  ['source', 'accounts', 'account_id'],
  ['source', 'users', 'user_id'],
  ['source', 'subscriptions', 'subscription_id'],
  ['source', 'event_types', 'event_type'],
  ['source', 'events', 'event_id'],
  ['source', 'support_tickets', 'ticket_id'],
  ['source', 'survey_responses', 'response_id'],
  ['source', 'invoices', 'invoice_id'],
  ['source', 'payment_attempts', 'attempt_id'],
  ['churn', 'synthetic_truth', 'account_id'],
];

/** md5 of every row's text, in key order, per table. */
export async function tableChecksums(db: Queryable): Promise<Record<string, string>> {
  const out: Record<string, string> = {};
  for (const [schema, table, key] of CHECKSUM_TABLES) {
    const [row] = await query<{ md5: string | null; n: number }>(db,
      `SELECT md5(string_agg(t::text, E'\\n' ORDER BY t.${ident(key)})) AS md5, count(*)::int AS n FROM ${ident(schema)}.${ident(table)} t`);
    out[`${schema}.${table}`] = `${row.n}:${row.md5 ?? ''}`;
  }
  return out;
}

/** Logistic regression by batch gradient descent on standardised features; returns a scorer. */
export function fitLogistic(x: number[][], y: number[], iterations = 2000, rate = 0.5): (row: number[]) => number {
  const d = x[0].length;
  const mean = Array.from({ length: d }, (_, j) => x.reduce((a, r) => a + r[j], 0) / x.length);
  const sd = Array.from({ length: d }, (_, j) => Math.sqrt(x.reduce((a, r) => a + (r[j] - mean[j]) ** 2, 0) / x.length) || 1);
  const z = x.map((r) => r.map((v, j) => (v - mean[j]) / sd[j]));
  const w = new Array<number>(d + 1).fill(0);
  const score = (r: number[]) => w[d] + r.reduce((a, v, j) => a + v * w[j], 0);
  for (let it = 0; it < iterations; it++) {
    const g = new Array<number>(d + 1).fill(0);
    z.forEach((r, i) => {
      const e = 1 / (1 + Math.exp(-score(r))) - y[i];
      for (let j = 0; j < d; j++) g[j] += e * r[j];
      g[d] += e;
    });
    for (let j = 0; j <= d; j++) w[j] -= (rate * g[j]) / z.length;
  }
  return (row) => score(row.map((v, j) => (v - mean[j]) / sd[j]));
}

/** Area under the ROC curve (ties count half). */
export function rocAuc(scores: number[], labels: number[]): number {
  const pos = scores.filter((_, i) => labels[i] === 1);
  const neg = scores.filter((_, i) => labels[i] === 0);
  let wins = 0;
  for (const p of pos) for (const n of neg) wins += p > n ? 1 : p === n ? 0.5 : 0;
  return wins / (pos.length * neg.length);
}
