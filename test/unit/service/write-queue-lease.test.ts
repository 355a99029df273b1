import { expect } from 'chai';
import { WriteQueueLease } from '../../../internal/service/write-queue-lease.js';
import { partitionSet, WRITE_QUEUE_LEASE } from '../../../internal/domain/partitions.js';
import { silentLogger } from '../../support/environment.js';
import { FakeWriteQueueRegistry } from '../../support/fakes/write-queues.js';

function setUp(partitions: number) {
  const registry = new FakeWriteQueueRegistry();
  let now = 1_000;
  const lease = new WriteQueueLease({
    registry,
    base: 'writes',
    set: partitionSet('writes', partitions),
    lease: WRITE_QUEUE_LEASE,
    now: () => now,
    sleep: () => Promise.resolve(),
    logger: silentLogger,
  });
  return { registry, lease, advance: (ms: number) => void (now += ms) };
}

describe('WriteQueueLease (fakes)', () => {
  it('holds no lease on a partitioned set before it is registered', async () => {
    const { registry, lease } = setUp(4);
    expect(lease.valid()).to.equal(false);
    expect(await lease.renew()).to.equal(true);
    expect(lease.valid()).to.equal(true);
    expect([...registry.rows.keys()]).to.have.length(4);
  });

  it('lapses leaseMs after the last renewal that succeeded, timed from its start', async () => {
    const { registry, lease, advance } = setUp(4);
    await lease.renew();
    registry.failWith = new Error('mysql down');
    advance(WRITE_QUEUE_LEASE.leaseMs - 1);
    expect(await lease.renew()).to.equal(false);
    expect(lease.valid()).to.equal(true);
    advance(1);
    expect(lease.valid()).to.equal(false);
    registry.failWith = null;
    await lease.renew();
    expect(lease.valid()).to.equal(true);
  });

  it('never lapses on the base queue alone, which is never retired', async () => {
    const { registry, lease, advance } = setUp(1);
    expect(lease.valid()).to.equal(true);
    registry.failWith = new Error('mysql down');
    expect(await lease.renew()).to.equal(false);
    advance(10 * WRITE_QUEUE_LEASE.leaseMs);
    expect(lease.valid()).to.equal(true);
  });
});
