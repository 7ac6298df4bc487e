import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { mulberry32 } from '../core/random.ts';
import { topIndices } from '../scoring/build-score.ts';
import { fastPathOf, type FastPath } from '../serving/schemas/fast-path.ts';
import { PredictBodySchema, TopQuerySchema } from '../serving/schemas/scores.ts';
import { bearer, startHarness, type ServingHarness } from './serving-fixture.ts';

const fast = fastPathOf(PredictBodySchema) as FastPath<typeof PredictBodySchema>;

/** A body as the route receives it: parsed from its JSON text (so no undefined, no functions). */
const viaJson = (body: unknown): unknown => JSON.parse(JSON.stringify(body));

/**
 * The fast path may accept only what the zod schema accepts, and must then return what zod returns
 * (the same instance objects, `as_of` as the same Date). Anything else it leaves to zod.
 */
function expectAgreesWithZod(body: unknown): 'fast' | 'zod' {
  const quick = fast(body);
  const full = PredictBodySchema.safeParse(body);
  if (quick === undefined) return 'zod';
  expect(full.success, `fast path accepted what zod refuses: ${JSON.stringify(body)?.slice(0, 300)}`).toBe(true);
  expect(quick.value).toEqual(full.data);
  quick.value.instances.forEach((inst, i) => expect(inst).toBe((body as { instances: unknown[] }).instances[i]));
  return 'fast';
}

describe('the /v1/predict body fast path', () => {
  it('accepts the common valid bodies itself, with the output zod gives', () => {
    const bodies = [
      { instances: [{}] },
      { instances: [{ seats: 3, plan: 'pro', trial: true, nps_latest: null, ['x'.repeat(100)]: 'y'.repeat(200) }] },
      { instances: Array.from({ length: 1000 }, (_, i) => ({ seats: i })) },
      { instances: [{ seats: 1 }], as_of: '2026-09-15' },
      { as_of: '2026-09-15T10:11:12.5+02:00', instances: [{ seats: 1 }, { seats: -0.5e-7 }] },
    ];
    for (const b of bodies) expect(expectAgreesWithZod(viaJson(b)), JSON.stringify(b).slice(0, 100)).toBe('fast');
  });

  it('leaves every invalid body to zod (which refuses it)', () => {
    const bad: unknown[] = [
      null, 1, 'x', [], [{ instances: [{}] }], {}, { instances: [] }, { instances: {} }, { instances: [[1, 2]] }, { instances: [null] },
      { instances: ['a'] }, { instances: [{ seats: { nested: 1 } }] }, { instances: [{ seats: [1] }] }, { instances: [{ seats: 'x'.repeat(201) }] },
      { instances: [{ ['k'.repeat(101)]: 1 }] }, { instances: Array.from({ length: 1001 }, () => ({})) }, { instances: [{}], extra: 1 },
      { instances: [{}], as_of: 12 }, { instances: [{}], as_of: 'yesterday' }, { instances: [{}], as_of: '1969-12-31' }, { instances: [{}], as_of: '2026-13-45' },
    ];
    for (const b of bad) {
      expect(fast(viaJson(b)), JSON.stringify(b).slice(0, 100)).toBeUndefined();
      expect(PredictBodySchema.safeParse(viaJson(b)).success).toBe(false);
    }
    // values JSON text can carry but JSON.stringify cannot write
    expect(fast(JSON.parse('{"instances":[{"seats":1e999}]}'))).toBeUndefined();
    expect(fast(JSON.parse('{"instances":[{"__proto__":{"seats":1}}]}'))).toBeUndefined();
    expect(fast(JSON.parse('{"__proto__":{"seats":1},"instances":[{}]}'))).toBeUndefined();
  });

  it('agrees with zod on a generated set of bodies, valid and invalid', () => {
    const rand = mulberry32(20261123);
    const pick = <T>(xs: T[]): T => xs[Math.floor(rand() * xs.length)];
    const text = (): string => Array.from({ length: Math.floor(rand() * (rand() < 0.1 ? 260 : 12)) }, () => pick([...'ab_-. \u00e9\u4e2d"\\'])).join('');
    const value = (depth = 0): unknown => pick<() => unknown>([
      () => text(), () => rand() * 1e6 - 5e5, () => Math.floor(rand() * 10), () => null, () => rand() < 0.5, () => -0,
      () => (depth < 2 ? [value(depth + 1)] : []), () => (depth < 2 ? { [text()]: value(depth + 1) } : {}),
    ])();
    const instance = (): unknown => (rand() < 0.9 ? Object.fromEntries(Array.from({ length: Math.floor(rand() * 6) }, () => [text(), rand() < 0.8 ? pick([1, 0.5, 'pro', null, true]) : value()])) : value());
    const counts = { fast: 0, zod: 0 };
    for (let i = 0; i < 3000; i++) {
      const body: Record<string, unknown> = {};
      if (rand() < 0.95) body.instances = rand() < 0.9 ? Array.from({ length: Math.floor(rand() * 4) }, instance) : value();
      if (rand() < 0.3) body.as_of = pick<unknown>(['2026-09-15', '2026-09-15T00:00:00Z', '1900-01-01', 'soon', 5, null, text()]);
      if (rand() < 0.05) body[text()] = value();
      counts[expectAgreesWithZod(viaJson(rand() < 0.02 ? value() : body))]++;
    }
    // both sides exercised: the check is not vacuous
    expect(counts.fast).toBeGreaterThan(500);
    expect(counts.zod).toBeGreaterThan(500);
  });
});

describe('the ?top= query fast path', () => {
  const quick = fastPathOf(TopQuerySchema) as FastPath<typeof TopQuerySchema>;
  it('accepts the usual query strings with the output zod gives, and leaves the rest to zod', () => {
    const accepted = [{}, { top: 'all' }, { top: '1' }, { top: '5' }, { top: '1000' }];
    for (const q of accepted) {
      const full = TopQuerySchema.safeParse(q);
      expect(full.success).toBe(true);
      expect(quick(q), JSON.stringify(q)).toEqual({ value: full.data });
      expect(quick(Object.assign(Object.create(null), q)), 'a null-prototype query object').toEqual({ value: full.data });
    }
    // left to zod: some of these zod accepts (it coerces), the rest it refuses; the fast path never decides them
    const left: unknown[] = [null, 'top=5', { top: '0' }, { top: '1001' }, { top: '05' }, { top: ' 5' }, { top: '5.5' }, { top: ['1', '2'] },
      { top: 'ALL' }, { top: '' }, { top: '5', explain: 'true' }, { other: '1' }, { top: 5 }];
    for (const q of left) expect(quick(q), JSON.stringify(q)).toBeUndefined();
    expect(TopQuerySchema.safeParse({ top: '1001' }).success).toBe(false);
    expect(TopQuerySchema.safeParse({ top: '5', explain: 'true' }).success).toBe(false);
  });
});

describe('driver ranking', () => {
  it('picks the n largest |values| in order, ties in index order, like a full sort', () => {
    const rand = mulberry32(7);
    for (let t = 0; t < 2000; t++) {
      const len = 1 + Math.floor(rand() * 60);
      // few distinct magnitudes, both signs: plenty of ties
      const values = Array.from({ length: len }, () => (rand() < 0.5 ? -1 : 1) * Math.floor(rand() * 6) / 2);
      const n = Math.floor(rand() * (len + 1));
      const sorted = values.map((_, i) => i).sort((a, b) => Math.abs(values[b]) - Math.abs(values[a]) || a - b).slice(0, n);
      expect(topIndices(Float64Array.from(values), n), `${values} n=${n}`).toEqual(sorted);
    }
  });
});

describe('POST /v1/predict with hostile JSON', () => {
  let h: ServingHarness;
  beforeAll(async () => {
    h = await startHarness({ accounts: 40 });
  }, 300_000);
  afterAll(async () => h?.close());

  const post = (raw: string) => h.app.inject({ method: 'POST', url: '/v1/predict', headers: { ...bearer(h.readKey), 'content-type': 'application/json' }, payload: raw });

  it('refuses prototype-poisoning and malformed bodies with a 400 in the error shape, and pollutes nothing', async () => {
    const feature = h.catalog.names[0];
    for (const raw of [
      `{"instances":[{"__proto__":{"${feature}":1}}]}`,
      '{"__proto__":{"polluted":true},"instances":[{}]}',
      '{"instances":[{"constructor":{"prototype":{"polluted":true}}}]}',
      `{"instances":[{"\\u005f_proto__":{"${feature}":1}}]}`,
      '{"instances":[{}]',
      '',
      `{"instances":[{"${feature}":1}],"as_of":"not a date"}`,
    ]) {
      const res = await post(raw);
      expect(res.statusCode, `${raw}: ${res.body}`).toBe(400);
      expect(res.json()).toEqual({ error: 'CHURN_ERR_VALIDATION', message: expect.any(String), request_id: expect.any(String) });
      expect(res.headers['x-request-id']).toBe(res.json().request_id);
    }
    expect(({} as Record<string, unknown>).polluted).toBeUndefined();
    expect(({} as Record<string, unknown>)[feature]).toBeUndefined();
  });

  it('counts predicted scores in churn_scores_served_total exactly once', async () => {
    const before = served(await metricsText());
    const feature = h.catalog.names[0];
    for (let i = 1; i <= 3; i++) expect((await post(JSON.stringify({ instances: Array.from({ length: i }, () => ({ [feature]: i })) }))).statusCode).toBe(200);
    const text = await metricsText();
    expect(served(text)).toBe(before + 6);
    expect(served(await metricsText())).toBe(before + 6);
  });
  const metricsText = async () => (await h.app.inject({ url: '/metrics' })).body;
  const served = (text: string) => Number(/churn_scores_served_total\{route="predict"\} (\d+)/.exec(text)?.[1] ?? 0);

  it('scores a valid body through the fast path, as_of included, as the schema defines it', async () => {
    const feature = h.catalog.names[0];
    const res = await post(`{"instances":[{"${feature}":1},{"id":"a1","${feature}":true}],"as_of":"2026-09-15"}`);
    expect(res.statusCode, res.body).toBe(200);
    const scores = res.json().scores as { account_id: string; as_of: string; churn_probability: number }[];
    expect(scores.map((s) => [s.account_id, s.as_of])).toEqual([['0', '2026-09-15T00:00:00.000Z'], ['a1', '2026-09-15T00:00:00.000Z']]);
    // true counts as 1: both instances score the same
    expect(scores[1].churn_probability).toBe(scores[0].churn_probability);
  });
});
