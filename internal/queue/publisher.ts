import type { ChannelModel, ConfirmChannel } from 'amqplib';
import type { WriteEvent } from '../domain/model.js';
import type { PublishDeadline, WritePublisher } from '../domain/ports.js';
import { ServiceUnavailableError } from '../domain/errors.js';
import { encodeWriteEvent } from '../domain/events.js';
import { assertTopology } from './topology.js';
import { sendConfirmed, trackReturns } from './confirm.js';

export interface PublisherObserver {
  confirmed(seconds: number): void;
  failed(): void;
}

/**
 * Publishes persistent, mandatory messages on one confirm channel and resolves only when the
 * broker confirms them. No channel, a nack, a return, a closed channel or a slow confirm are
 * all a 503.
 */
export class ConfirmPublisher implements WritePublisher {
  private channel: { channel: ConfirmChannel; returned: ReadonlySet<string> } | null = null;

  constructor(
    private readonly queue: string,
    private readonly observer: PublisherObserver,
    private readonly confirmTimeoutMs = 5_000,
  ) {}

  get ready(): boolean {
    return this.channel !== null;
  }

  get accepting(): boolean {
    return this.channel !== null;
  }

  /** Wire as the connection's onConnect. */
  readonly attach = async (connection: ChannelModel): Promise<void> => {
    const channel = await connection.createConfirmChannel();
    channel.on('error', () => undefined);
    channel.on('close', () => {
      if (this.channel?.channel !== channel) return;
      this.channel = null;
      // A channel the broker closed under a live connection: reconnecting recreates it.
      void connection.close().catch(() => undefined);
    });
    const returned = trackReturns(channel);
    await assertTopology(channel, this.queue);
    this.channel = { channel, returned };
  };

  readonly detach = (): void => {
    this.channel = null;
  };

  async publish(event: WriteEvent, _deadline: PublishDeadline): Promise<void> {
    const current = this.channel;
    if (current === null) throw new ServiceUnavailableError('The message broker');
    const started = process.hrtime.bigint();
    try {
      await sendConfirmed(
        current.channel,
        this.queue,
        encodeWriteEvent(event),
        {
          persistent: true,
          contentType: 'application/json',
          messageId: event.eventId,
          type: event.kind,
          timestamp: Math.floor(Date.now() / 1000),
        },
        this.confirmTimeoutMs,
        current.returned,
      );
    } catch (err) {
      this.observer.failed();
      throw new ServiceUnavailableError('The message broker', 2, err);
    }
    this.observer.confirmed(Number(process.hrtime.bigint() - started) / 1e9);
  }
}
