import { randomUUID } from 'node:crypto';
import { expect } from 'chai';
import { PartitionedPublisher } from '../../../internal/queue/partitioned-publisher.js';
import { partitionOf, partitionSet } from '../../../internal/domain/partitions.js';
import type { WriteEvent } from '../../../internal/domain/model.js';
import type { AppError } from '../../../internal/domain/errors.js';
import { FakeConnection } from '../../support/fakes/amqp.js';

const TOKEN = '2a7b3bbd-45e2-4eff-b7cd-0123456789ab';

const message = (chat: number): WriteEvent => ({
  kind: 'message.created',
  eventId: randomUUID(),
  applicationToken: TOKEN,
  chatNumber: chat,
  messageNumber: 1,
  content: 'hello',
  createdAt: new Date().toISOString(),
});

const within = (ms: number) => ({ sendBy: Date.now() + ms });

function setUp(partitions: number, others: string[] = []) {
  const refused: string[] = [];
  let leased = true;
  const perQueue = new Map<string, number>();
  const set = partitionSet('writes', partitions);
  const publisher = new PartitionedPublisher({
    base: 'writes',
    set,
    fenceTargets: () => Promise.resolve(others),
    leased: () => leased,
    observer: {
      confirmed: () => undefined,
      failed: () => undefined,
      refused: (reason) => void refused.push(reason),
      republished: () => undefined,
      sent: () => undefined,
    },
    publisher: { maxUnconfirmed: 8 },
    onSent: (queue, events) => perQueue.set(queue, (perQueue.get(queue) ?? 0) + events),
  });
  const connection = new FakeConnection();
  // Every send is confirmed at once, envelopes sent later in the turn included.
  connection.onChannel = (channel) => void (channel.autoConfirm = true);
  const sent = () =>
    connection.channels.flatMap((channel) => channel.sent.map((m) => ({ channel, message: m })));
  return {
    publisher,
    set,
    connection,
    sent,
    refused,
    perQueue,
    setLeased: (value: boolean) => void (leased = value),
  };
}

describe('PartitionedPublisher (fake amqplib)', () => {
  it('with one partition publishes to the base queue, as before partitions', async () => {
    const { publisher, connection, sent } = setUp(1);
    await publisher.attach(connection.model);
    const done = publisher.publish(message(3), within(1_000));
    await done;
    expect(sent().map((s) => s.message.queue)).to.deep.equal(['writes']);
    expect(connection.channels).to.have.length(1);
  });

  it("sends each create to its chat's partition, one confirm channel per partition", async () => {
    const { publisher, connection, sent, perQueue } = setUp(4);
    await publisher.attach(connection.model);
    expect(connection.channels).to.have.length(4);
    expect(publisher.ready).to.equal(true);
    const done = [1, 2, 3, 4, 5, 6, 7, 8].map((chat) =>
      publisher.publish(message(chat), within(1_000)),
    );
    await Promise.all(done);
    for (const { message: m } of sent()) {
      const { chatNumber } = JSON.parse(m.content.toString()) as { chatNumber: number };
      expect(m.queue).to.equal(`writes.p${partitionOf(TOKEN, chatNumber, 4)}-of-4`);
    }
    // Each partition's channel carries only its own queue.
    for (const channel of connection.channels) {
      expect(new Set(channel.sent.map((m) => m.queue)).size).to.be.at.most(1);
    }
    expect([...perQueue.values()].reduce((a, b) => a + b, 0)).to.equal(8);
  });

  it('sends a fence to every queue a create may be in: the set, the base and the registry', async () => {
    const { publisher, connection, sent } = setUp(2, ['writes.p0-of-4', 'writes.p3-of-4']);
    await publisher.attach(connection.model);
    const fence = publisher.publish(
      { kind: 'numbering.fence', eventId: randomUUID(), epoch: 7 },
      within(1_000),
    );
    // Publishers for the other queues are opened on demand.
    await fence;
    expect(
      sent()
        .map((s) => s.message.queue)
        .sort(),
    ).to.deep.equal([
      'writes',
      'writes.p0-of-2',
      'writes.p0-of-4',
      'writes.p1-of-2',
      'writes.p3-of-4',
    ]);
  });

  it('refuses creates while its lease in the registry has lapsed', async () => {
    const { publisher, connection, sent, refused, setLeased } = setUp(4);
    await publisher.attach(connection.model);
    setLeased(false);
    expect(publisher.accepting).to.equal(false);
    expect(publisher.ready).to.equal(false);
    const err = await publisher.publish(message(1), within(1_000)).catch((e: unknown) => e);
    expect((err as AppError).code).to.equal('broker_unavailable');
    expect(refused).to.deep.equal(['no_lease']);
    expect(sent()).to.deep.equal([]);
  });

  it('splits the unconfirmed bound between partitions', async () => {
    const { publisher, connection, refused } = setUp(2);
    connection.onChannel = null;
    await publisher.attach(connection.model);
    // maxUnconfirmed 8 over 2 partitions: the 5th unconfirmed publish to one is refused.
    const chats = [1, 3, 5, 7, 9].filter(
      (c) => partitionOf(TOKEN, c, 2) === partitionOf(TOKEN, 1, 2),
    );
    const more = [11, 13, 15, 17, 19, 21].filter(
      (c) => partitionOf(TOKEN, c, 2) === partitionOf(TOKEN, 1, 2),
    );
    const same = [...chats, ...more].slice(0, 5);
    expect(same).to.have.length(5);
    const pending = same.map((chat) =>
      publisher.publish(message(chat), within(200)).catch(() => undefined),
    );
    expect(refused).to.deep.equal(['unconfirmed_limit']);
    // The other partition still takes publishes.
    const other = [2, 4, 6, 8].find((c) => partitionOf(TOKEN, c, 2) !== partitionOf(TOKEN, 1, 2))!;
    const fine = publisher.publish(message(other), within(200)).catch(() => undefined);
    expect(refused).to.have.length(1);
    await connection.close();
    await Promise.all([...pending, fine]);
  });
});
