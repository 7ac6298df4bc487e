import { describe, expect, it } from 'vitest';
import { peerScoresFor, PeerPredictionsSchema } from '../training/peers.ts';

describe('peer predictions (bench/peers.py --predictions)', () => {
  const predictions = PeerPredictionsSchema.parse({ id: ['a', 'b', 'c'], logistic: [0.1, 0.2, 0.3], xgboost: [0.7, 0.8, 0.9] });

  it('lines a peer\'s scores up with our test rows by id, whatever the order', () => {
    expect(Array.from(peerScoresFor(['c', 'a', 'b'], predictions, 'xgboost'))).toEqual([0.9, 0.7, 0.8]);
    expect(Array.from(peerScoresFor(['a', 'b', 'c'], predictions, 'logistic'))).toEqual([0.1, 0.2, 0.3]);
  });

  it('refuses rows the two sides do not share', () => {
    expect(() => peerScoresFor(['a', 'b'], predictions, 'xgboost')).toThrow(/scored 3 test rows, ours 2/);
    expect(() => peerScoresFor(['a', 'b', 'd'], predictions, 'xgboost')).toThrow(/"d" has no xgboost score/);
    const repeated = PeerPredictionsSchema.parse({ id: ['a', 'a'], logistic: [0.1, 0.2], xgboost: [0.3, 0.4] });
    expect(() => peerScoresFor(['a', 'b'], repeated, 'logistic')).toThrow(/repeat/);
  });

  it('accepts only one probability per id for each peer', () => {
    expect(PeerPredictionsSchema.safeParse({ id: ['a', 'b'], logistic: [0.1], xgboost: [0.2, 0.3] }).success).toBe(false);
    expect(PeerPredictionsSchema.safeParse({ id: ['a'], logistic: [1.5], xgboost: [0.2] }).success).toBe(false);
  });
});
