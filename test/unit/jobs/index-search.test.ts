import { expect } from 'chai';
import { IndexSearch } from '../../../internal/jobs/index-search.js';
import type { IndexedMessage } from '../../../internal/domain/ports.js';
import { createRegistry, createSearchIndexMetrics } from '../../../internal/metrics/registry.js';
import { silentLogger } from '../../support/environment.js';
import {
  FakeLock,
  FakeSearchBackfill,
  FakeSearchIndexer,
  FakeSearchOutbox,
} from '../../support/fakes/search-outbox.js';

const at = new Date('2026-01-01T00:00:00.000Z');
const message = (number: number): IndexedMessage => ({
  applicationToken: '2a7b3bbd-45e2-4eff-b7cd-0123456789ab',
  chatNumber: 1,
  number,
  content: `m${number}`,
  createdAt: at,
  updatedAt: at,
});

async function until(condition: () => boolean): Promise<void> {
  for (let i = 0; i < 400 && !condition(); i += 1) await new Promise((r) => setTimeout(r, 5));
  if (!condition()) throw new Error('condition not met');
}

function setup(
  options: {
    batchSize?: number;
    backfill?: FakeSearchBackfill;
    yieldTo?: { busy: () => boolean; factor: number };
  } = {},
) {
  const outbox = new FakeSearchOutbox();
  const indexer = new FakeSearchIndexer();
  const lock = new FakeLock();
  const registry = createRegistry('test');
  const metrics = createSearchIndexMetrics(
    registry,
    () => outbox.lag(),
    () => at.getTime() + 90_000,
  );
  const job = new IndexSearch({
    outbox,
    indexer,
    backfill: options.backfill ?? null,
    ...(options.yieldTo === undefined ? {} : { yieldTo: options.yieldTo }),
    lock,
    batchSize: options.batchSize ?? 2,
    intervalMs: 5,
    metrics,
    logger: silentLogger,
    backoff: { baseMs: 5, maxMs: 20 },
  });
  const gauge = async (name: string) =>
    (await registry.getSingleMetric(name)?.get())?.values[0]?.value;
  return { outbox, indexer, lock, job, metrics, gauge };
}

describe('jobs/IndexSearch', function () {
  this.timeout(5_000);

  it('indexes the outbox oldest first, in batches, and empties it', async () => {
    const { outbox, indexer, job, metrics } = setup({ batchSize: 2 });
    for (const n of [3, 1, 2]) outbox.queue(n, message(n), new Date(at.getTime() + n));
    expect(await job.drain(new AbortController().signal)).to.equal(3);
    expect(indexer.indexed.map((m) => m.number)).to.deep.equal([1, 2, 3]);
    expect(indexer.calls).to.equal(2);
    expect(outbox.size).to.equal(0);
    expect((await metrics.indexed.get()).values[0]?.value).to.equal(3);
  });

  it('keeps entries while the index is down, shows the lag, and catches up by itself', async () => {
    const { outbox, indexer, job, gauge } = setup();
    indexer.down = true;
    for (const n of [1, 2, 3]) outbox.queue(n, message(n), at);
    let caught: unknown;
    await job.drain(new AbortController().signal).catch((err: unknown) => (caught = err));
    expect(caught).to.have.property('retryable', true);
    expect(outbox.size).to.equal(3);
    expect(await gauge('search_index_pending_messages')).to.equal(3);
    expect(await gauge('search_index_lag_seconds')).to.equal(90);

    const stop = new AbortController();
    const running = job.run(stop.signal);
    await until(() => indexer.calls >= 3);
    expect(outbox.size).to.equal(3);
    indexer.down = false;
    await until(() => outbox.size === 0);
    stop.abort();
    await running;
    expect(indexer.indexed.map((m) => m.number)).to.deep.equal([1, 2, 3]);
    expect(await gauge('search_index_pending_messages')).to.equal(0);
    expect(await gauge('search_index_lag_seconds')).to.equal(0);
  });

  it('retries after MySQL failures too, and never throws out of run()', async () => {
    const { outbox, indexer, job } = setup();
    outbox.failPending = 3;
    outbox.queue(1, message(1));
    const stop = new AbortController();
    const running = job.run(stop.signal);
    await until(() => outbox.size === 0);
    stop.abort();
    await running;
    expect(indexer.indexed.map((m) => m.number)).to.deep.equal([1]);
  });

  it('drops what the index refuses for good instead of blocking what follows', async () => {
    const { outbox, indexer, job } = setup({ batchSize: 10 });
    indexer.refuse.add(2);
    for (const n of [1, 2, 3]) outbox.queue(n, message(n));
    await job.drain(new AbortController().signal);
    expect(outbox.size).to.equal(0);
    expect(indexer.indexed.map((m) => m.number)).to.deep.equal([1, 3]);
  });

  it('stands by while another replica holds the lock, and takes over when it is lost', async () => {
    const { outbox, indexer, lock, job } = setup();
    lock.heldElsewhere = true;
    outbox.queue(1, message(1));
    const stop = new AbortController();
    const running = job.run(stop.signal);
    await new Promise((r) => setTimeout(r, 50));
    expect(indexer.calls).to.equal(0);
    lock.heldElsewhere = false;
    await until(() => outbox.size === 0);
    // Losing the lock mid-run stops this replica's rounds until it holds the lock again.
    lock.lose();
    lock.heldElsewhere = true;
    outbox.queue(2, message(2));
    await new Promise((r) => setTimeout(r, 50));
    expect(outbox.size).to.equal(1);
    stop.abort();
    await running;
  });

  it('backfills a step at a time while the outbox is empty, new entries first, until finished', async () => {
    const backfill = new FakeSearchBackfill(3);
    const { outbox, indexer, job } = setup({ backfill });
    outbox.queue(1, message(1));
    backfill.onStep = () => {
      // Queued while the backfill runs: indexed before the next step.
      if (backfill.steps === 1) outbox.queue(2, message(2));
      backfill.log.push(`step ${backfill.steps} after ${indexer.indexed.length} indexed`);
    };
    const stop = new AbortController();
    const running = job.run(stop.signal);
    await until(() => backfill.steps === 3);
    await new Promise((r) => setTimeout(r, 30));
    stop.abort();
    await running;
    expect(backfill.log).to.deep.equal([
      'step 1 after 1 indexed',
      'step 2 after 2 indexed',
      'step 3 after 2 indexed',
    ]);
    // Finished: never asked again.
    expect(backfill.steps).to.equal(3);
  });

  it('rests between batches while the consumer is busy, and not when it is idle', async () => {
    // A factor no test run could outlast: resting shows as the second batch not being reached.
    const busy = { value: true };
    const { outbox, indexer, job } = setup({
      batchSize: 2,
      yieldTo: { busy: () => busy.value, factor: 1e6 },
    });
    for (const n of [1, 2, 3, 4, 5]) outbox.queue(n, message(n), new Date(at.getTime() + n));
    const stop = new AbortController();
    const resting = job.drain(stop.signal);
    await until(() => indexer.calls === 1);
    await new Promise((r) => setTimeout(r, 30));
    expect(indexer.calls).to.equal(1);
    stop.abort();
    expect(await resting).to.equal(2);

    busy.value = false;
    expect(await job.drain(new AbortController().signal)).to.equal(3);
    expect(indexer.indexed.map((m) => m.number)).to.deep.equal([1, 2, 3, 4, 5]);
  });
});
