import { EventEmitter } from 'node:events';
import type { ChannelModel } from 'amqplib';

/**
 * In-memory stand-ins for amqplib's ChannelModel and ConfirmChannel, just wide enough for the
 * publisher and the connection. They mirror what our code relies on in amqplib:
 * - sendToQueue returns false when the channel's write buffer is full, and the channel emits
 *   'drain' when it empties; sendToQueue throws once the channel is closed;
 * - a nack calls the confirm callback with Error('message nacked'); closing a channel calls
 *   every unconfirmed callback with Error('channel closed') before any other 'close' listener;
 * - a mandatory, unroutable message gets a 'return' just before its ack;
 * - closing the connection closes its channels, then emits 'close'.
 * For the consumer: `deliver` hands a message to the consume callback, and ack, nack and
 * reject are recorded in `settlements`; with `autoConfirm`, every send is acked at once (the
 * dead-letter queue's confirms).
 */

type ConfirmCallback = (err: Error | null) => void;

export interface SentMessage {
  readonly queue: string;
  readonly content: Buffer;
  readonly options: { readonly messageId?: string } & Record<string, unknown>;
  /** Date.now() when it was written. */
  readonly at: number;
  confirmed: boolean;
  readonly callback: ConfirmCallback;
}

/** A delivered message, as amqplib's ConsumeMessage, as far as the consumer reads it. */
export interface FakeDelivery {
  readonly content: Buffer;
  readonly fields: { readonly deliveryTag: number; readonly redelivered: boolean };
  readonly properties: {
    readonly contentType?: string;
    readonly messageId?: string;
    readonly type?: string;
    readonly headers?: Record<string, unknown>;
  };
}

export interface Settlement {
  readonly kind: 'ack' | 'nack' | 'reject';
  readonly deliveryTag: number;
  /** ack and nack: every outstanding tag up to this one. */
  readonly allUpTo: boolean;
  readonly requeue: boolean;
}

export class FakeChannel extends EventEmitter {
  closed = false;
  autoConfirm = false;
  readonly settlements: Settlement[] = [];
  private onMessage: ((message: FakeDelivery | null) => void) | null = null;
  /** Consume callbacks by queue (a channel may consume several queues); see deliverTo. */
  readonly consumers = new Map<string, (message: FakeDelivery | null) => void>();
  /** Queues declared on this channel, in order, with their arguments. */
  readonly declared: { queue: string; arguments: Record<string, unknown> }[] = [];
  private nextTag = 1;
  /** What the next sendToQueue returns: false = the write buffer is full. */
  writable = true;
  readonly sent: SentMessage[] = [];
  /**
   * Runs inside every declare, with the queue's name; a test can close things here, as when
   * the close arrives in the same read as the declare-ok (the reply still resolves).
   */
  onDeclare: ((queue: string) => void) | null = null;

  constructor() {
    super();
    this.on('close', () => {
      for (const message of this.sent) {
        if (!message.confirmed) {
          message.confirmed = true;
          message.callback(new Error('channel closed'));
        }
      }
    });
  }

  assertQueue(
    queue: string,
    options: { arguments?: Record<string, unknown> } = {},
  ): Promise<{ queue: string; messageCount: 0; consumerCount: 0 }> {
    if (this.closed) return Promise.reject(new Error('Channel closed'));
    this.declared.push({ queue, arguments: options.arguments ?? {} });
    const reply = Promise.resolve({ queue, messageCount: 0 as const, consumerCount: 0 as const });
    this.onDeclare?.(queue);
    return reply;
  }

  /** Like a declare, `onDeclare` runs inside prefetch ('prefetch') and consume ('consume:q'). */
  prefetch(): Promise<void> {
    if (this.closed) return Promise.reject(new Error('Channel closed'));
    const reply = Promise.resolve();
    this.onDeclare?.('prefetch');
    return reply;
  }

  consume(
    queue: string,
    onMessage?: (message: FakeDelivery | null) => void,
  ): Promise<{ consumerTag: string }> {
    if (this.closed) return Promise.reject(new Error('Channel closed'));
    this.onMessage = onMessage ?? null;
    if (onMessage !== undefined) this.consumers.set(queue, onMessage);
    const reply = Promise.resolve({ consumerTag: `ctag-${queue}` });
    this.onDeclare?.(`consume:${queue}`);
    return reply;
  }

  sendToQueue(
    queue: string,
    content: Buffer,
    options: SentMessage['options'],
    callback: ConfirmCallback,
  ): boolean {
    if (this.closed) throw new Error('Channel closed');
    const message = { queue, content, options, at: Date.now(), confirmed: false, callback };
    this.sent.push(message);
    if (this.autoConfirm) {
      queueMicrotask(() => {
        if (message.confirmed) return;
        message.confirmed = true;
        callback(null);
      });
    }
    return this.writable;
  }

  /** Stops the consumer with this tag (`ctag-<queue>`). */
  cancel(consumerTag: string): Promise<void> {
    if (this.closed) return Promise.reject(new Error('Channel closed'));
    this.consumers.delete(consumerTag.replace(/^ctag-/, ''));
    return Promise.resolve();
  }

  /** Hands a message to the consumer of `queue`; returns its delivery tag. */
  deliverTo(queue: string, content: Buffer, properties: FakeDelivery['properties'] = {}): number {
    const onMessage = this.consumers.get(queue);
    if (onMessage === undefined) throw new Error(`nothing consumes ${queue}`);
    const deliveryTag = this.nextTag;
    this.nextTag += 1;
    onMessage({ content, fields: { deliveryTag, redelivered: false }, properties });
    return deliveryTag;
  }

  /** Hands a message to the consumer, as the broker would; returns its delivery tag. */
  deliver(
    content: Buffer,
    properties: FakeDelivery['properties'] = {},
    redelivered = false,
  ): number {
    if (this.onMessage === null) throw new Error('nothing consumes');
    const deliveryTag = this.nextTag;
    this.nextTag += 1;
    this.onMessage({ content, fields: { deliveryTag, redelivered }, properties });
    return deliveryTag;
  }

  ack(message: FakeDelivery, allUpTo = false): void {
    this.settlements.push({
      kind: 'ack',
      deliveryTag: message.fields.deliveryTag,
      allUpTo,
      requeue: false,
    });
  }

  nack(message: FakeDelivery, allUpTo = false, requeue = true): void {
    this.settlements.push({
      kind: 'nack',
      deliveryTag: message.fields.deliveryTag,
      allUpTo,
      requeue,
    });
  }

  reject(message: FakeDelivery, requeue = true): void {
    this.settlements.push({
      kind: 'reject',
      deliveryTag: message.fields.deliveryTag,
      allUpTo: false,
      requeue,
    });
  }

  /** Settles the oldest unconfirmed message the way the broker would. */
  confirm(outcome: 'ack' | 'nack' | 'return' = 'ack'): SentMessage {
    const message = this.sent.find((m) => !m.confirmed);
    if (message === undefined) throw new Error('nothing to confirm');
    message.confirmed = true;
    if (outcome === 'return') this.emit('return', { properties: { ...message.options } });
    message.callback(outcome === 'nack' ? new Error('message nacked') : null);
    return message;
  }

  drain(): void {
    this.writable = true;
    this.emit('drain');
  }

  close(): Promise<void> {
    if (!this.closed) {
      this.closed = true;
      this.emit('close');
    }
    return Promise.resolve();
  }
}

export class FakeConnection extends EventEmitter {
  closed = false;
  readonly channels: FakeChannel[] = [];
  /** Called with each new channel before it is handed out. */
  onChannel: ((channel: FakeChannel) => void) | null = null;

  createConfirmChannel(): Promise<FakeChannel> {
    if (this.closed) return Promise.reject(new Error('Connection closed'));
    const channel = new FakeChannel();
    this.channels.push(channel);
    this.onChannel?.(channel);
    return Promise.resolve(channel);
  }

  close(): Promise<void> {
    if (this.closed) return Promise.reject(new Error('Connection closed'));
    this.closed = true;
    for (const channel of this.channels) void channel.close();
    this.emit('close');
    return Promise.resolve();
  }

  block(reason = 'low on memory'): void {
    this.emit('blocked', reason);
  }

  unblock(): void {
    this.emit('unblocked');
  }

  get model(): ChannelModel {
    return this as unknown as ChannelModel;
  }

  /** The channel most recently created. */
  get channel(): FakeChannel {
    const channel = this.channels.at(-1);
    if (channel === undefined) throw new Error('no channel yet');
    return channel;
  }
}
