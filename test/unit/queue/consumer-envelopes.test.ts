import { randomUUID } from 'node:crypto';
import { expect } from 'chai';
import { WriteConsumer } from '../../../internal/queue/consumer.js';
import { deadLetterQueueOf } from '../../../internal/queue/topology.js';
import {
  ENVELOPE_CONTENT_TYPE,
  encodeEnvelope,
  encodeWriteEvent,
} from '../../../internal/domain/events.js';
import type { WriteEvent } from '../../../internal/domain/model.js';
import type { BatchHandler } from '../../../internal/domain/ports.js';
import { FakeConnection, type FakeChannel } from '../../support/fakes/amqp.js';
import { silentLogger } from '../../support/environment.js';
import { until } from '../../support/until.js';

const event = (n: number): WriteEvent => ({
  kind: 'message.created',
  eventId: randomUUID(),
  applicationToken: '2a7b3bbd-45e2-4eff-b7cd-0123456789ab',
  chatNumber: 1,
  messageNumber: n,
  content: `message ${n}`,
  createdAt: new Date().toISOString(),
});

const envelopeProperties = (events: number, headers: Record<string, unknown> = {}) => ({
  contentType: ENVELOPE_CONTENT_TYPE,
  messageId: randomUUID(),
  type: 'envelope',
  headers: { 'x-events': events, ...headers },
});

const plainProperties = (e: WriteEvent) => ({
  contentType: 'application/json',
  messageId: e.eventId,
  type: e.kind,
});

/** A consumer on a fake channel whose sends (the dead-letter queue's) are confirmed at once. */
async function setUp(handler: BatchHandler, maxDeliveries = 3) {
  const seen = { handled: [] as string[][], deadLettered: [] as string[], batches: [] as number[] };
  const consumer = new WriteConsumer({
    queue: 'writes',
    prefetch: 100,
    batchSize: 50,
    batchWaitMs: 1,
    batchMaxBytes: 1024 * 1024,
    maxDeliveries,
    handler: {
      handle: (events) => {
        seen.handled.push(events.map((e) => e.eventId));
        return handler.handle(events);
      },
    },
    observer: {
      batch: (size) => void seen.batches.push(size),
      redelivered: () => undefined,
      deadLettered: (code) => void seen.deadLettered.push(code),
    },
    logger: silentLogger,
  });
  const connection = new FakeConnection();
  connection.onChannel = (channel: FakeChannel) => (channel.autoConfirm = true);
  await consumer.attach(connection.model);
  return { consumer, channel: connection.channel, seen };
}

const persistAll: BatchHandler = {
  handle: () => Promise.resolve({ deadLetter: [], retry: [] }),
};

const deadLetters = (channel: FakeChannel) =>
  channel.sent.filter((m) => m.queue === deadLetterQueueOf('writes'));

describe('WriteConsumer envelopes (fake amqplib)', () => {
  it('splits an envelope into its events and acks it once they are persisted', async () => {
    const { channel, seen } = await setUp(persistAll);
    const events = [event(1), event(2), event(3)];
    const tag = channel.deliver(
      encodeEnvelope(events.map(encodeWriteEvent)),
      envelopeProperties(3),
    );
    await until(() => channel.settlements.length === 1);
    expect(seen.handled).to.deep.equal([events.map((e) => e.eventId)]);
    expect(channel.settlements).to.deep.equal([
      { kind: 'ack', deliveryTag: tag, allUpTo: true, requeue: false },
    ]);
    expect(seen.batches).to.deep.equal([3]);
    expect(deadLetters(channel)).to.have.length(0);
  });

  it('consumes plain event messages and envelopes from the same queue (mixed versions)', async () => {
    const { channel, seen } = await setUp(persistAll);
    const old = event(1);
    const enveloped = [event(2), event(3)];
    channel.deliver(encodeWriteEvent(old), plainProperties(old));
    const last = channel.deliver(
      encodeEnvelope(enveloped.map(encodeWriteEvent)),
      envelopeProperties(2),
    );
    await until(() => channel.settlements.length === 1);
    expect(seen.handled.flat()).to.deep.equal([old, ...enveloped].map((e) => e.eventId));
    expect(channel.settlements).to.deep.equal([
      { kind: 'ack', deliveryTag: last, allUpTo: true, requeue: false },
    ]);
  });

  it('dead-letters a poison or rejected event of an envelope alone, with its reason, and persists its siblings', async () => {
    const conflict = event(2);
    const { channel, seen } = await setUp({
      handle: (events) =>
        Promise.resolve({
          deadLetter: events
            .filter((e) => e.eventId === conflict.eventId)
            .map((e) => ({ event: e, reason: { code: 'conflict' as const, detail: 'taken' } })),
          retry: [],
        }),
    });
    const good = [event(1), event(3)];
    const poison = Buffer.from('{"kind":"message.created"');
    const properties = envelopeProperties(4);
    const tag = channel.deliver(
      encodeEnvelope([
        encodeWriteEvent(good[0]!),
        poison,
        encodeWriteEvent(conflict),
        encodeWriteEvent(good[1]!),
      ]),
      properties,
    );
    await until(() => channel.settlements.length === 1);
    expect(seen.handled).to.deep.equal([[good[0]!.eventId, conflict.eventId, good[1]!.eventId]]);
    const dead = deadLetters(channel);
    expect(dead).to.have.length(2);
    expect(dead[0]?.content.equals(poison)).to.equal(true);
    expect(dead[0]?.options).to.deep.include({
      contentType: 'application/json',
      messageId: `${properties.messageId}/1`,
    });
    expect(dead[0]?.options['headers']).to.deep.include({
      'x-death-reason': 'poison: body is not valid JSON',
      'x-envelope-id': properties.messageId,
    });
    expect(JSON.parse(dead[1]!.content.toString())).to.deep.equal(conflict);
    expect(dead[1]?.options).to.include({ messageId: conflict.eventId, type: 'message.created' });
    expect(dead[1]?.options['headers']).to.deep.include({ 'x-death-reason': 'conflict: taken' });
    expect(seen.deadLettered).to.deep.equal(['poison', 'conflict']);
    expect(channel.settlements).to.deep.equal([
      { kind: 'ack', deliveryTag: tag, allUpTo: true, requeue: false },
    ]);
  });

  it('requeues a whole envelope for an event to retry, dead-lettering nothing before its last delivery', async () => {
    const failing = event(2);
    const handler: BatchHandler = {
      handle: (events) =>
        Promise.resolve({
          deadLetter: [],
          retry: events
            .filter((e) => e.eventId === failing.eventId)
            .map((e) => ({ event: e, reason: 'Data too long' })),
        }),
    };
    const { channel, seen } = await setUp(handler, 3);
    const body = encodeEnvelope(
      [event(1), failing, event(3)].map(encodeWriteEvent).concat(Buffer.from('nope')),
    );
    const first = channel.deliver(body, envelopeProperties(4));
    await until(() => channel.settlements.length === 1);
    expect(channel.settlements[0]).to.deep.equal({
      kind: 'reject',
      deliveryTag: first,
      allUpTo: false,
      requeue: true,
    });
    expect(deadLetters(channel)).to.have.length(0);

    // Its last delivery (quorum queues count the earlier ones): the bad events go, alone.
    const last = channel.deliver(body, envelopeProperties(4, { 'x-delivery-count': 2 }), true);
    await until(() => channel.settlements.length === 2);
    expect(channel.settlements[1]).to.deep.equal({
      kind: 'ack',
      deliveryTag: last,
      allUpTo: true,
      requeue: false,
    });
    const dead = deadLetters(channel);
    expect(
      dead.map((m) => String((m.options['headers'] as Record<string, unknown>)['x-death-reason'])),
    ).to.deep.equal([
      'poison: body is not valid JSON',
      'max_deliveries: failed 3 deliveries: Data too long',
    ]);
    expect(dead[1]?.options['messageId']).to.equal(failing.eventId);
    expect(seen.deadLettered).to.deep.equal(['poison', 'max_deliveries']);
  });

  it('counts envelopes by their events toward the batch size', async () => {
    const { channel, seen } = await setUp(persistAll);
    // 50 events per batch: two envelopes of 30 cannot share one.
    for (let i = 0; i < 2; i += 1) {
      const events = Array.from({ length: 30 }, (_, n) => event(n + 1));
      channel.deliver(encodeEnvelope(events.map(encodeWriteEvent)), envelopeProperties(30));
    }
    await until(() => seen.batches.length === 2);
    expect(seen.batches).to.deep.equal([30, 30]);
  });
});
