/**
 * Synthetic report inputs for the report tests: accounts with known churn drivers, a model that sees
 * them, a weaker previous model, a crude scorecard, six observation months, and feature matrices.
 */
import { mulberry32 } from '../training/evaluate.ts';
import type { ReportInputs } from '../jobs/report/data.ts';
import type { FeatureValue } from '../jobs/report/psi.ts';

const sigmoid = (z: number): number => 1 / (1 + Math.exp(-z));

export const FIXTURE_FEATURES = [
  { name: 'active_days_28d', family: 'usage' },
  { name: 'tickets_90d', family: 'support' },
  { name: 'seats_used_ratio', family: 'adoption' },
  { name: 'plan', family: 'commercial' },
];

function featureRows(n: number, random: () => number, shift = 0): FeatureValue[][] {
  return Array.from({ length: n }, () => [
    Math.max(0, Math.min(28, Math.round(18 - shift * 10 + (random() - 0.5) * 24))),
    Math.floor(random() * 6 + shift * 4),
    random() < 0.05 ? null : Math.round(random() * 100) / 100,
    ['starter', 'growth', 'enterprise'][Math.floor(random() * 3)],
  ]);
}

export function reportInputs(opts: { n?: number; seed?: number; shift?: number } = {}): ReportInputs {
  const n = opts.n ?? 1500;
  const random = mulberry32(opts.seed ?? 1);
  const rows = featureRows(n, random);
  const coef = [-0.12, 0.35, -1.2];
  const y: number[] = [];
  const p: number[] = [];
  const prev: number[] = [];
  const scorecard: number[] = [];
  const contributions: number[][] = [];
  const months: string[] = [];
  const tiers: string[] = [];
  const segments: string[] = [];
  for (let i = 0; i < n; i++) {
    const [active, tickets, seats, plan] = rows[i] as [number, number, number | null, string];
    const c = [coef[0] * (active - 14), coef[1] * (tickets - 2.5), coef[2] * ((seats ?? 0.5) - 0.5), plan === 'starter' ? 0.4 : -0.2];
    const logit = -1.3 + c.reduce((a, b) => a + b, 0);
    y.push(random() < sigmoid(logit) ? 1 : 0);
    const pi = sigmoid(logit + (random() - 0.5) * 0.6);
    p.push(pi);
    prev.push(sigmoid(-1.3 + c[0] + (random() - 0.5) * 2.5));
    scorecard.push(Math.min(1, Math.max(0, 1 - active / 28)));
    contributions.push(c);
    months.push(`2026-0${4 + (i % 6)}`);
    tiers.push(pi >= 0.5 ? 'critical' : pi >= 0.2 ? 'at_risk' : 'healthy');
    segments.push(plan);
  }
  return {
    generatedAt: '2026-11-23T08:00:00Z',
    model: { version: 7, modelType: 'logistic', createdAt: '2026-11-20T10:00:00Z', featureSetVersion: 'fs_test', evaluatedOn: 'held-out test accounts, Apr-Sep 2026' },
    y, p,
    previous: { version: 6, p: prev },
    scorecardP: scorecard,
    tiers, tierOrder: ['healthy', 'at_risk', 'critical'],
    months, segments,
    features: FIXTURE_FEATURES,
    contributions,
    trainingFeatures: rows,
    latestFeatures: opts.shift ? featureRows(n, mulberry32((opts.seed ?? 1) + 100), opts.shift) : rows,
    evaluateOptions: { bootstrap: 50, seed: 3 },
  };
}
