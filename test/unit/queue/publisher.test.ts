import { randomUUID } from 'node:crypto';
import { expect } from 'chai';
import { ConfirmPublisher, type PublisherOptions } from '../../../internal/queue/publisher.js';
import { AmqpConnection } from '../../../internal/queue/connection.js';
import {
  BrokerUnavailableError,
  OutcomeUnknownError,
  type AppError,
} from '../../../internal/domain/errors.js';
import type { WriteEvent } from '../../../internal/domain/model.js';
import { FakeConnection, type FakeChannel, type SentMessage } from '../../support/fakes/amqp.js';
import { ENVELOPE_CONTENT_TYPE, decodeEnvelope } from '../../../internal/domain/events.js';
import { silentLogger } from '../../support/environment.js';

const event = (): WriteEvent => ({
  kind: 'message.created',
  eventId: randomUUID(),
  applicationToken: '2a7b3bbd-45e2-4eff-b7cd-0123456789ab',
  chatNumber: 1,
  messageNumber: 1,
  content: 'hello',
  createdAt: new Date().toISOString(),
});

const within = (ms: number) => ({ sendBy: Date.now() + ms });

async function until(condition: () => boolean, timeoutMs = 5_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error('condition not met in time');
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
}

/** Tracks a promise's settlement without awaiting it. */
function track(promise: Promise<void>) {
  const state: { settled: boolean; error: unknown } = { settled: false, error: undefined };
  const done = promise.then(
    () => void (state.settled = true),
    (err: unknown) => {
      state.settled = true;
      state.error = err;
    },
  );
  return Object.assign(state, { done });
}

const codeOf = (err: unknown) => (err as AppError).code;

function setUp(options: Partial<PublisherOptions> = {}) {
  const seen = {
    refused: [] as string[],
    republished: 0,
    failed: 0,
    confirmed: 0,
    sent: [] as number[],
  };
  const publisher = new ConfirmPublisher(
    'writes',
    {
      confirmed: () => void (seen.confirmed += 1),
      failed: () => void (seen.failed += 1),
      refused: (reason) => void seen.refused.push(reason),
      republished: () => void (seen.republished += 1),
      sent: (events) => void seen.sent.push(events),
    },
    { retryDelayMs: 5, ...options },
  );
  const connect = async () => {
    const connection = new FakeConnection();
    await publisher.attach(connection.model);
    return connection;
  };
  return { publisher, seen, connect };
}

describe('ConfirmPublisher (fake amqplib)', () => {
  it('sends a persistent, mandatory message and resolves only on the confirm', async () => {
    const { publisher, seen, connect } = setUp();
    const connection = await connect();
    expect(publisher.ready).to.equal(true);
    const e = event();
    const publish = track(publisher.publish(e, within(1_000)));
    await new Promise((resolve) => setTimeout(resolve, 20));
    expect(publish.settled).to.equal(false);
    const sent = connection.channel.confirm('ack');
    await publish.done;
    expect(publish.error).to.equal(undefined);
    expect(sent.queue).to.equal('writes');
    expect(sent.options).to.include({ messageId: e.eventId, persistent: true, mandatory: true });
    expect(JSON.parse(sent.content.toString())).to.include({ eventId: e.eventId });
    expect(seen.confirmed).to.equal(1);
  });

  it('refuses at once, before sending anything, while no channel is attached', async () => {
    const { publisher, seen } = setUp();
    expect(publisher.accepting).to.equal(false);
    expect(publisher.ready).to.equal(false);
    const error = await publisher.publish(event(), within(1_000)).catch((err: unknown) => err);
    expect(error).to.be.instanceOf(BrokerUnavailableError);
    expect(codeOf(error)).to.equal('broker_unavailable');
    expect(seen.refused).to.deep.equal(['no_channel']);
  });

  it('refuses before sending while the connection is blocked, and turns readiness false', async () => {
    const { publisher, seen, connect } = setUp();
    const connection = await connect();
    connection.block();
    expect(publisher.accepting).to.equal(false);
    expect(publisher.ready).to.equal(false);
    const error = await publisher.publish(event(), within(1_000)).catch((err: unknown) => err);
    expect(codeOf(error)).to.equal('broker_unavailable');
    expect(connection.channel.sent).to.have.length(0);
    expect(seen.refused).to.deep.equal(['blocked']);

    connection.unblock();
    expect(publisher.accepting).to.equal(true);
    expect(publisher.ready).to.equal(true);
    const publish = publisher.publish(event(), within(1_000));
    connection.channel.confirm('ack');
    await publish;
  });

  it('refuses while the write buffer is full, until the channel drains', async () => {
    const { publisher, seen, connect } = setUp();
    const connection = await connect();
    const channel = connection.channel;
    channel.writable = false;
    const first = track(publisher.publish(event(), within(1_000)));
    expect(channel.sent).to.have.length(1);
    expect(publisher.accepting).to.equal(false);
    const error = await publisher.publish(event(), within(1_000)).catch((err: unknown) => err);
    expect(codeOf(error)).to.equal('broker_unavailable');
    expect(channel.sent).to.have.length(1);
    expect(seen.refused).to.deep.equal(['buffer_full']);

    channel.drain();
    expect(publisher.accepting).to.equal(true);
    const third = track(publisher.publish(event(), within(1_000)));
    // The first still awaits its confirm: the third goes once the envelope's linger is over.
    await until(() => channel.sent.length === 2);
    channel.confirm('ack');
    channel.confirm('ack');
    await Promise.all([first.done, third.done]);
    expect([first.error, third.error]).to.deep.equal([undefined, undefined]);
  });

  it('bounds the publishes awaiting a confirm, by count and by bytes', async () => {
    const { publisher, seen, connect } = setUp({ maxUnconfirmed: 2 });
    const connection = await connect();
    const waiting = [
      publisher.publish(event(), within(1_000)),
      publisher.publish(event(), within(1_000)),
    ];
    expect(publisher.accepting).to.equal(false);
    const error = await publisher.publish(event(), within(1_000)).catch((err: unknown) => err);
    expect(codeOf(error)).to.equal('broker_unavailable');
    await until(() => connection.channel.sent.length === 2);
    connection.channel.confirm('ack');
    connection.channel.confirm('ack');
    await Promise.all(waiting);
    expect(publisher.accepting).to.equal(true);

    const bytes = setUp({ maxUnconfirmedBytes: 500 });
    const other = await bytes.connect();
    // One event is about 220 bytes: two fit under 500, a third would pass it.
    const one = bytes.publisher.publish(event(), within(1_000));
    const two = bytes.publisher.publish(event(), within(1_000));
    const refused = await bytes.publisher
      .publish(event(), within(1_000))
      .catch((err: unknown) => err);
    expect(codeOf(refused)).to.equal('broker_unavailable');
    await until(() => other.channel.sent.length === 2);
    other.channel.confirm('ack');
    other.channel.confirm('ack');
    await Promise.all([one, two]);
    expect(seen.refused).to.deep.equal(['unconfirmed_limit']);
    expect(bytes.seen.refused).to.deep.equal(['unconfirmed_limit']);
  });

  it('re-publishes the same event on the next channel after the connection is lost, and resolves', async () => {
    const { publisher, seen, connect } = setUp();
    const first = await connect();
    const e = event();
    const publish = track(publisher.publish(e, within(2_000)));
    expect(first.channel.sent).to.have.length(1);
    await first.close();
    expect(publisher.ready).to.equal(false);
    await new Promise((resolve) => setTimeout(resolve, 20));
    expect(publish.settled).to.equal(false);

    const second = await connect();
    expect(second.channel.sent).to.have.length(1);
    const again = second.channel.sent[0];
    expect(again?.options.messageId).to.equal(e.eventId);
    expect(again?.content.equals(first.channel.sent[0]?.content ?? Buffer.alloc(0))).to.equal(true);
    second.channel.confirm('ack');
    await publish.done;
    expect(publish.error).to.equal(undefined);
    expect(seen.republished).to.equal(1);
  });

  it('answers outcome_unknown when no channel comes back before sendBy, and never sends after it', async () => {
    const { publisher, seen, connect } = setUp();
    const first = await connect();
    const deadline = within(100);
    const publish = track(publisher.publish(event(), deadline));
    await first.close();
    await publish.done;
    expect(publish.error).to.be.instanceOf(OutcomeUnknownError);
    expect(codeOf(publish.error)).to.equal('outcome_unknown');
    expect(Date.now()).to.be.at.least(deadline.sendBy);
    const second = await connect();
    await new Promise((resolve) => setTimeout(resolve, 20));
    expect(second.channel.sent).to.have.length(0);
    expect(first.channel.sent.every((m) => m.at < deadline.sendBy)).to.equal(true);
    expect(seen.failed).to.equal(1);
  });

  it('answers outcome_unknown when the confirm never comes, without sending after sendBy', async () => {
    const { publisher, connect } = setUp({ confirmTimeoutMs: 60 });
    const connection = await connect();
    const deadline = within(100);
    const error = await publisher.publish(event(), deadline).catch((err: unknown) => err);
    expect(codeOf(error)).to.equal('outcome_unknown');
    // The first send timed out at 60 ms and was sent again; nothing went after the deadline.
    expect(connection.channel.sent.length).to.be.at.least(1);
    expect(connection.channel.sent.every((m) => m.at < deadline.sendBy)).to.equal(true);
  });

  it('re-publishes after a nack or a return, and resolves on the later confirm', async () => {
    const { publisher, seen, connect } = setUp();
    const connection = await connect();
    const e = event();
    const publish = track(publisher.publish(e, within(2_000)));
    connection.channel.confirm('nack');
    await until(() => connection.channel.sent.length === 2);
    connection.channel.confirm('return');
    await until(() => connection.channel.sent.length === 3);
    expect(connection.channel.sent.map((m) => m.options.messageId)).to.deep.equal([
      e.eventId,
      e.eventId,
      e.eventId,
    ]);
    connection.channel.confirm('ack');
    await publish.done;
    expect(publish.error).to.equal(undefined);
    expect(seen.republished).to.equal(2);
  });

  it('answers broker_unavailable when every send was nacked or returned by the deadline', async () => {
    const { publisher, connect } = setUp({ retryDelayMs: 1_000 });
    const connection = await connect();
    const nacked = track(publisher.publish(event(), within(100)));
    connection.channel.confirm('nack');
    const returned = track(publisher.publish(event(), within(100)));
    await until(() => connection.channel.sent.length === 2);
    connection.channel.confirm('return');
    await Promise.all([nacked.done, returned.done]);
    expect(nacked.error).to.be.instanceOf(BrokerUnavailableError);
    expect(returned.error).to.be.instanceOf(BrokerUnavailableError);
    expect(((returned.error as Error).cause as Error).name).to.equal('UnroutableError');
    expect(connection.channel.sent).to.have.length(2);
  });

  it('answers outcome_unknown, not broker_unavailable, when a lost send was followed by nacks', async () => {
    const { publisher, connect } = setUp({ retryDelayMs: 1_000 });
    const first = await connect();
    const publish = track(publisher.publish(event(), within(150)));
    await first.close();
    const second = await connect();
    expect(second.channel.sent).to.have.length(1);
    second.channel.confirm('nack');
    await publish.done;
    expect(codeOf(publish.error)).to.equal('outcome_unknown');
  });

  it('holds re-publishes while blocked or full, and sends them on unblock and drain', async () => {
    const { publisher, connect } = setUp();
    const first = await connect();
    const publishes = [
      publisher.publish(event(), within(2_000)),
      publisher.publish(event(), within(2_000)),
    ];
    await first.close();
    const second = new FakeConnection();
    second.onChannel = (channel: FakeChannel) => (channel.writable = false);
    await publisher.attach(second.model);
    // The first re-publish found the buffer full: the second waits for 'drain'.
    expect(second.channel.sent).to.have.length(1);
    second.block();
    second.channel.drain();
    expect(second.channel.sent).to.have.length(1);
    second.unblock();
    await until(() => second.channel.sent.length === 2);
    second.channel.confirm('ack');
    second.channel.confirm('ack');
    await Promise.all(publishes);
  });
});

/** The event ids a sent message carries, whether a plain event message or an envelope. */
function idsOf(message: SentMessage | undefined): string[] {
  if (message === undefined) return [];
  if (message.options['contentType'] !== ENVELOPE_CONTENT_TYPE) {
    return [(JSON.parse(message.content.toString()) as WriteEvent).eventId];
  }
  return decodeEnvelope(message.content).map((entry) =>
    'event' in entry ? entry.event.eventId : 'poison',
  );
}

describe('ConfirmPublisher group commit (fake amqplib)', () => {
  it('sends at once, alone and as a plain event message, while nothing awaits a confirm', async () => {
    const { publisher, seen, connect } = setUp({ envelopeLingerUs: 100_000 });
    const connection = await connect();
    const e = event();
    const publish = publisher.publish(e, within(1_000));
    // Synchronously: no linger when idle.
    expect(connection.channel.sent).to.have.length(1);
    const sent = connection.channel.sent[0];
    expect(sent?.options).to.include({ contentType: 'application/json', messageId: e.eventId });
    connection.channel.confirm('ack');
    await publish;
    const next = publisher.publish(event(), within(1_000));
    expect(connection.channel.sent).to.have.length(2);
    connection.channel.confirm('ack');
    await next;
    expect(seen.sent).to.deep.equal([1, 1]);
  });

  it('coalesces publishes made while another awaits its confirm into one envelope; each resolves on its confirm', async () => {
    const { publisher, seen, connect } = setUp({ envelopeLingerUs: 0 });
    const connection = await connect();
    const channel = connection.channel;
    const first = track(publisher.publish(event(), within(1_000)));
    const others = [event(), event(), event()];
    const tracked = others.map((e) => track(publisher.publish(e, within(1_000))));
    expect(channel.sent).to.have.length(1);
    await until(() => channel.sent.length === 2);
    const envelope = channel.sent[1];
    expect(envelope?.options).to.include({
      contentType: ENVELOPE_CONTENT_TYPE,
      type: 'envelope',
      persistent: true,
      mandatory: true,
    });
    expect(envelope?.options['headers']).to.deep.equal({ 'x-events': 3 });
    expect(idsOf(envelope)).to.deep.equal(others.map((e) => e.eventId));
    expect(seen.sent).to.deep.equal([1, 3]);

    channel.confirm('ack');
    await first.done;
    await new Promise((resolve) => setTimeout(resolve, 10));
    expect(tracked.map((t) => t.settled)).to.deep.equal([false, false, false]);
    channel.confirm('ack');
    await Promise.all(tracked.map((t) => t.done));
    expect(tracked.map((t) => t.error)).to.deep.equal([undefined, undefined, undefined]);
    expect(seen.confirmed).to.equal(4);
  });

  it('sends an envelope as soon as it holds envelopeMaxEvents events', async () => {
    const { publisher, seen, connect } = setUp({ envelopeMaxEvents: 3, envelopeLingerUs: 100_000 });
    const connection = await connect();
    const publishes = Array.from({ length: 8 }, () => publisher.publish(event(), within(1_000)));
    // One alone (idle), then two full envelopes at once; the last one waits for its linger.
    expect(seen.sent).to.deep.equal([1, 3, 3]);
    for (let i = 0; i < 3; i += 1) connection.channel.confirm('ack');
    // Nothing awaits a confirm any more: the rest goes without waiting for the linger.
    await until(() => seen.sent.length === 4);
    expect(seen.sent).to.deep.equal([1, 3, 3, 1]);
    connection.channel.confirm('ack');
    await Promise.all(publishes);
  });

  it('keeps an envelope under envelopeMaxBytes', async () => {
    // One event is about 220 bytes: two fit under 500, a third would pass it.
    const { publisher, seen, connect } = setUp({ envelopeMaxBytes: 500, envelopeLingerUs: 0 });
    const connection = await connect();
    const publishes = Array.from({ length: 6 }, () => publisher.publish(event(), within(1_000)));
    await until(() => seen.sent.reduce((a, b) => a + b, 0) === 6);
    expect(seen.sent).to.deep.equal([1, 2, 2, 1]);
    expect(connection.channel.sent.every((m) => m.content.length <= 500)).to.equal(true);
    for (let i = 0; i < 4; i += 1) connection.channel.confirm('ack');
    await Promise.all(publishes);
  });

  it('lingers while busy, and sends what it gathered once nothing awaits a confirm', async () => {
    const { publisher, seen, connect } = setUp({ envelopeLingerUs: 100_000 });
    const connection = await connect();
    const first = publisher.publish(event(), within(1_000));
    const second = publisher.publish(event(), within(1_000));
    await new Promise((resolve) => setImmediate(resolve));
    expect(seen.sent).to.deep.equal([1]);
    connection.channel.confirm('ack');
    await first;
    await until(() => seen.sent.length === 2);
    connection.channel.confirm('ack');
    await second;

    // Without a confirm, the linger alone ends the wait.
    const lingering = setUp({ envelopeLingerUs: 1_000 });
    const other = await lingering.connect();
    const a = lingering.publisher.publish(event(), within(1_000));
    const b = lingering.publisher.publish(event(), within(1_000));
    await until(() => lingering.seen.sent.length === 2);
    other.channel.confirm('ack');
    other.channel.confirm('ack');
    await Promise.all([a, b]);
  });

  it('sends every event alone with envelopeMaxEvents 1', async () => {
    const { publisher, seen, connect } = setUp({ envelopeMaxEvents: 1 });
    const connection = await connect();
    const publishes = Array.from({ length: 4 }, () => publisher.publish(event(), within(1_000)));
    expect(seen.sent).to.deep.equal([1, 1, 1, 1]);
    for (let i = 0; i < 4; i += 1) connection.channel.confirm('ack');
    await Promise.all(publishes);
  });

  it('re-publishes the events of a lost envelope with their own ids, and drops one past its sendBy alone', async () => {
    const { publisher, seen, connect } = setUp({ envelopeLingerUs: 0 });
    const first = await connect();
    const leader = event();
    const lead = track(publisher.publish(leader, within(2_000)));
    const short = event();
    const long = event();
    const shortDeadline = within(80);
    const early = track(publisher.publish(short, shortDeadline));
    const late = track(publisher.publish(long, within(2_000)));
    await until(() => first.channel.sent.length === 2);
    expect(idsOf(first.channel.sent[1])).to.deep.equal([short.eventId, long.eventId]);
    await first.close();
    // No channel until the short deadline has passed: that event alone is answered unknown.
    await early.done;
    expect(codeOf(early.error)).to.equal('outcome_unknown');
    expect(late.settled).to.equal(false);

    const second = await connect();
    await until(() => second.channel.sent.length === 2);
    const resent = second.channel.sent.flatMap(idsOf);
    expect(resent).to.have.members([leader.eventId, long.eventId]);
    expect(resent).to.not.include(short.eventId);
    expect(second.channel.sent.every((m) => m.at >= shortDeadline.sendBy)).to.equal(true);
    second.channel.confirm('ack');
    second.channel.confirm('ack');
    await Promise.all([lead.done, late.done]);
    expect([lead.error, late.error]).to.deep.equal([undefined, undefined]);
    expect(seen.republished).to.equal(2);
    expect(seen.failed).to.equal(1);
  });
});

/** Runs `close` in the same read as the work queue's declare-ok (declared last). */
const onLastDeclare = (close: () => Promise<void>) => (queue: string) => {
  if (queue === 'writes') void close();
};

describe('recovery from a channel that closes while it is being set up (fake amqplib)', () => {
  it('never keeps a channel that closed in the same read as a declare-ok', async () => {
    const { publisher, connect } = setUp();
    const connection = new FakeConnection();
    // The work queue is declared last, after its dead-letter queue.
    connection.onChannel = (channel) => (channel.onDeclare = onLastDeclare(() => channel.close()));
    const error = await publisher.attach(connection.model).catch((err: unknown) => err);
    expect(error).to.be.instanceOf(Error);
    expect(publisher.ready).to.equal(false);
    expect(publisher.accepting).to.equal(false);
    await connect();
    expect(publisher.ready).to.equal(true);
  });

  it('reconnects until a connection and channel are really usable; readiness follows', async () => {
    const { publisher } = setUp();
    const made: FakeConnection[] = [];
    const amqp = new AmqpConnection({
      urls: ['amqp://fake'],
      name: 'test',
      logger: silentLogger,
      maxBackoffMs: 20,
      onConnect: publisher.attach,
      onDisconnect: publisher.detach,
      connect: () => {
        const connection = new FakeConnection();
        // 1st: the channel closes with the declare-ok; 2nd: the whole connection does.
        if (made.length === 0) {
          connection.onChannel = (channel) =>
            (channel.onDeclare = onLastDeclare(() => channel.close()));
        } else if (made.length === 1) {
          connection.onChannel = (channel) => (channel.onDeclare = () => void connection.close());
        }
        made.push(connection);
        return Promise.resolve(connection.model);
      },
    });
    await amqp.start();
    expect(made).to.have.length(3);
    expect(amqp.connected).to.equal(true);
    expect(publisher.ready).to.equal(true);
    expect(made[0]?.closed).to.equal(true);
    expect(made[1]?.closed).to.equal(true);

    // A channel the broker closes later under a live connection: the connection is recycled.
    await made[2]?.channel.close();
    expect(publisher.ready).to.equal(false);
    await until(() => made.length === 4 && publisher.ready);
    expect(amqp.connected).to.equal(true);
    await amqp.close();
  });
});

describe('AmqpConnection (fake amqplib)', () => {
  it('does not keep a connection that closed while onConnect was finishing', async () => {
    const made: FakeConnection[] = [];
    const amqp = new AmqpConnection({
      urls: ['amqp://fake'],
      name: 'test',
      logger: silentLogger,
      maxBackoffMs: 20,
      onConnect: async (model) => {
        // The first connection closes in the same read as the set-up's last reply.
        if (made.length === 1) await (model as unknown as FakeConnection).close();
      },
      connect: () => {
        const connection = new FakeConnection();
        made.push(connection);
        return Promise.resolve(connection.model);
      },
    });
    await amqp.start();
    expect(made).to.have.length(2);
    expect(made[1]?.closed).to.equal(false);
    expect(amqp.connected).to.equal(true);
    await amqp.close();
  });
});
