import { describe, expect, it } from 'vitest';
import { z } from 'zod';
import type { Score } from '../scoring/schema.ts';
import { ScoresResponseSchema } from '../serving/schemas/scores.ts';
import { compiledSerializerCompiler } from '../serving/serializer.ts';
import { topIndices } from '../scoring/build-score.ts';

const compile = (schema: z.ZodType) => compiledSerializerCompiler({ schema, method: 'GET', url: '/t', httpStatus: '200' } as never);

function score(i: number): Score & { tier_segment: string } {
  return {
    tier_segment: 'established',
    account_id: `acc-${i}`, as_of: '2026-01-01T00:00:00.000Z', model_version: 3, feature_set_version: i % 2 ? null : 'abc',
    segment: 'established', status: 'active', churn_probability: 0.1234 + i / 1000, health_score: 60 + i, tier: 'at_risk', recommended_action: 'engage',
    scorecard_score: 55, components: { engagement: 1, usage: 2, adoption: 3, support: 4, commercial: 5, sentiment: 6 }, base_value: -2.5,
    drivers: [
      { feature: 'seats', family: 'usage', value: 12.5, reference: 10, contribution: 0.25, direction: 'raises_risk', description: 'quote " and \\ and \n newline' },
      { feature: 'plan', family: 'commercial', value: 'pro', reference: null, contribution: -0.1, direction: 'lowers_risk', description: 'unicode \u2028 é' },
      { feature: 'tickets', family: 'support', value: null, reference: 0, contribution: 0, direction: 'neutral', description: '' },
    ],
  };
}

describe('compiled response serializer', () => {
  it('writes a score response exactly as zod would encode it, escapes included', () => {
    const body = { scores: [score(1), score(2)] };
    const text = compile(ScoresResponseSchema)(body);
    expect(JSON.parse(text)).toEqual(z.encode(ScoresResponseSchema, body));
    expect(ScoresResponseSchema.parse(JSON.parse(text))).toEqual(body);
  });

  it('leaves out properties the schema does not declare, like zod', () => {
    const extra = { scores: [{ ...score(1), secret: 'internal', drivers: [{ ...score(1).drivers[0], debug: 1 }] }] };
    const parsed = JSON.parse(compile(ScoresResponseSchema)(extra));
    expect(parsed.scores[0]).not.toHaveProperty('secret');
    expect(parsed.scores[0].drivers[0]).not.toHaveProperty('debug');
    expect(parsed).toEqual(z.encode(ScoresResponseSchema, extra as never));
  });

  it('refuses a response that lacks a required property instead of writing a partial body', () => {
    const { tier: _tier, ...partial } = score(1);
    expect(() => compile(ScoresResponseSchema)({ scores: [partial] })).toThrow(/tier/);
  });

  it('keeps zod for a schema that has no JSON Schema form, so it still checks those responses', () => {
    const withTransform = z.object({ n: z.string().transform((s) => s.length) });
    const serialize = compile(withTransform);
    expect(() => serialize({ n: 5 })).toThrow();
  });

  it('ranks drivers by |contribution| with ties in feature order on the partial-selection path', () => {
    const values = [0.5, -2, 0, 2, 1, -1, 0.25, 3, -3, 0.1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0];
    expect(topIndices(values, 4)).toEqual([7, 8, 1, 3]);
  });
});
