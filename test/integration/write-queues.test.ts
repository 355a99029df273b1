import { randomUUID } from 'node:crypto';
import { expect } from 'chai';
import { connect, type ChannelModel } from 'amqplib';
import { QueryTypes } from 'sequelize';
import { persistWriteBatch } from '../../internal/db/write-batch.js';
import { SqlNumberLedger } from '../../internal/db/repositories/number-ledger.js';
import { SqlWriteQueueRegistry } from '../../internal/db/repositories/write-queues.js';
import { AmqpConnection } from '../../internal/queue/connection.js';
import { PartitionedPublisher } from '../../internal/queue/partitioned-publisher.js';
import { WriteConsumer } from '../../internal/queue/consumer.js';
import { deadLetterQueueOf } from '../../internal/queue/topology.js';
import { WatchWriteQueues } from '../../internal/jobs/watch-write-queues.js';
import { WriteQueueLease } from '../../internal/service/write-queue-lease.js';
import { partitionSet, type PartitionSet } from '../../internal/domain/partitions.js';
import { encodeWriteEvent } from '../../internal/domain/events.js';
import type { MessageCreated, WriteEvent } from '../../internal/domain/model.js';
import { repositoriesForSuite } from '../support/database.js';
import {
  silentLogger,
  TEST_RABBITMQ_ADMIN_URL,
  TEST_RABBITMQ_URLS,
  uniqueSuffix,
} from '../support/environment.js';
import { until } from '../support/until.js';

const observer = {
  confirmed: () => undefined,
  failed: () => undefined,
  refused: () => undefined,
  republished: () => undefined,
  sent: () => undefined,
};

describe('partitioned write queues (MariaDB, RabbitMQ)', function () {
  this.timeout(60_000);
  const suite = repositoriesForSuite();
  let base: string;
  let registry: SqlWriteQueueRegistry;
  const opened: { close(): Promise<void> }[] = [];
  let admin: ChannelModel;

  beforeEach(async () => {
    base = `chat-system-test-${uniqueSuffix()}`;
    registry = new SqlWriteQueueRegistry(suite.sequelize);
    admin = await connect(TEST_RABBITMQ_ADMIN_URL);
  });
  afterEach(async () => {
    for (const c of opened.splice(0).reverse()) await c.close();
    const channel = await admin.createChannel();
    for (const n of [1, 2, 4]) {
      for (const queue of partitionSet(base, n).queues) await channel.deleteQueue(queue);
    }
    await channel.deleteQueue(deadLetterQueueOf(base));
    await admin.close();
    await suite.sequelize.query('DELETE FROM write_queues WHERE base_queue = ?', {
      replacements: [base],
    });
  });

  const fence = (epoch: number, queue: string): WriteEvent => ({
    kind: 'numbering.fence',
    eventId: randomUUID(),
    epoch,
    queue,
  });

  describe('registry and fences', () => {
    it('registers a set, renews it, and reports idle time by the database clock', async () => {
      const set = partitionSet(base, 4);
      await registry.heartbeat(base, 4, set.queues);
      const listed = await registry.list(base);
      expect(listed.map((q) => q.name)).to.deep.equal([...set.queues].sort());
      for (const q of listed) {
        expect(q.partitions).to.equal(4);
        expect(q.drained).to.equal(false);
        expect(q.idleMs).to.be.within(0, 5_000);
      }
      // Another deployment's queues in the same database are not this one's.
      expect(await registry.list(`${base}-other`)).to.deep.equal([]);
    });

    it('settles an epoch only once its fence came from every queue not drained', async () => {
      const ledger = new SqlNumberLedger(suite.sequelize);
      const four = partitionSet(base, 4).queues;
      await registry.heartbeat(base, 1, [base]);
      await registry.heartbeat(base, 4, four);
      const epoch = await ledger.beginEpoch('test-run');
      const persist = (events: WriteEvent[]) =>
        persistWriteBatch(suite.sequelize, events, { baseQueue: base });

      await persist([fence(epoch, base), fence(epoch, four[0]!), fence(epoch, four[1]!)]);
      expect((await ledger.epochState(epoch)).settled).to.equal(false);
      await persist([fence(epoch, four[2]!)]);
      expect((await ledger.epochState(epoch)).settled).to.equal(false);
      // A redelivered fence changes nothing.
      await persist([fence(epoch, four[2]!)]);
      expect((await ledger.epochState(epoch)).settled).to.equal(false);
      await persist([fence(epoch, four[3]!)]);
      expect((await ledger.epochState(epoch)).settled).to.equal(true);
    });

    it('does not wait for a drained queue, and waits again for one in use again', async () => {
      const ledger = new SqlNumberLedger(suite.sequelize);
      const two = partitionSet(base, 2).queues;
      await registry.heartbeat(base, 1, [base]);
      await registry.heartbeat(base, 2, two);
      const persist = (events: WriteEvent[]) =>
        persistWriteBatch(suite.sequelize, events, { baseQueue: base });
      const heartbeatOf = async (name: string) =>
        (await registry.list(base)).find((q) => q.name === name)!.heartbeatAt;

      // A mark carrying an older heartbeat than the registry's drains nothing.
      const stale = await heartbeatOf(two[0]!);
      await new Promise((resolve) => setTimeout(resolve, 5));
      await registry.heartbeat(base, 2, two);
      await persist([
        { kind: 'queue.drained', eventId: randomUUID(), heartbeatAt: stale, queue: two[0]! },
      ]);
      expect((await registry.list(base)).some((q) => q.drained)).to.equal(false);

      // Marks with the current heartbeat drain; the base queue is never drained.
      for (const queue of [...two, base]) {
        const heartbeatAt = await heartbeatOf(queue);
        await persist([{ kind: 'queue.drained', eventId: randomUUID(), heartbeatAt, queue }]);
      }
      const drained = new Map((await registry.list(base)).map((q) => [q.name, q.drained]));
      expect(drained.get(two[0]!)).to.equal(true);
      expect(drained.get(two[1]!)).to.equal(true);
      expect(drained.get(base)).to.equal(false);

      const epoch = await ledger.beginEpoch('test-run');
      await persist([fence(epoch, base)]);
      expect((await ledger.epochState(epoch)).settled).to.equal(true);

      // Back in use (an API on N = 2 again): its fences are required again.
      await registry.heartbeat(base, 2, two);
      const next = await ledger.beginEpoch('test-run');
      await persist([fence(next, base), fence(next, two[0]!)]);
      expect((await ledger.epochState(next)).settled).to.equal(false);
      await persist([fence(next, two[1]!)]);
      expect((await ledger.epochState(next)).settled).to.equal(true);
    });
  });

  describe('on the broker', () => {
    async function startApi(set: PartitionSet) {
      const lease = new WriteQueueLease({
        registry,
        base,
        set,
        lease: { heartbeatMs: 200, leaseMs: 1_000, marginMs: 200 },
        now: () => performance.now(),
        sleep: (ms, signal) =>
          new Promise((resolve) => {
            const timer = setTimeout(resolve, ms);
            signal.addEventListener('abort', () => (clearTimeout(timer), resolve(undefined)));
          }),
        logger: silentLogger,
      });
      await lease.renew();
      const stopLease = new AbortController();
      const leaseLoop = lease.run(stopLease.signal);
      const publisher = new PartitionedPublisher({
        base,
        set,
        fenceTargets: async () =>
          (await registry.list(base)).filter((q) => !q.drained).map((q) => q.name),
        leased: () => lease.valid(),
        observer,
        publisher: {},
      });
      const connection = new AmqpConnection({
        urls: TEST_RABBITMQ_URLS,
        name: 'test-api',
        logger: silentLogger,
        onConnect: publisher.attach,
        onDisconnect: publisher.detach,
      });
      await connection.start();
      const stop = async () => {
        stopLease.abort();
        await leaseLoop;
        await connection.close();
      };
      opened.push({ close: stop });
      return { publisher, stop };
    }

    async function startConsumer() {
      const consumer: WriteConsumer = new WriteConsumer({
        queue: base,
        prefetch: 200,
        batchSize: 100,
        batchWaitMs: 10,
        batchMaxBytes: 4 * 1024 * 1024,
        maxDeliveries: 3,
        logger: silentLogger,
        observer: {
          batch: () => undefined,
          redelivered: () => undefined,
          deadLettered: () => undefined,
        },
        handler: {
          handle: async (events) => {
            const outcome = await persistWriteBatch(suite.sequelize, events, { baseQueue: base });
            return {
              deadLetter: outcome.rejected,
              retry: [],
            };
          },
        },
      });
      const connection = new AmqpConnection({
        urls: TEST_RABBITMQ_URLS,
        name: 'test-consumer',
        logger: silentLogger,
        onConnect: consumer.attach,
        onDisconnect: consumer.detach,
      });
      const watch = new WatchWriteQueues({
        registry,
        queues: {
          depth: (queue) => consumer.depth(queue),
          consume: (queues) => consumer.consume(queues),
          sendMark: (queue, mark) =>
            consumer.sendMark(queue, encodeWriteEvent(mark), mark.eventId, mark.kind),
        },
        base,
        retiredAfterMs: 1_500,
        intervalMs: 200,
        markRepeatMs: 2_000,
        logger: silentLogger,
      });
      await connection.start();
      const stopWatch = new AbortController();
      const watching = watch.run(stopWatch.signal);
      opened.push({
        close: async () => {
          stopWatch.abort();
          await watching;
          await consumer.stop();
          await connection.close();
        },
      });
      return consumer;
    }

    it('spreads creates over every partition, consumes them all, and settles fences across them', async () => {
      const app = await suite.applications.create(randomUUID(), 'partitions');
      const ledger = new SqlNumberLedger(suite.sequelize);
      const set = partitionSet(base, 4);
      const { publisher } = await startApi(set);
      const creates: WriteEvent[] = [];
      for (let chat = 1; chat <= 8; chat += 1) {
        creates.push({
          kind: 'chat.created',
          eventId: randomUUID(),
          applicationToken: app.token,
          chatNumber: chat,
          chatName: `c${chat}`,
          createdAt: new Date().toISOString(),
        });
        for (let m = 1; m <= 5; m += 1) {
          creates.push({
            kind: 'message.created',
            eventId: randomUUID(),
            applicationToken: app.token,
            chatNumber: chat,
            messageNumber: m,
            content: `chat ${chat} message ${m}`,
            createdAt: new Date().toISOString(),
          } satisfies MessageCreated);
        }
      }
      await Promise.all(creates.map((e) => publisher.publish(e, { sendBy: Date.now() + 5_000 })));
      // Every partition got some: 8 consecutive chats cover all four.
      const channel = await admin.createChannel();
      for (const queue of set.queues) {
        expect((await channel.checkQueue(queue)).messageCount, queue).to.be.greaterThan(0);
      }
      const epoch = await ledger.beginEpoch('test-run');
      await publisher.publish(
        { kind: 'numbering.fence', eventId: randomUUID(), epoch },
        { sendBy: Date.now() + 5_000 },
      );

      const consumer = await startConsumer();
      await until(async () => (await ledger.epochState(epoch)).settled, 20_000);
      // The fence came last on each queue: every create before it is persisted.
      const [row] = await suite.sequelize.query<{ n: number | string }>(
        `SELECT COUNT(*) AS n FROM messages m JOIN chats c ON c.id = m.chat_id
          WHERE c.application_id = (SELECT id FROM applications WHERE token = ?)`,
        { replacements: [app.token], type: QueryTypes.SELECT },
      );
      expect(Number(row?.n)).to.equal(40);
      expect(consumer.queues.sort()).to.deep.equal([base, ...set.queues].sort());
    });

    it('drains a set no API holds any more, then stops consuming it; never deletes it', async () => {
      const app = await suite.applications.create(randomUUID(), 'retire');
      const four = partitionSet(base, 4);
      const two = partitionSet(base, 2);
      const consumer = await startConsumer();
      const old = await startApi(four);
      const message = (chat: number, m: number): WriteEvent => ({
        kind: 'message.created',
        eventId: randomUUID(),
        applicationToken: app.token,
        chatNumber: chat,
        messageNumber: m,
        content: `m${chat}.${m}`,
        createdAt: new Date().toISOString(),
      });
      await Promise.all(
        [1, 2, 3, 4].map((chat) =>
          old.publisher.publish(message(chat, 1), { sendBy: Date.now() + 5_000 }),
        ),
      );
      await until(() => consumer.queues.length === 5, 10_000);
      const fresh = await startApi(two);
      await old.stop();
      await Promise.all(
        [1, 2, 3, 4].map((chat) =>
          fresh.publisher.publish(message(chat, 2), { sendBy: Date.now() + 5_000 }),
        ),
      );
      // Retired (idle past 1.5 s), marked, drained, left.
      await until(async () => {
        const rows = await registry.list(base);
        return four.queues.every((q) => rows.find((r) => r.name === q)?.drained === true);
      }, 20_000);
      await until(() => consumer.queues.length === 3, 10_000);
      expect(consumer.queues.sort()).to.deep.equal([base, ...two.queues].sort());
      const channel = await admin.createChannel();
      for (const queue of four.queues) {
        const { messageCount, consumerCount } = await channel.checkQueue(queue);
        expect({ queue, messageCount, consumerCount }).to.deep.equal({
          queue,
          messageCount: 0,
          consumerCount: 0,
        });
      }
      const [row] = await suite.sequelize.query<{ n: number | string }>(
        `SELECT COUNT(*) AS n FROM messages m JOIN chats c ON c.id = m.chat_id
          WHERE c.application_id = (SELECT id FROM applications WHERE token = ?)`,
        { replacements: [app.token], type: QueryTypes.SELECT },
      );
      expect(Number(row?.n)).to.equal(8);

      // A message left in a drained queue (a delivery requeued after its mark) is still taken.
      channel.sendToQueue(four.queues[2]!, encodeWriteEvent(message(9, 1)), {
        persistent: true,
      });
      await until(
        async () => (await channel.checkQueue(four.queues[2]!)).messageCount === 0,
        10_000,
      );
    });
  });
});
