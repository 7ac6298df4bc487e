/**
 * Synthetic report inputs for the report tests: accounts with known churn drivers, a model that sees
 * them, a weaker previous model, a crude scorecard, six observation months, and feature matrices.
 */
import { mulberry32 } from '../training/evaluate.ts';
import type { ReportInputs } from '../jobs/report/data.ts';
import type { Deployment } from '../jobs/report/deployment.ts';
import type { RevenueAtRisk } from '../jobs/report/revenue.ts';
import { loadCatalog } from '../features/catalog.ts';
import type { FeatureValue } from '../jobs/report/psi.ts';

const sigmoid = (z: number): number => 1 / (1 + Math.exp(-z));

/** Labelled as the catalogue labels them, except seats_used_ratio (no label: the report spells its name). */
export const FIXTURE_FEATURES = [
  { name: 'active_days_28d', family: 'usage', label: 'Active days, last 28' },
  { name: 'tickets_90d', family: 'support', label: 'Tickets, last 90 days' },
  { name: 'seats_used_ratio', family: 'adoption' },
  { name: 'plan', family: 'commercial', label: 'Plan' },
];

function featureRows(n: number, random: () => number, shift = 0): FeatureValue[][] {
  return Array.from({ length: n }, () => [
    Math.max(0, Math.min(28, Math.round(18 - shift * 10 + (random() - 0.5) * 24))),
    Math.floor(random() * 6 + shift * 4),
    random() < 0.05 ? null : Math.round(random() * 100) / 100,
    ['starter', 'growth', 'enterprise'][Math.floor(random() * 3)],
  ]);
}

/** Revenue at risk as the database would report it for 1,200 customers (hand-made, consistent totals). */
export const FIXTURE_REVENUE: RevenueAtRisk = {
  asOf: '2026-11-23T00:00:00.000Z', scoresFrom: '2026-11-22T00:00:00.000Z', scoresTo: '2026-11-23T00:00:00.000Z',
  accounts: 1200, mrr: 581_736, expectedLoss: 9370.4, formerCustomers: 12,
  tiers: [
    { tier: 'critical', accounts: 18, mrr: 5819, expectedLoss: 2100.2, actions: [{ action: 'rescue', accounts: 18, mrr: 5819 }] },
    { tier: 'at_risk', accounts: 137, mrr: 63_654, expectedLoss: 4700.1, actions: [{ action: 'engage', accounts: 120, mrr: 50_000 }, { action: 'rescue', accounts: 17, mrr: 13_654 }] },
    { tier: 'healthy', accounts: 1045, mrr: 512_263, expectedLoss: 2570.1, actions: [{ action: 'expand', accounts: 1045, mrr: 512_263 }] },
  ],
};

export const FIXTURE_DEPLOYMENT: Deployment = {
  version: 7, scores: 1200, accounts: 1200, firstAsOf: '2026-11-22T00:00:00.000Z', lastAsOf: '2026-11-23T00:00:00.000Z',
  horizonDays: 30, graceDays: 14, known: 0, firstOutcomeAt: '2027-01-05T00:00:00.000Z',
};

export function reportInputs(opts: { n?: number; seed?: number; shift?: number; wide?: boolean } = {}): ReportInputs {
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
  const mrr: (number | null)[] = [];
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
    mrr.push(i % 97 === 0 ? null : { starter: 99, growth: 450, enterprise: 2400 }[plan as 'starter'] + (i % 7) * 10);
  }
  const base = {
    generatedAt: '2026-11-23T08:00:00Z', asOf: '2026-11-23T00:00:00Z',
    model: { version: 7, modelType: 'logistic', createdAt: '2026-11-20T10:00:00Z', promotedAt: '2026-11-20T11:00:00Z', featureSetVersion: 'fs_test', evaluatedOn: 'held-out test accounts, Apr-Sep 2026' },
    y, p,
    previous: { version: 6, createdAt: '2026-10-20T10:00:00Z', p: prev },
    scorecardP: scorecard,
    tiers, tierOrder: ['healthy', 'at_risk', 'critical'],
    months, segments,
    mrr, revenue: FIXTURE_REVENUE, deployment: FIXTURE_DEPLOYMENT,
    evaluateOptions: { bootstrap: 50, seed: 3 },
  };
  if (opts.wide) return { ...base, ...wideFeatures(rows, contributions, random, opts.shift ?? 0), months: y.map((_, i) => WIDE_MONTHS[i % 12]) };
  return {
    ...base,
    features: FIXTURE_FEATURES,
    contributions,
    trainingFeatures: rows,
    latestFeatures: opts.shift ? featureRows(n, mulberry32((opts.seed ?? 1) + 100), opts.shift) : rows,
  };
}

/** Twelve observation months, 2025-11 to 2026-10. */
const WIDE_MONTHS = Array.from({ length: 12 }, (_, k) => `${k < 2 ? 2025 : 2026}-${String(((k + 10) % 12) + 1).padStart(2, '0')}`);

/**
 * The real catalogue's features (every one, with its label) for a report of realistic size: the four
 * fixture features' values and contributions, the others small noise, some of them shifted.
 */
function wideFeatures(rows: FeatureValue[][], contributions: number[][], random: () => number, shift: number): Pick<ReportInputs, 'features' | 'contributions' | 'trainingFeatures' | 'latestFeatures'> {
  const catalog = loadCatalog();
  const features = catalog.features.map((f) => ({ name: f.name, family: f.family, label: f.label }));
  const extra = features.length - 4;
  const noise = (k: number, moved: number) => rows.map(() => Array.from({ length: k }, (_, j) => Math.round((random() + (j % 9 === 0 ? moved : 0)) * 100)));
  const training = noise(extra, 0);
  const latest = noise(extra, shift);
  return {
    features,
    contributions: contributions.map((c) => [...c, ...Array.from({ length: extra }, (_, j) => (random() - 0.5) * 0.4 / (j + 1))]),
    trainingFeatures: rows.map((r, i) => [...r, ...training[i]]),
    latestFeatures: rows.map((r, i) => [...r, ...latest[i]]),
  };
}
