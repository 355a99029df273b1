import { randomUUID } from 'node:crypto';
import type { Channel, ChannelModel, ConfirmChannel, ConsumeMessage } from 'amqplib';
import type { WriteEvent } from '../domain/model.js';
import {
  describeDeadLetter,
  type DeadLetterCode,
  type DeadLetterReason,
} from '../domain/dead-letter.js';
import {
  ENVELOPE_CONTENT_TYPE,
  ENVELOPE_EVENTS_HEADER,
  PoisonMessageError,
  decodeEnvelope,
  decodeWriteEvent,
} from '../domain/events.js';
import type { BatchHandler } from '../domain/ports.js';
import type { Logger } from '../log/logger.js';
import { assertTopology, deadLetterQueueOf } from './topology.js';
import { sendConfirmed, trackReturns } from './confirm.js';

export interface ConsumerObserver {
  batch(size: number, seconds: number): void;
  /** A batch took deliveries from `queue`, the oldest published `seconds` ago (1 s resolution). */
  lag?(queue: string, seconds: number): void;
  redelivered(): void;
  deadLettered(code: DeadLetterCode): void;
}

export interface WriteConsumerOptions {
  /** The base write queue (RABBITMQ_QUEUE): always consumed; its dead-letter queue is shared. */
  readonly queue: string;
  readonly prefetch: number;
  readonly batchSize: number;
  readonly batchWaitMs: number;
  /** Caps a batch's payload too, so one transaction stays under max_allowed_packet. */
  readonly batchMaxBytes: number;
  readonly maxDeliveries: number;
  readonly handler: BatchHandler;
  readonly observer: ConsumerObserver;
  readonly logger: Logger;
}

const DEAD_LETTER_CONFIRM_TIMEOUT_MS = 10_000;

interface Delivery {
  readonly message: ConsumeMessage;
  readonly channel: ConfirmChannel;
  /** The queue it was delivered from. */
  readonly queue: string;
  /** Events it carries, from the envelope header (1 for a plain event message). */
  readonly events: number;
}

/** One event of an envelope, with its own bytes for the dead-letter queue. */
interface Part {
  readonly delivery: Delivery;
  readonly content: Buffer;
  readonly index: number;
}

/** An event of an envelope bound for the dead-letter queue (null: it did not decode). */
interface Rejected {
  readonly part: Part;
  readonly event: WriteEvent | null;
  readonly reason: DeadLetterReason;
}

/**
 * Consumes the write queue with a prefetch window, hands batches to the handler one at a
 * time, and settles deliveries only after the handler's commit: acks (multiple) for what was
 * persisted or dead-lettered, rejects (requeue) for what must be redelivered. Deliveries of
 * a channel that died are dropped: the broker redelivers them.
 *
 * Requeues use basic.reject, not basic.nack: on quorum queues both count toward the delivery
 * limit before RabbitMQ 4.3, and from 4.3 only reject does (nack means "not processed" and
 * no longer increments delivery-count), so a message that keeps failing still reaches
 * CONSUMER_MAX_DELIVERIES and the broker's x-delivery-limit instead of looping for ever.
 * Only a batch handed back at shutdown, which did not fail, is nacked.
 *
 * An envelope (several events in one message, see ENVELOPE_CONTENT_TYPE) is split and its
 * events handled one by one like those of plain messages; the message is settled once, when
 * all of its events are: an event to dead-letter is sent to the dead-letter queue alone, as a
 * plain event message with its reason, then the envelope is acked with its siblings
 * persisted. An event to retry sends the whole envelope back (persisted siblings are replays
 * on redelivery, no-ops by event id), and nothing of it is dead-lettered before its last
 * delivery, so the dead-letter queue gets each bad event once.
 */
export class WriteConsumer {
  private channel: ConfirmChannel | null = null;
  /** A plain channel for queue checks: a failed check closes it, not the consuming one. */
  private monitor: Channel | null = null;
  private connection: ChannelModel | null = null;
  /** Queues to consume besides the base queue (partitions), as last set by consume(). */
  private wanted: ReadonlySet<string> = new Set();
  /** Subscriptions on the current channel: queue → consumer tag. */
  private readonly subscriptions = new Map<string, string>();
  /** Subscriptions being changed, one change at a time. */
  private changing: Promise<void> = Promise.resolve();
  private buffer: Delivery[] = [];
  /** Events in the buffer, envelopes counted by their events. */
  private buffered = 0;
  private timer: NodeJS.Timeout | null = null;
  private running: Promise<void> | null = null;
  private stopping = false;
  private returned: ReadonlySet<string> = new Set();

  constructor(private readonly options: WriteConsumerOptions) {}

  get consuming(): boolean {
    return this.channel !== null && this.subscriptions.has(this.options.queue);
  }

  /** The queues consumed now. */
  get queues(): string[] {
    return [...this.subscriptions.keys()];
  }

  /** Wire as the connection's onConnect. */
  readonly attach = async (connection: ChannelModel): Promise<void> => {
    const channel = await connection.createConfirmChannel();
    channel.on('error', (err: Error) =>
      this.options.logger.warn({ err }, 'consumer channel error'),
    );
    let closed = false;
    channel.on('close', () => {
      closed = true;
      const wasCurrent = this.channel === channel;
      this.forget(channel);
      // A channel the broker closed under a live connection: reconnecting recreates it.
      if (wasCurrent && !this.stopping) void connection.close().catch(() => undefined);
    });
    this.returned = trackReturns(channel);
    this.connection = connection;
    this.monitor = null;
    await assertTopology(channel, this.options.queue);
    await channel.prefetch(this.options.prefetch);
    // The channel can close in the same read as a reply: never keep a dead one.
    if (closed) throw new Error('channel closed while declaring the topology');
    this.channel = channel;
    this.subscriptions.clear();
    if (this.stopping) return;
    await this.subscribe(channel, this.options.queue);
    if (closed) throw new Error('channel closed while starting to consume');
    await this.reconcile();
  };

  /**
   * Consumes these queues besides the base queue, and no others: subscribes to new ones (their
   * topology declared first) and cancels the rest. Deliveries already received from a
   * cancelled queue are still settled on the same channel.
   */
  consume(queues: readonly string[]): Promise<void> {
    this.wanted = new Set(queues.filter((q) => q !== this.options.queue));
    return this.reconcile();
  }

  private reconcile(): Promise<void> {
    // A change that failed (its channel closed) does not stop the next one.
    this.changing = this.changing
      .catch(() => undefined)
      .then(async () => {
        const channel = this.channel;
        if (channel === null || this.stopping) return;
        for (const queue of this.wanted) {
          if (this.subscriptions.has(queue)) continue;
          await assertTopology(channel, queue, this.options.queue);
          if (this.channel !== channel || this.stopping) return;
          await this.subscribe(channel, queue);
        }
        for (const [queue, tag] of [...this.subscriptions]) {
          if (queue === this.options.queue || this.wanted.has(queue)) continue;
          this.subscriptions.delete(queue);
          await channel.cancel(tag);
          this.options.logger.info({ queue }, 'stopped consuming a drained write queue');
        }
      });
    return this.changing;
  }

  private async subscribe(channel: ConfirmChannel, queue: string): Promise<void> {
    const { consumerTag } = await channel.consume(queue, (message) => {
      if (message !== null) this.enqueue({ message, channel, queue, events: eventsOf(message) });
    });
    if (this.channel === channel) this.subscriptions.set(queue, consumerTag);
    if (queue !== this.options.queue)
      this.options.logger.info({ queue }, 'consuming a write queue');
  }

  /**
   * Ready messages in a queue (not those delivered and unacknowledged); null when the queue
   * does not exist or no connection is up.
   */
  async depth(queue: string): Promise<number | null> {
    const monitor = await this.monitorChannel();
    if (monitor === null) return null;
    try {
      return (await monitor.checkQueue(queue)).messageCount;
    } catch (err) {
      // A missing queue closes the channel (404); the next check opens another.
      if ((err as { code?: unknown }).code === 404) return null;
      throw err;
    }
  }

  /** Sends a mark (a plain event message) into a queue and waits for the broker's confirm. */
  async sendMark(queue: string, content: Buffer, messageId: string, type: string): Promise<void> {
    const channel = this.channel;
    if (channel === null) throw new Error('not connected');
    await sendConfirmed(
      channel,
      queue,
      content,
      { persistent: true, contentType: 'application/json', messageId, type },
      DEAD_LETTER_CONFIRM_TIMEOUT_MS,
      this.returned,
    );
  }

  private async monitorChannel(): Promise<Channel | null> {
    const { connection } = this;
    if (connection === null) return null;
    if (this.monitor === null) {
      const monitor = await connection.createChannel();
      monitor.on('error', () => undefined);
      monitor.on('close', () => {
        if (this.monitor === monitor) this.monitor = null;
      });
      this.monitor = monitor;
    }
    return this.monitor;
  }

  readonly detach = (): void => {
    if (this.channel !== null) this.forget(this.channel);
    this.connection = null;
    this.monitor = null;
  };

  /**
   * Messages waiting in the dead-letter queue, whoever put them there (this consumer, or the
   * broker's delivery limit); null while not connected.
   */
  async deadLetterDepth(): Promise<number | null> {
    return this.depth(deadLetterQueueOf(this.options.queue));
  }

  /** Stops taking deliveries and finishes what was already received. */
  async stop(): Promise<void> {
    this.stopping = true;
    const { channel } = this;
    const tags = [...this.subscriptions.values()];
    this.subscriptions.clear();
    if (channel !== null) {
      await Promise.all(tags.map((tag) => channel.cancel(tag).catch(() => undefined)));
    }
    this.kick();
    await this.running;
  }

  private forget(channel: ConfirmChannel): void {
    if (this.channel === channel) {
      this.channel = null;
      this.subscriptions.clear();
    }
    this.buffer = this.buffer.filter((d) => d.channel !== channel);
    this.buffered = this.buffer.reduce((sum, d) => sum + d.events, 0);
  }

  private enqueue(delivery: Delivery): void {
    this.buffer.push(delivery);
    this.buffered += delivery.events;
    if (this.buffered >= this.options.batchSize) this.kick();
    else this.timer ??= setTimeout(() => this.kick(), this.options.batchWaitMs);
  }

  private kick(): void {
    if (this.timer !== null) {
      clearTimeout(this.timer);
      this.timer = null;
    }
    this.running ??= this.drain().finally(() => {
      this.running = null;
      if (this.buffer.length > 0) this.kick();
    });
  }

  private async drain(): Promise<void> {
    while (this.buffer.length > 0) {
      const batch = this.buffer.splice(0, this.batchLength());
      const events = batch.reduce((sum, d) => sum + d.events, 0);
      this.buffered -= events;
      const settled = new Set<Delivery>();
      const started = process.hrtime.bigint();
      try {
        await this.process(batch, settled);
      } catch (err) {
        // What was not settled yet goes back to the broker, after a pause.
        this.options.logger.error({ err }, 'batch failed; it will be redelivered');
        await new Promise((resolve) => setTimeout(resolve, this.stopping ? 0 : 1_000));
        this.requeue(batch.filter((delivery) => !settled.has(delivery)));
      }
      this.options.observer.batch(events, Number(process.hrtime.bigint() - started) / 1e9);
    }
  }

  /**
   * How many buffered deliveries the next batch takes: by events, and by bytes. An envelope
   * is never cut, so a batch holds at least one delivery whatever its size.
   */
  private batchLength(): number {
    let bytes = 0;
    let events = 0;
    for (let i = 0; i < this.buffer.length; i += 1) {
      const delivery = this.buffer[i]!;
      bytes += delivery.message.content.length;
      events += delivery.events;
      if (bytes > this.options.batchMaxBytes || events > this.options.batchSize) {
        return Math.max(i, 1);
      }
    }
    return this.buffer.length;
  }

  private async process(batch: readonly Delivery[], settled: Set<Delivery>): Promise<void> {
    this.observeLag(batch);
    const decoded: { delivery: Delivery; event: WriteEvent; part: Part | null }[] = [];
    /** Per envelope, its events to dead-letter once it is settled for good. */
    const rejects = new Map<Delivery, Rejected[]>();
    const retries = new Map<Delivery, string[]>();
    for (const delivery of batch) {
      if (delivery.message.fields.redelivered) this.options.observer.redelivered();
      if (isEnvelope(delivery.message)) {
        const bad: Rejected[] = [];
        rejects.set(delivery, bad);
        for (const [index, entry] of decodeEnvelope(delivery.message.content).entries()) {
          const part: Part = { delivery, content: entry.content, index };
          if ('event' in entry)
            decoded.push({ delivery, event: located(entry.event, delivery.queue), part });
          else
            bad.push({
              part,
              event: null,
              reason: { code: 'poison', detail: entry.poison.reason },
            });
        }
        continue;
      }
      try {
        const event = located(decodeWriteEvent(delivery.message.content), delivery.queue);
        decoded.push({ delivery, event, part: null });
      } catch (err) {
        if (!(err instanceof PoisonMessageError)) throw err;
        await this.deadLetter(delivery, { code: 'poison', detail: err.reason });
        settled.add(delivery);
      }
    }
    if (decoded.length > 0) {
      const byEvent = new Map(decoded.map((d) => [d.event, d]));
      const outcome = await this.options.handler.handle(decoded.map((d) => d.event));
      for (const { event, reason } of outcome.deadLetter) {
        const found = byEvent.get(event);
        if (found === undefined) continue;
        if (found.part !== null) {
          rejects.get(found.delivery)?.push({ part: found.part, event, reason });
          continue;
        }
        await this.deadLetter(found.delivery, reason);
        settled.add(found.delivery);
      }
      for (const { event, reason } of outcome.retry) {
        const found = byEvent.get(event);
        if (found === undefined) continue;
        const { delivery } = found;
        const last = deliveryCount(delivery.message) + 1 >= this.options.maxDeliveries;
        const limitReason: DeadLetterReason = {
          code: 'max_deliveries',
          detail: `failed ${this.options.maxDeliveries} deliveries: ${reason}`,
        };
        if (found.part !== null) {
          if (last) rejects.get(delivery)?.push({ part: found.part, event, reason: limitReason });
          else retries.set(delivery, [...(retries.get(delivery) ?? []), reason]);
          continue;
        }
        if (last) await this.deadLetter(delivery, limitReason);
        else delivery.channel.reject(delivery.message, true);
        settled.add(delivery);
      }
    }
    for (const [delivery, bad] of rejects) {
      if (retries.has(delivery)) {
        // Redelivered whole; its bad events are dead-lettered on the delivery that settles it.
        delivery.channel.reject(delivery.message, true);
        settled.add(delivery);
        continue;
      }
      for (const { part, event, reason } of bad) await this.deadLetterPart(part, event, reason);
      // Left to ackRest with the rest of the batch: its other events are persisted.
    }
    this.ackRest(batch, settled);
  }

  /** Per queue, how long ago the batch's oldest delivery was published. */
  private observeLag(batch: readonly Delivery[]): void {
    const { observer } = this.options;
    if (observer.lag === undefined) return;
    const oldest = new Map<string, number>();
    for (const { queue, message } of batch) {
      const at = message.properties.timestamp as unknown;
      if (typeof at !== 'number') continue;
      oldest.set(queue, Math.min(oldest.get(queue) ?? Infinity, at));
    }
    const now = Date.now() / 1000;
    for (const [queue, at] of oldest) observer.lag(queue, Math.max(0, now - at));
  }

  private requeue(batch: readonly Delivery[]): void {
    for (const { message, channel } of batch) {
      try {
        if (this.stopping) channel.nack(message, false, true);
        else channel.reject(message, true);
      } catch {
        // Its channel is gone: the broker requeues it by itself.
      }
    }
  }

  /** One multiple-ack up to the highest delivery tag still outstanding in the batch. */
  private ackRest(batch: readonly Delivery[], settled: ReadonlySet<Delivery>): void {
    let last: Delivery | undefined;
    for (const delivery of batch) {
      if (settled.has(delivery)) continue;
      if (
        last === undefined ||
        delivery.message.fields.deliveryTag > last.message.fields.deliveryTag
      ) {
        last = delivery;
      }
    }
    last?.channel.ack(last.message, true);
  }

  /**
   * Sends one event of an envelope to the dead-letter queue alone, as a plain event message
   * (what a re-drive into the work queue expects), naming the envelope it came from. The
   * envelope itself is acked by the caller once all of its events are settled.
   */
  private async deadLetterPart(
    part: Part,
    event: WriteEvent | null,
    reason: DeadLetterReason,
  ): Promise<void> {
    const { message, channel } = part.delivery;
    const envelopeId = String(message.properties.messageId ?? randomUUID());
    const messageId = event?.eventId ?? `${envelopeId}/${part.index}`;
    this.options.logger.warn(
      { reason: reason.code, detail: reason.detail, messageId, envelopeId },
      'dead-lettering an event of an envelope',
    );
    await sendConfirmed(
      channel,
      deadLetterQueueOf(this.options.queue),
      part.content,
      {
        persistent: true,
        contentType: 'application/json',
        messageId,
        type: event?.kind ?? '',
        headers: {
          'x-death-reason': describeDeadLetter(reason),
          'x-original-queue': part.delivery.queue,
          'x-envelope-id': envelopeId,
        },
      },
      DEAD_LETTER_CONFIRM_TIMEOUT_MS,
      this.returned,
    );
    this.options.observer.deadLettered(reason.code);
  }

  private async deadLetter(delivery: Delivery, reason: DeadLetterReason): Promise<void> {
    const { message, channel } = delivery;
    this.options.logger.warn(
      {
        reason: reason.code,
        detail: reason.detail,
        messageId: message.properties.messageId as unknown,
      },
      'dead-lettering message',
    );
    await sendConfirmed(
      channel,
      deadLetterQueueOf(this.options.queue),
      message.content,
      {
        persistent: true,
        contentType: String(message.properties.contentType ?? 'application/octet-stream'),
        messageId: String(message.properties.messageId ?? randomUUID()),
        type: String(message.properties.type ?? ''),
        headers: {
          ...(message.properties.headers ?? {}),
          'x-death-reason': describeDeadLetter(reason),
          'x-original-queue': delivery.queue,
        },
      },
      DEAD_LETTER_CONFIRM_TIMEOUT_MS,
      this.returned,
    );
    channel.ack(message);
    this.options.observer.deadLettered(reason.code);
  }
}

/**
 * A fence or a drain mark counts for the queue it was delivered from, whatever its body says:
 * the consumer knows where it came from.
 */
function located(event: WriteEvent, queue: string): WriteEvent {
  return event.kind === 'numbering.fence' || event.kind === 'queue.drained'
    ? { ...event, queue }
    : event;
}

function isEnvelope(message: ConsumeMessage): boolean {
  return message.properties.contentType === ENVELOPE_CONTENT_TYPE;
}

/** The events a message carries, as its envelope header says; 1 for a plain event message. */
function eventsOf(message: ConsumeMessage): number {
  if (!isEnvelope(message)) return 1;
  const count = (message.properties.headers ?? {})[ENVELOPE_EVENTS_HEADER] as unknown;
  return typeof count === 'number' && Number.isSafeInteger(count) && count > 0 ? count : 1;
}

/** Quorum queues count earlier deliveries in `x-delivery-count`. */
function deliveryCount(message: ConsumeMessage): number {
  const count = (message.properties.headers ?? {})['x-delivery-count'] as unknown;
  return typeof count === 'number' ? count : 0;
}
