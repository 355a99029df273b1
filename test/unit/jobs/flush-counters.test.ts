import { expect } from 'chai';
import { CounterFlusher } from '../../../internal/jobs/flush-counters.js';
import { createFlusherMetrics, createRegistry } from '../../../internal/metrics/registry.js';
import { FakeCounterRecounts, FakeDirtyMarks } from '../../support/fakes/counters.js';
import { silentLogger } from '../../support/environment.js';

function flusher(chunkSize = 2) {
  const dirty = new FakeDirtyMarks();
  const counters = new FakeCounterRecounts();
  const run = new CounterFlusher({
    dirty,
    counters,
    chunkSize,
    metrics: createFlusherMetrics(createRegistry('test')),
    logger: silentLogger,
  });
  return { dirty, counters, run };
}

describe('jobs/CounterFlusher', () => {
  it('recounts every marked chat and application in sorted chunks and clears the marks', async () => {
    const { dirty, counters, run } = flusher(2);
    await dirty.mark([2, 1], [5, 3, 4]);
    await dirty.mark([1], [3]);
    const result = await run.run(new AbortController().signal);
    expect(result).to.deep.equal({ chats: 3, applications: 2 });
    expect(counters.chats).to.deep.equal([[3, 4], [5]]);
    expect(counters.applications).to.deep.equal([[1, 2]]);
    expect(dirty.pending('chats')).to.deep.equal([]);
    expect(dirty.pending('apps')).to.deep.equal([]);
  });

  it('keeps the marks of a chunk whose recount failed for the next run', async () => {
    const { dirty, counters, run } = flusher(2);
    await dirty.mark([], [1, 2, 3]);
    counters.failOn = (kind, ids) => kind === 'chats' && ids.includes(3);
    let caught: unknown;
    try {
      await run.run(new AbortController().signal);
    } catch (err) {
      caught = err;
    }
    expect(caught).to.be.instanceOf(Error);
    expect(dirty.pending('chats')).to.deep.equal([3]);
    counters.failOn = null;
    expect(await run.run(new AbortController().signal)).to.deep.equal({
      chats: 1,
      applications: 0,
    });
    expect(dirty.pending('chats')).to.deep.equal([]);
  });

  it('stops between chunks when the signal aborts, leaving the rest marked', async () => {
    const { dirty, counters, run } = flusher(1);
    await dirty.mark([], [1, 2, 3]);
    const controller = new AbortController();
    const recount = counters.recountChats.bind(counters);
    counters.recountChats = (ids) => {
      controller.abort(new Error('lock lost'));
      return recount(ids);
    };
    let caught: unknown;
    try {
      await run.run(controller.signal);
    } catch (err) {
      caught = err;
    }
    expect((caught as Error).message).to.equal('lock lost');
    expect(counters.chats).to.deep.equal([[1]]);
    expect(dirty.pending('chats')).to.deep.equal([2, 3]);
  });
});
