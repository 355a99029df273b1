import { expect } from 'chai';
import { planFlush } from '../../../internal/jobs/flush-counters.js';

describe('jobs/planFlush', () => {
  it('sorts, de-duplicates and chunks ids', () => {
    expect(planFlush([5, 1, 3, 1, 2, 4, 5], 2)).to.deep.equal([[1, 2], [3, 4], [5]]);
  });

  it('plans nothing for no ids and refuses a chunk size below 1', () => {
    expect(planFlush([], 10)).to.deep.equal([]);
    expect(() => planFlush([1], 0)).to.throw(RangeError);
  });
});
