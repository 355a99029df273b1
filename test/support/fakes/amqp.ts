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

export class FakeChannel extends EventEmitter {
  closed = false;
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

  assertQueue(queue: string): Promise<{ queue: string; messageCount: 0; consumerCount: 0 }> {
    if (this.closed) return Promise.reject(new Error('Channel closed'));
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

  consume(queue: string): Promise<{ consumerTag: string }> {
    if (this.closed) return Promise.reject(new Error('Channel closed'));
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
    this.sent.push({ queue, content, options, at: Date.now(), confirmed: false, callback });
    return this.writable;
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
