import { randomUUID } from 'node:crypto';
import type { Channel, ChannelModel, ConfirmChannel, ConsumeMessage } from 'amqplib';
import type { WriteEvent } from '../domain/model.js';
import {
  describeDeadLetter,
  type DeadLetterCode,
  type DeadLetterReason,
} from '../domain/dead-letter.js';
import { PoisonMessageError, decodeWriteEvent } from '../domain/events.js';
import type { BatchHandler } from '../domain/ports.js';
import type { Logger } from '../log/logger.js';
import { assertTopology, deadLetterQueueOf } from './topology.js';
import { sendConfirmed, trackReturns } from './confirm.js';

export interface ConsumerObserver {
  batch(size: number, seconds: number): void;
  redelivered(): void;
  deadLettered(code: DeadLetterCode): void;
}

export interface WriteConsumerOptions {
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
 */
export class WriteConsumer {
  private channel: ConfirmChannel | null = null;
  /** A plain channel for queue checks: a failed check closes it, not the consuming one. */
  private monitor: Channel | null = null;
  private connection: ChannelModel | null = null;
  private consumerTag: string | null = null;
  private buffer: Delivery[] = [];
  private timer: NodeJS.Timeout | null = null;
  private running: Promise<void> | null = null;
  private stopping = false;
  private returned: ReadonlySet<string> = new Set();

  constructor(private readonly options: WriteConsumerOptions) {}

  get consuming(): boolean {
    return this.channel !== null && this.consumerTag !== null;
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
    if (this.stopping) return;
    const { consumerTag } = await channel.consume(this.options.queue, (message) => {
      if (message !== null) this.enqueue({ message, channel });
    });
    if (closed) throw new Error('channel closed while starting to consume');
    this.consumerTag = consumerTag;
  };

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
    const { messageCount } = await this.monitor.checkQueue(deadLetterQueueOf(this.options.queue));
    return messageCount;
  }

  /** Stops taking deliveries and finishes what was already received. */
  async stop(): Promise<void> {
    this.stopping = true;
    const { channel, consumerTag } = this;
    if (channel !== null && consumerTag !== null) {
      this.consumerTag = null;
      await channel.cancel(consumerTag).catch(() => undefined);
    }
    this.kick();
    await this.running;
  }

  private forget(channel: ConfirmChannel): void {
    if (this.channel === channel) {
      this.channel = null;
      this.consumerTag = null;
    }
    this.buffer = this.buffer.filter((d) => d.channel !== channel);
  }

  private enqueue(delivery: Delivery): void {
    this.buffer.push(delivery);
    if (this.buffer.length >= this.options.batchSize) this.kick();
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
      this.options.observer.batch(batch.length, Number(process.hrtime.bigint() - started) / 1e9);
    }
  }

  /** How many buffered deliveries the next batch takes: by count, and by bytes. */
  private batchLength(): number {
    let bytes = 0;
    const limit = Math.min(this.buffer.length, this.options.batchSize);
    for (let i = 0; i < limit; i += 1) {
      bytes += this.buffer[i]?.message.content.length ?? 0;
      if (bytes > this.options.batchMaxBytes) return Math.max(i, 1);
    }
    return limit;
  }

  private async process(batch: readonly Delivery[], settled: Set<Delivery>): Promise<void> {
    const decoded: { delivery: Delivery; event: WriteEvent }[] = [];
    for (const delivery of batch) {
      if (delivery.message.fields.redelivered) this.options.observer.redelivered();
      try {
        decoded.push({ delivery, event: decodeWriteEvent(delivery.message.content) });
      } catch (err) {
        if (!(err instanceof PoisonMessageError)) throw err;
        await this.deadLetter(delivery, { code: 'poison', detail: err.reason });
        settled.add(delivery);
      }
    }
    if (decoded.length > 0) {
      const byEvent = new Map(decoded.map((d) => [d.event, d.delivery]));
      const outcome = await this.options.handler.handle(decoded.map((d) => d.event));
      for (const { event, reason } of outcome.deadLetter) {
        const delivery = byEvent.get(event);
        if (delivery === undefined) continue;
        await this.deadLetter(delivery, reason);
        settled.add(delivery);
      }
      for (const { event, reason } of outcome.retry) {
        const delivery = byEvent.get(event);
        if (delivery === undefined) continue;
        if (deliveryCount(delivery.message) + 1 >= this.options.maxDeliveries) {
          await this.deadLetter(delivery, {
            code: 'max_deliveries',
            detail: `failed ${this.options.maxDeliveries} deliveries: ${reason}`,
          });
        } else {
          delivery.channel.reject(delivery.message, true);
        }
        settled.add(delivery);
      }
    }
    this.ackRest(batch, settled);
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
          'x-original-queue': this.options.queue,
        },
      },
      DEAD_LETTER_CONFIRM_TIMEOUT_MS,
      this.returned,
    );
    channel.ack(message);
    this.options.observer.deadLettered(reason.code);
  }
}

/** Quorum queues count earlier deliveries in `x-delivery-count`. */
function deliveryCount(message: ConsumeMessage): number {
  const count = (message.properties.headers ?? {})['x-delivery-count'] as unknown;
  return typeof count === 'number' ? count : 0;
}
