import { expect } from 'chai';
import { WatchWriteQueues } from '../../../internal/jobs/watch-write-queues.js';
import { partitionSet } from '../../../internal/domain/partitions.js';
import { silentLogger } from '../../support/environment.js';
import { FakeWriteQueueControl, FakeWriteQueueRegistry } from '../../support/fakes/write-queues.js';

function setUp() {
  const registry = new FakeWriteQueueRegistry();
  const control = new FakeWriteQueueControl();
  let now = 0;
  const watch = new WatchWriteQueues({
    registry,
    queues: control,
    base: 'writes',
    retiredAfterMs: 30_000,
    intervalMs: 5_000,
    markRepeatMs: 10_000,
    now: () => now,
    logger: silentLogger,
  });
  const advance = (ms: number) => {
    now += ms;
    registry.now += ms;
  };
  return { registry, control, watch, advance };
}

describe('WatchWriteQueues (fakes)', () => {
  it('registers and consumes the base queue even before any API registered a set', async () => {
    const { registry, control, watch } = setUp();
    await watch.step();
    expect(control.consumed).to.deep.equal(['writes']);
    expect(registry.rows.get('writes')?.partitions).to.equal(1);
  });

  it('takes a new set at once, and each set until it is drained, then leaves it', async () => {
    const { registry, control, watch, advance } = setUp();
    const four = partitionSet('writes', 4).queues;
    const two = partitionSet('writes', 2).queues;
    await registry.heartbeat('writes', 4, four);
    await watch.step();
    expect(control.consumed).to.deep.equal(['writes', ...four].sort());

    // A rolling change to 2: both sets are consumed while APIs send to both.
    advance(10_000);
    await registry.heartbeat('writes', 2, two);
    await watch.step();
    expect(control.consumed).to.deep.equal(['writes', ...two, ...four].sort());
    expect(control.marks).to.deep.equal([]);

    // The 4-set's last heartbeat is now past the bound: a drain mark goes into each queue.
    advance(21_000);
    await registry.heartbeat('writes', 2, two);
    await watch.step();
    expect(control.marks.map((m) => m.queue).sort()).to.deep.equal([...four].sort());
    expect(control.consumed).to.deep.equal(['writes', ...two, ...four].sort());

    // Marks are not repeated while they may still be on their way.
    await watch.step();
    expect(control.marks).to.have.length(4);

    // Persisting the marks drains the queues; empty, they are left.
    for (const { queue, mark } of control.marks) registry.drain(queue, mark.heartbeatAt);
    for (const queue of four) control.depths.set(queue, 0);
    await watch.step();
    expect(control.consumed).to.deep.equal(['writes', ...two].sort());

    // A delivery requeued into a drained queue is taken again.
    control.depths.set(four[1]!, 1);
    await watch.step();
    expect(control.consumed).to.deep.equal(['writes', ...two, four[1]!].sort());
  });

  it('sends a mark again when none was persisted in time', async () => {
    const { registry, control, watch, advance } = setUp();
    await registry.heartbeat('writes', 2, partitionSet('writes', 2).queues);
    advance(31_000);
    await watch.step();
    expect(control.marks).to.have.length(2);
    advance(10_000);
    await watch.step();
    expect(control.marks).to.have.length(4);
  });

  it('a drain mark sent before the set was renewed again drains nothing', async () => {
    const { registry, control, watch, advance } = setUp();
    const two = partitionSet('writes', 2).queues;
    await registry.heartbeat('writes', 2, two);
    advance(31_000);
    await watch.step();
    // An API starts on N = 2 again before the marks are persisted.
    await registry.heartbeat('writes', 2, two);
    for (const { queue, mark } of control.marks) registry.drain(queue, mark.heartbeatAt);
    await watch.step();
    expect(control.consumed).to.deep.equal(['writes', ...two].sort());
    expect([...registry.rows.values()].some((row) => row.drained)).to.equal(false);
  });
});
