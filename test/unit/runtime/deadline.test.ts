import { expect } from 'chai';
import { Deadline, stopBudgetMs } from '../../../internal/runtime/program.js';

describe('shutdown deadline', () => {
  it('leaves stop() a margin below SHUTDOWN_TIMEOUT_MS, so it exits 0 before the hard exit', () => {
    expect(stopBudgetMs(10_000)).to.equal(9_000);
    expect(stopBudgetMs(2_000)).to.equal(1_800);
  });

  it('waits for work that settles in time', async () => {
    const deadline = new Deadline(60_000);
    expect(await deadline.within(Promise.resolve('done'))).to.equal(true);
  });

  it('gives up on work that hangs once the budget is spent', async () => {
    const deadline = new Deadline(50);
    expect(await deadline.within(new Promise(() => undefined))).to.equal(false);
    // Nothing left: a later step does not wait at all.
    expect(deadline.remaining()).to.equal(0);
    expect(await deadline.within(new Promise(() => undefined))).to.equal(false);
  });

  it('still reports a failure of the work', async () => {
    const deadline = new Deadline(60_000);
    const failed = await deadline.within(Promise.reject(new Error('close failed'))).then(
      () => null,
      (err: unknown) => err,
    );
    expect((failed as Error).message).to.equal('close failed');
  });
});
