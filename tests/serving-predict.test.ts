import http from 'node:http';
import type { AddressInfo } from 'node:net';
import helmet from 'helmet';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { mulberry32 } from '../core/random.ts';
import { defaultAsOf, defaultAsOfText } from '../core/time.ts';
import { buildScore, topIndices } from '../scoring/build-score.ts';
import { checkRows } from '../scoring/validate.ts';
import { SECURITY_HEADERS, helmetHeaders } from '../serving/app.ts';
import { PredictBodySchema, TopQuerySchema } from '../serving/schemas/scores.ts';
import { bearer, startHarness, type ServingHarness } from './serving-fixture.ts';

describe('the /v1/predict body and ?top= schemas', () => {
  it('accept the valid bodies and keep each instance as given', () => {
    const bodies = [
      { instances: [{}] },
      { instances: [{ seats: 3, plan: 'pro', trial: true, nps_latest: null, ['x'.repeat(100)]: 'y'.repeat(200) }] },
      { instances: Array.from({ length: 1000 }, (_, i) => ({ seats: i })) },
      { instances: [{ seats: 1 }], as_of: '2026-09-15' },
    ];
    for (const b of bodies) expect(PredictBodySchema.parse(b).instances, JSON.stringify(b).slice(0, 100)).toEqual(b.instances);
  });

  it('refuse every invalid body', () => {
    const bad: unknown[] = [
      null, 1, 'x', [], [{ instances: [{}] }], {}, { instances: [] }, { instances: {} }, { instances: [[1, 2]] }, { instances: [null] },
      { instances: ['a'] }, { instances: [{ seats: { nested: 1 } }] }, { instances: [{ seats: [1] }] }, { instances: [{ seats: 'x'.repeat(201) }] },
      { instances: [{ ['k'.repeat(101)]: 1 }] }, { instances: Array.from({ length: 1001 }, () => ({})) }, { instances: [{}], extra: 1 },
      { instances: [{}], as_of: 12 }, { instances: [{}], as_of: 'yesterday' }, { instances: [{}], as_of: '1969-12-31' }, { instances: [{}], as_of: '2026-13-45' },
      { instances: [{ seats: Infinity }] },
    ];
    for (const b of bad) expect(PredictBodySchema.safeParse(b).success, JSON.stringify(b)?.slice(0, 100)).toBe(false);
    // each problem names the instance and the feature
    const issues = PredictBodySchema.safeParse({ instances: [{ seats: 1 }, { seats: { nested: 1 }, plan: 'x'.repeat(201) }] }).error!.issues;
    expect(issues.map((i) => [i.path.join('.'), i.message])).toEqual([
      ['instances.1.seats', 'a feature value is a finite number, a string of up to 200 characters, a boolean or null'],
      ['instances.1.plan', 'a feature value is a finite number, a string of up to 200 characters, a boolean or null'],
    ]);
  });

  it('accept top=N from 1 to 1000 and top=all, and refuse the rest', () => {
    expect([{}, { top: 'all' }, { top: '1' }, { top: '1000' }].map((q) => TopQuerySchema.parse(q).top)).toEqual([5, 'all', 1, 1000]);
    for (const q of [{ top: '0' }, { top: '1001' }, { top: '5.5' }, { top: 'ALL' }, { top: '5', explain: 'true' }]) expect(TopQuerySchema.safeParse(q).success, JSON.stringify(q)).toBe(false);
  });
});

describe('the default as-of time of a predict', () => {
  it('is the text of the latest UTC midnight, made anew when the day changes', () => {
    const day = Date.UTC(2026, 10, 30);
    for (const now of [day + 5, day + 86_399_999, day + 86_400_000, day + 86_400_001, day - 1, day + 3 * 86_400_000 + 7]) {
      expect(defaultAsOfText(now), new Date(now).toISOString()).toBe(defaultAsOf(now).toISOString());
    }
    expect(defaultAsOfText()).toBe(defaultAsOf().toISOString());
  });
});

describe('driver ranking', () => {
  it('picks the n largest |values| in order, ties in index order, like a full sort', () => {
    const rand = mulberry32(7);
    for (let t = 0; t < 4000; t++) {
      const len = 1 + Math.floor(rand() * 60);
      // few distinct magnitudes, both signs: plenty of ties
      // (and now and then a NaN, which is never picked)
      const values = Array.from({ length: len }, () => (rand() < 0.03 ? NaN : (rand() < 0.5 ? -1 : 1) * Math.floor(rand() * 6) / 2));
      const n = rand() < 0.5 ? Math.floor(rand() * Math.min(len + 1, 8)) : Math.floor(rand() * (len + 1));
      const sorted = values.map((_, i) => i).filter((i) => !Number.isNaN(values[i])).sort((a, b) => Math.abs(values[b]) - Math.abs(values[a]) || a - b).slice(0, n);
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
    // helmet's security headers on every answer, with the content security policy that lets /docs load
    const res = await post('{}');
    expect(res.headers['content-security-policy']).toContain("img-src 'self' data: validator.swagger.io");
    expect(res.headers['x-content-type-options']).toBe('nosniff');
    expect(res.headers['strict-transport-security']).toMatch(/max-age=\d+/);
    // the headers worked out once are those helmet's own middleware sets on a live response
    const own = http.createServer((req, out) => helmet(SECURITY_HEADERS)(req, out, () => out.end()));
    await new Promise<void>((resolve) => own.listen(0, '127.0.0.1', resolve));
    try {
      const live = await fetch(`http://127.0.0.1:${(own.address() as AddressInfo).port}/`);
      const expected = Object.fromEntries([...live.headers].filter(([k]) => !['date', 'connection', 'keep-alive', 'content-length', 'transfer-encoding'].includes(k)));
      expect(Object.keys(expected).length).toBeGreaterThanOrEqual(10);
      expect(helmetHeaders(SECURITY_HEADERS)).toEqual(expected);
      for (const [k, v] of Object.entries(expected)) expect(res.headers[k], k).toBe(v);
    } finally {
      own.close();
    }
    expect(({} as Record<string, unknown>)[feature]).toBeUndefined();
  });

  it('counts predicted scores in churn_scores_served_total exactly once', async () => {
    const before = served(await metricsText());
    const feature = h.catalog.names[0];
    for (let i = 1; i <= 3; i++) expect((await post(JSON.stringify({ instances: Array.from({ length: i }, () => ({ [feature]: i })), allow_missing: true }))).statusCode).toBe(200);
    const text = await metricsText();
    expect(served(text)).toBe(before + 6);
    expect(served(await metricsText())).toBe(before + 6);
  });
  const metricsText = async () => (await h.app.inject({ url: '/metrics' })).body;
  const served = (text: string) => Number(/churn_scores_served_total\{route="predict"\} (\d+)/.exec(text)?.[1] ?? 0);

  it('checks a complete instance without copying or changing it, and still refuses or converts what it cannot score as sent', () => {
    const model = h.holder.current!;
    const names = model.contract.features.map((f) => f.name);
    const numeric = model.contract.features.find((f) => f.type === 'numeric')!.name;
    // a value of each feature within its domain (a share at most 1, a flag 0 or 1)
    const value = (n: string, i: number) => {
      const f = model.contract.byName.get(n)!;
      return f.type !== 'numeric' ? f.categories?.[0] ?? 'x' : f.domain?.max !== undefined ? f.domain.max / 2 : i / 4;
    };
    const complete = Object.freeze(Object.fromEntries([['id', 'r1'], ...names.map((n, i) => [n, i === 0 ? null : value(n, i)])]));
    const [as] = checkRows(model, [complete]); // frozen: a write would throw
    expect(as.row).toBe(complete);
    expect(as.id).toBe('r1');
    // the same values in a row built the long way (a boolean among them) score the same
    const withBool = { ...complete, [numeric]: true };
    const [converted] = checkRows(model, [withBool]);
    expect(converted.row).not.toBe(withBool);
    expect(withBool[numeric]).toBe(true);
    expect(converted.row[numeric]).toBe(1);
    const score = (row: typeof as.row) => buildScore({ model, config: h.config, accountId: 'r1', asOf: '2026-09-15T00:00:00.000Z', row, segment: as.segment, top: 'all' });
    expect(score(converted.row)).toEqual(score({ ...complete, [numeric]: 1 }));
    expect(score(as.row)).toEqual(score({ ...converted.row, [numeric]: complete[numeric] }));
    // what the quick check lets through the long way still refuses, with the same problems
    const refused = (inst: Record<string, unknown>) => {
      try {
        checkRows(model, [inst]);
      } catch (err) {
        return (err as { details: { problems: unknown[] } }).details.problems;
      }
      return [];
    };
    expect(refused({ ...complete, [numeric]: 'lots' })).toEqual([{ row: 0, feature: numeric, reason: 'expected a number, got "lots"' }]);
    expect(refused({ ...complete, [numeric]: Infinity })).toEqual([{ row: 0, feature: numeric, reason: 'expected a finite number, got Infinity' }]);
    const bounded = model.contract.features.find((f) => f.domain?.max !== undefined)!;
    expect(refused({ ...complete, [bounded.name]: bounded.domain!.max! + 1 })).toEqual([{ row: 0, feature: bounded.name, reason: `expected a number from 0 to ${bounded.domain!.max}, got ${bounded.domain!.max! + 1}` }]);
    expect(refused({ ...complete, [bounded.name]: -0.5 })).toHaveLength(1);
    expect(refused({ ...complete, extra: 1 })).toEqual([{ row: 0, feature: 'extra', reason: 'unknown feature: the model does not use it' }]);
    // what the caller may have meant: a misspelt input, and the instance's id under another name
    const misspelt = `${numeric.slice(0, -2)}${numeric.at(-1)}${numeric.at(-2)}`; // the last two letters swapped
    expect(refused({ ...complete, [misspelt]: 1 })).toEqual([{ row: 0, feature: misspelt, reason: `unknown feature: the model does not use it; did you mean "${numeric}"?` }]);
    expect(refused({ ...complete, account_id: 'acme' })).toEqual([{ row: 0, feature: 'account_id', reason: 'unknown feature: the model does not use it (an instance\'s own id goes in "id")' }]);
    expect(refused({ ...complete, id: 'acme' })).toEqual([]);
    expect(refused({ ...complete, segment: 'galactic' })).toEqual([{ row: 0, feature: 'segment', reason: expect.stringMatching(/^unknown segment "galactic"/) }]);
    const { [numeric]: _left, ...lacking } = complete;
    expect(refused(lacking)).toEqual([{ row: 0, feature: numeric, reason: expect.stringMatching(/^missing/) }]);
  });

  it('scores a valid body, as_of included, as the schema defines it', async () => {
    const feature = h.catalog.names[0];
    const res = await post(`{"instances":[{"${feature}":1},{"id":"a1","${feature}":true}],"as_of":"2026-09-15","allow_missing":true}`);
    expect(res.statusCode, res.body).toBe(200);
    const scores = res.json().scores as { account_id: string; as_of: string; churn_probability: number; imputed: string[] }[];
    expect(scores.map((s) => [s.account_id, s.as_of])).toEqual([['0', '2026-09-15T00:00:00.000Z'], ['a1', '2026-09-15T00:00:00.000Z']]);
    // true counts as 1: both instances score the same
    expect(scores[1].churn_probability).toBe(scores[0].churn_probability);
    // every feature but the one given was scored as missing, and the score says so
    expect(scores[0].imputed).toEqual(h.catalog.names.filter((n) => n !== feature));
  });
});
