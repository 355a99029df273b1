import { randomUUID } from 'node:crypto';
import { expect } from 'chai';
import { WriteConsumer } from '../../../internal/queue/consumer.js';
import { encodeWriteEvent } from '../../../internal/domain/events.js';
import type { WriteEvent } from '../../../internal/domain/model.js';
import { FakeConnection } from '../../support/fakes/amqp.js';
import { silentLogger } from '../../support/environment.js';
import { until } from '../../support/until.js';

function setUp() {
  const handled: WriteEvent[] = [];
  const subject = new WriteConsumer({
    queue: 'writes',
    prefetch: 10,
    batchSize: 10,
    batchWaitMs: 1,
    batchMaxBytes: 1024 * 1024,
    maxDeliveries: 3,
    handler: {
      handle: (events) => {
        handled.push(...events);
        return Promise.resolve({ deadLetter: [], retry: [] });
      },
    },
    observer: {
      batch: () => undefined,
      redelivered: () => undefined,
      deadLettered: () => undefined,
    },
    logger: silentLogger,
  });
  return { subject, handled };
}

describe('WriteConsumer over partitions (fake amqplib)', () => {
  it('consumes the partitions it is given besides the base queue, and leaves the others', async () => {
    const { subject } = setUp();
    const connection = new FakeConnection();
    await subject.attach(connection.model);
    const channel = connection.channel;
    expect([...channel.consumers.keys()]).to.deep.equal(['writes']);

    await subject.consume(['writes.p0-of-2', 'writes.p1-of-2']);
    expect([...channel.consumers.keys()].sort()).to.deep.equal([
      'writes',
      'writes.p0-of-2',
      'writes.p1-of-2',
    ]);
    // A partition shares the base queue's dead-letter queue.
    const p1 = channel.declared.find((d) => d.queue === 'writes.p1-of-2');
    expect(p1?.arguments['x-dead-letter-routing-key']).to.equal('writes.dead');
    expect(subject.queues.sort()).to.deep.equal(['writes', 'writes.p0-of-2', 'writes.p1-of-2']);

    // The base queue is never left, even when not named.
    await subject.consume(['writes.p1-of-2']);
    expect([...channel.consumers.keys()].sort()).to.deep.equal(['writes', 'writes.p1-of-2']);
    await subject.consume([]);
    expect([...channel.consumers.keys()]).to.deep.equal(['writes']);
    expect(subject.consuming).to.equal(true);
  });

  it('takes the queue of a mark from the delivery, whatever its body claims', async () => {
    const { subject, handled } = setUp();
    const connection = new FakeConnection();
    await subject.attach(connection.model);
    await subject.consume(['writes.p1-of-2']);
    const fence = { kind: 'numbering.fence', eventId: randomUUID(), epoch: 3, queue: 'writes' };
    connection.channel.deliverTo('writes.p1-of-2', Buffer.from(JSON.stringify(fence)), {
      contentType: 'application/json',
    });
    const drained: WriteEvent = {
      kind: 'queue.drained',
      eventId: randomUUID(),
      heartbeatAt: '2026-11-30 17:00:00.000000',
    };
    connection.channel.deliverTo('writes', encodeWriteEvent(drained));
    await until(() => handled.length === 2);
    expect(handled).to.deep.equal([
      { kind: 'numbering.fence', eventId: fence.eventId, epoch: 3, queue: 'writes.p1-of-2' },
      { ...drained, queue: 'writes' },
    ]);
  });

  it('subscribes again to everything it was given after a reconnect', async () => {
    const { subject } = setUp();
    const first = new FakeConnection();
    await subject.attach(first.model);
    await subject.consume(['writes.p0-of-4', 'writes.p3-of-4']);
    subject.detach();
    const second = new FakeConnection();
    await subject.attach(second.model);
    expect([...second.channel.consumers.keys()].sort()).to.deep.equal([
      'writes',
      'writes.p0-of-4',
      'writes.p3-of-4',
    ]);
  });
});
