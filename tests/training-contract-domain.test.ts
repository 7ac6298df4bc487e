import { describe, expect, it } from 'vitest';
import { domainOf } from '../training/contract.ts';

describe('the domain of a feature in a model contract', () => {
  it('takes the bounds of the feature\'s unit that the training data kept to', () => {
    expect(domainOf('currency', { min: 0, max: 9000 })).toEqual({ min: 0 });
    expect(domainOf('share', { min: 0, max: 0.97 })).toEqual({ min: 0, max: 1 });
    expect(domainOf('percent', { min: 0, max: 100 })).toEqual({ min: 0, max: 100 });
    expect(domainOf('flag', null)).toEqual({ min: 0, max: 1 }); // every training value missing: the unit alone
    // a bound the data broke is not a bound: active users can outnumber the users still provisioned
    expect(domainOf('share', { min: 0, max: 1.25 })).toEqual({ min: 0 });
    expect(domainOf('users', { min: -1, max: 40 })).toBeUndefined();
    // units without a natural bound (days late can be negative: paid early), and no unit at all
    expect(domainOf('days', { min: 0, max: 90 })).toBeUndefined();
    expect(domainOf('change', { min: -1, max: 3 })).toBeUndefined();
    expect(domainOf(undefined, { min: 0, max: 1 })).toBeUndefined();
  });
});
