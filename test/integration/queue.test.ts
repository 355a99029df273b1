import { randomUUID } from 'node:crypto';
import { expect } from 'chai';
import { connect, type ChannelModel } from 'amqplib';
import { AmqpConnection } from '../../internal/queue/connection.js';
import { ConfirmPublisher, type PublisherOptions } from '../../internal/queue/publisher.js';
import { WriteConsumer } from '../../internal/queue/consumer.js';
import type { BatchHandler } from '../../internal/domain/ports.js';
import { BROKER_DELIVERY_LIMIT, deadLetterQueueOf } from '../../internal/queue/topology.js';
import type { WriteEvent } from '../../internal/domain/model.js';
import { BrokerUnavailableError } from '../../internal/domain/errors.js';
import {
  ENVELOPE_CONTENT_TYPE,
  decodeEnvelope,
  encodeEnvelope,
  encodeWriteEvent,
} from '../../internal/domain/events.js';
import {
  silentLogger,
  TEST_RABBITMQ_ADMIN_URL,
  TEST_RABBITMQ_URLS,
  uniqueSuffix,
} from '../support/environment.js';
import { until } from '../support/until.js';

/** A publish deadline a few seconds out. */
const soon = () => ({ sendBy: Date.now() + 5_000 });

const token = '2a7b3bbd-45e2-4eff-b7cd-0123456789ab';
const event = (n: number): WriteEvent => ({
  kind: 'message.created',
  eventId: randomUUID(),
  applicationToken: token,
  chatNumber: 1,
  messageNumber: n,
  content: `message ${n}`,
  createdAt: new Date().toISOString(),
});

describe('queue: confirmed publishing and batched consuming (RabbitMQ)', function () {
  this.timeout(30_000);
  let queue: string;
  let admin: ChannelModel;
  const opened: { close(): Promise<void> }[] = [];

  beforeEach(async () => {
    queue = `chat-system-test-${uniqueSuffix()}`;
    admin = await connect(TEST_RABBITMQ_ADMIN_URL);
  });
  afterEach(async () => {
    for (const c of opened.splice(0).reverse()) await c.close();
    const channel = await admin.createChannel();
    await channel.deleteQueue(queue);
    await channel.deleteQueue(deadLetterQueueOf(queue));
    await admin.close();
  });

  const observer = (seen = { republished: 0, sent: [] as number[] }) => ({
    confirmed: () => undefined,
    failed: () => undefined,
    refused: () => undefined,
    republished: () => void (seen.republished += 1),
    sent: (events: number) => void seen.sent.push(events),
  });

  /** A publisher on its own connection; `models` receives each connection it opens. */
  async function startPublisher(
    models: ChannelModel[] = [],
    seen = { republished: 0, sent: [] as number[] },
    options: Partial<PublisherOptions> = {},
  ): Promise<ConfirmPublisher> {
    const publisher = new ConfirmPublisher(queue, observer(seen), options);
    const connection = new AmqpConnection({
      urls: TEST_RABBITMQ_URLS,
      name: 'test-publisher',
      logger: silentLogger,
      onConnect: async (model) => {
        models.push(model);
        await publisher.attach(model);
      },
      onDisconnect: publisher.detach,
    });
    opened.push(connection);
    await connection.start();
    return publisher;
  }

  async function startConsumer(
    handler: BatchHandler,
    maxDeliveries = 3,
    batchMaxBytes = 4 * 1024 * 1024,
  ) {
    const seen = { batches: [] as number[], deadLettered: [] as string[] };
    const consumer = new WriteConsumer({
      queue,
      prefetch: 100,
      batchSize: 50,
      batchWaitMs: 10,
      batchMaxBytes,
      maxDeliveries,
      handler,
      logger: silentLogger,
      observer: {
        batch: (size) => seen.batches.push(size),
        redelivered: () => undefined,
        deadLettered: (reason) => seen.deadLettered.push(reason),
      },
    });
    const connection = new AmqpConnection({
      urls: TEST_RABBITMQ_URLS,
      name: 'test-consumer',
      logger: silentLogger,
      onConnect: consumer.attach,
      onDisconnect: consumer.detach,
    });
    opened.push({ close: async () => (await consumer.stop(), await connection.close()) });
    await connection.start();
    return Object.assign(seen, { consumer });
  }

  const depth = async (name: string) =>
    (await (await admin.createChannel()).checkQueue(name)).messageCount;

  it('declares a durable quorum queue and resolves a publish only once confirmed', async () => {
    const publisher = await startPublisher();
    await publisher.publish(event(1), soon());
    const channel = await admin.createChannel();
    const message = await channel.get(queue, { noAck: true });
    expect(message && JSON.parse(message.content.toString())).to.include({ messageNumber: 1 });
    expect(message && message.properties.deliveryMode).to.equal(2);
    // A classic redeclaration is refused: the queue really is a quorum queue.
    const probe = await admin.createChannel();
    probe.on('error', () => undefined);
    let refused = false;
    await probe.assertQueue(queue, { durable: true }).catch(() => (refused = true));
    expect(refused).to.equal(true);
  });

  it('refuses at once (503 broker_unavailable, nothing sent) when there is no broker connection', async () => {
    const publisher = new ConfirmPublisher(queue, observer());
    expect(publisher.ready).to.equal(false);
    let caught: unknown;
    try {
      await publisher.publish(event(1), soon());
    } catch (err) {
      caught = err;
    }
    expect(caught).to.be.instanceOf(BrokerUnavailableError);
    expect((caught as BrokerUnavailableError).code).to.equal('broker_unavailable');
  });

  it('answers broker_unavailable for a publish the broker confirms but cannot route (queue deleted)', async () => {
    const publisher = await startPublisher();
    await (await admin.createChannel()).deleteQueue(queue);
    let caught: unknown;
    try {
      // Returned sends are tried again until sendBy; none can be routed.
      await publisher.publish(event(1), { sendBy: Date.now() + 300 });
    } catch (err) {
      caught = err;
    }
    expect(caught).to.be.instanceOf(BrokerUnavailableError);
    expect(((caught as Error).cause as Error).name).to.equal('UnroutableError');
  });

  it('re-publishes the same event after its connection is lost before the confirm, and resolves', async () => {
    const models: ChannelModel[] = [];
    const seen = { republished: 0, sent: [] as number[] };
    const publisher = await startPublisher(models, seen);
    const e = event(1);
    const publish = publisher.publish(e, soon());
    // amqplib drops every frame but close-ok once it starts closing: the confirm cannot come.
    await models[0]?.close();
    expect(publisher.ready).to.equal(false);
    await publish;
    expect(seen.republished).to.be.at.least(1);
    expect(models).to.have.length(2);
    expect(publisher.ready).to.equal(true);
    // The queue holds the event once or twice, always as the same event (same message id).
    const channel = await admin.createChannel();
    const ids: unknown[] = [];
    for (let m = await channel.get(queue, { noAck: true }); m;) {
      ids.push(m.properties.messageId);
      m = await channel.get(queue, { noAck: true });
    }
    expect(ids.length).to.be.within(1, 2);
    expect(new Set(ids)).to.deep.equal(new Set([e.eventId]));
  });

  it('hands batches to the handler and acks them after it resolves', async () => {
    const publisher = await startPublisher();
    const handled: number[] = [];
    const seen = await startConsumer({
      handle: (events) => {
        handled.push(...events.map((e) => (e.kind === 'message.created' ? e.messageNumber : 0)));
        return Promise.resolve({ deadLetter: [], retry: [] });
      },
    });
    await Promise.all(
      Array.from({ length: 120 }, (_, i) => publisher.publish(event(i + 1), soon())),
    );
    await until(() => handled.length >= 120);
    await until(async () => (await depth(queue)) === 0);
    expect([...handled].sort((a, b) => a - b)).to.deep.equal(
      Array.from({ length: 120 }, (_, i) => i + 1),
    );
    expect(Math.max(...seen.batches)).to.be.greaterThan(1);
  });

  it('caps batches by payload bytes as well as by count', async () => {
    // Plain event messages: an envelope is never cut, so it would make a batch on its own.
    const publisher = await startPublisher([], undefined, { envelopeMaxEvents: 1 });
    const sizes: number[] = [];
    await startConsumer(
      {
        handle: (events) => {
          sizes.push(events.length);
          return Promise.resolve({ deadLetter: [], retry: [] });
        },
      },
      3,
      600,
    );
    await Promise.all(
      Array.from({ length: 30 }, (_, i) => publisher.publish(event(i + 1), soon())),
    );
    await until(() => sizes.reduce((a, b) => a + b, 0) >= 30);
    // Each event is about 250 bytes: never more than two fit under 600.
    expect(Math.max(...sizes)).to.be.at.most(2);
    await until(async () => (await depth(queue)) === 0);
  });

  it('redelivers a batch whose handler failed, and acks nothing before the handler succeeds', async () => {
    const publisher = await startPublisher();
    const handed: string[][] = [];
    await startConsumer({
      handle: (events) => {
        handed.push(events.map((e) => e.eventId));
        return handed.length === 1
          ? Promise.reject(new Error('db down'))
          : Promise.resolve({ deadLetter: [], retry: [] });
      },
    });
    const sent = event(1);
    await publisher.publish(sent, soon());
    await until(() => handed.length >= 2);
    // The event came back after the failure: the failed delivery was not acked.
    expect(handed[0]).to.deep.equal([sent.eventId]);
    expect(handed[1]).to.deep.equal([sent.eventId]);
    await until(async () => (await depth(queue)) === 0);
  });

  it('dead-letters poison and conflicting messages with the reason', async () => {
    const publisher = await startPublisher();
    const conflict = event(2);
    const { consumer } = await startConsumer({
      handle: (events) =>
        Promise.resolve({
          deadLetter: events
            .filter((e) => e.eventId === conflict.eventId)
            .map((e) => ({ event: e, reason: { code: 'conflict', detail: 'number taken' } })),
          retry: [],
        }),
    });
    const raw = await admin.createConfirmChannel();
    raw.sendToQueue(queue, Buffer.from('{not json'), { persistent: true });
    await raw.waitForConfirms();
    await publisher.publish(conflict, soon());
    await until(async () => (await depth(deadLetterQueueOf(queue))) === 2);
    expect(await consumer.deadLetterDepth()).to.equal(2);
    const channel = await admin.createChannel();
    const reasons: string[] = [];
    for (let i = 0; i < 2; i += 1) {
      const m = await channel.get(deadLetterQueueOf(queue), { noAck: true });
      if (m) reasons.push(String(m.properties.headers?.['x-death-reason']));
    }
    expect(reasons.sort()).to.deep.equal([
      'conflict: number taken',
      'poison: body is not valid JSON',
    ]);
  });

  it('requeues an event the handler could not persist, then dead-letters it after the limit', async () => {
    const publisher = await startPublisher();
    let attempts = 0;
    const seen = await startConsumer(
      {
        handle: (events) => {
          attempts += 1;
          return Promise.resolve({
            deadLetter: [],
            retry: events.map((e) => ({ event: e, reason: 'Data too long' })),
          });
        },
      },
      3,
    );
    await publisher.publish(event(1), soon());
    await until(async () => (await depth(deadLetterQueueOf(queue))) === 1);
    // The metric is counted once the broker confirmed the dead-letter, a moment after it landed.
    await until(() => seen.deadLettered.length === 1);
    expect(attempts).to.equal(3);
    expect(seen.deadLettered).to.deep.equal(['max_deliveries']);
  });

  it('requeues so that every failed delivery counts toward the broker delivery limit', async () => {
    const publisher = await startPublisher();
    let attempts = 0;
    // The consumer's own limit is out of reach: only the quorum queue's can end the loop.
    await startConsumer(
      {
        handle: (events) => {
          attempts += 1;
          return Promise.resolve({
            deadLetter: [],
            retry: events.map((e) => ({ event: e, reason: 'always fails' })),
          });
        },
      },
      1_000,
    );
    await publisher.publish(event(1), soon());
    await until(async () => (await depth(deadLetterQueueOf(queue))) === 1, 25_000);
    expect(attempts).to.be.greaterThan(BROKER_DELIVERY_LIMIT);
    expect(await depth(queue)).to.equal(0);
  });

  /** Every message in a queue, taken off it. */
  async function drainQueue(name: string) {
    const channel = await admin.createChannel();
    const messages = [];
    for (let m = await channel.get(name, { noAck: true }); m;) {
      messages.push(m);
      m = await channel.get(name, { noAck: true });
    }
    return messages;
  }

  it('coalesces concurrent publishes into envelopes, each resolved by the confirm covering it', async () => {
    const seen = { republished: 0, sent: [] as number[] };
    const publisher = await startPublisher([], seen, { envelopeMaxEvents: 20 });
    const events = Array.from({ length: 101 }, (_, i) => event(i + 1));
    await Promise.all(events.map((e) => publisher.publish(e, soon())));
    const messages = await drainQueue(queue);
    // The first went alone at once; the rest waited behind it and shared envelopes.
    expect(seen.sent[0]).to.equal(1);
    expect(messages.length).to.equal(seen.sent.length);
    expect(messages.length).to.be.lessThan(events.length);
    expect(Math.max(...seen.sent)).to.be.at.most(20);
    const carried = messages.flatMap((m) =>
      m.properties.contentType === ENVELOPE_CONTENT_TYPE
        ? decodeEnvelope(m.content).map((entry) => ('event' in entry ? entry.event.eventId : ''))
        : [(JSON.parse(m.content.toString()) as WriteEvent).eventId],
    );
    expect(carried).to.deep.equal(events.map((e) => e.eventId));
    const envelope = messages.find((m) => m.properties.contentType === ENVELOPE_CONTENT_TYPE);
    if (envelope === undefined) throw new Error('no envelope in the queue');
    expect(envelope.properties.deliveryMode).to.equal(2);
    expect(envelope.properties.headers?.['x-events']).to.equal(
      decodeEnvelope(envelope.content).length,
    );
  });

  it('splits envelopes and consumes plain event messages from the same queue (mixed versions)', async () => {
    const handled: string[] = [];
    await startConsumer({
      handle: (events) => {
        handled.push(...events.map((e) => e.eventId));
        return Promise.resolve({ deadLetter: [], retry: [] });
      },
    });
    // As an API older than envelopes wrote it, then an envelope, then envelopes of a publisher.
    const old = event(1);
    const enveloped = [event(2), event(3), event(4)];
    const raw = await admin.createConfirmChannel();
    raw.sendToQueue(queue, encodeWriteEvent(old), {
      persistent: true,
      contentType: 'application/json',
      messageId: old.eventId,
      type: old.kind,
    });
    raw.sendToQueue(queue, encodeEnvelope(enveloped.map(encodeWriteEvent)), {
      persistent: true,
      contentType: ENVELOPE_CONTENT_TYPE,
      messageId: randomUUID(),
      headers: { 'x-events': 3 },
    });
    await raw.waitForConfirms();
    const publisher = await startPublisher();
    const published = Array.from({ length: 30 }, (_, i) => event(i + 5));
    await Promise.all(published.map((e) => publisher.publish(e, soon())));
    await until(() => handled.length >= 34);
    await until(async () => (await depth(queue)) === 0);
    expect(handled).to.have.members([old, ...enveloped, ...published].map((e) => e.eventId));
    expect(handled).to.have.length(34);
  });

  it('dead-letters a poison event of an envelope alone, with its reason, and persists its siblings', async () => {
    const handled: string[] = [];
    const seen = await startConsumer({
      handle: (events) => {
        handled.push(...events.map((e) => e.eventId));
        return Promise.resolve({ deadLetter: [], retry: [] });
      },
    });
    const siblings = [event(1), event(2)];
    const envelopeId = randomUUID();
    const raw = await admin.createConfirmChannel();
    raw.sendToQueue(
      queue,
      encodeEnvelope([
        encodeWriteEvent(siblings[0]!),
        Buffer.from('{"kind":"message.created","eventId":"x"}'),
        encodeWriteEvent(siblings[1]!),
      ]),
      {
        persistent: true,
        contentType: ENVELOPE_CONTENT_TYPE,
        messageId: envelopeId,
        headers: { 'x-events': 3 },
      },
    );
    await raw.waitForConfirms();
    await until(async () => (await depth(deadLetterQueueOf(queue))) === 1);
    await until(async () => (await depth(queue)) === 0);
    expect(handled).to.deep.equal(siblings.map((e) => e.eventId));
    const [dead] = await drainQueue(deadLetterQueueOf(queue));
    expect(dead?.content.toString()).to.equal('{"kind":"message.created","eventId":"x"}');
    expect(dead?.properties.messageId).to.equal(`${envelopeId}/1`);
    expect(dead?.properties.headers?.['x-envelope-id']).to.equal(envelopeId);
    expect(String(dead?.properties.headers?.['x-death-reason'])).to.match(
      /^poison: invalid fields/,
    );
    await until(() => seen.deadLettered.length === 1);
    expect(seen.deadLettered).to.deep.equal(['poison']);
  });
});
