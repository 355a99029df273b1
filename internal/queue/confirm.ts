import type { ConfirmChannel, Options } from 'amqplib';

export class UnroutableError extends Error {
  constructor(queue: string) {
    super(`the broker could not route the message to ${queue}`);
    this.name = 'UnroutableError';
  }
}

/**
 * Sends to a queue and resolves on the broker's confirm. `mandatory` makes a message that no
 * queue takes come back (basic.return, before the confirm) instead of vanishing, so a
 * confirm alone is never mistaken for durability. Rejects on nack, on a closed channel,
 * on a return, and after `timeoutMs`.
 */
export function sendConfirmed(
  channel: ConfirmChannel,
  queue: string,
  content: Buffer,
  options: Options.Publish & { messageId: string },
  timeoutMs: number,
  returned: ReadonlySet<string>,
): Promise<void> {
  return new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error('publisher confirm timed out')), timeoutMs);
    channel.sendToQueue(queue, content, { ...options, mandatory: true }, (err: unknown) => {
      clearTimeout(timer);
      if (err) reject(err instanceof Error ? err : new Error('publish nacked'));
      else if (returned.has(options.messageId)) reject(new UnroutableError(queue));
      else resolve();
    });
  });
}

/** Tracks basic.return on a channel by message id, for sendConfirmed. */
export function trackReturns(channel: ConfirmChannel): Set<string> {
  const returned = new Set<string>();
  channel.on('return', (message: { properties: { messageId?: unknown } }) => {
    const id = message.properties.messageId;
    if (typeof id === 'string') {
      returned.add(id);
      // The confirm follows the return at once; forget it afterwards.
      setTimeout(() => returned.delete(id), 60_000).unref();
    }
  });
  return returned;
}

/**
 * What became of one send on a confirm channel. `ack`: the broker enqueued it. `nack` and
 * `returned` (mandatory and unroutable): it did not. `lost`: the channel closed before the
 * confirm, so it may or may not have been enqueued.
 */
export type SendOutcome = 'ack' | 'nack' | 'returned' | 'lost';

/** amqplib's error for a basic.nack; every other confirm error means the channel is gone. */
const NACKED = 'message nacked';

export interface ConfirmLinkEvents {
  /** The channel's write buffer emptied after a send that found it full. */
  readonly drain: () => void;
  /** The channel (or its connection) closed; unconfirmed sends are already `lost`. */
  readonly close: () => void;
}

/**
 * One confirm channel's bookkeeping for the publisher: whether it is open and writable, and
 * each send's outcome, telling a return (unroutable) apart from an ack by message id. The
 * broker sends a message's basic.return just before its ack, so a count per id is enough.
 */
export class ConfirmLink {
  private closed = false;
  private full = false;
  private readonly returns = new Map<string, number>();

  constructor(
    readonly channel: ConfirmChannel,
    events: ConfirmLinkEvents,
  ) {
    channel.on('return', (message: { properties: { messageId?: unknown } }) => {
      const id = message.properties.messageId;
      if (typeof id === 'string') this.returns.set(id, (this.returns.get(id) ?? 0) + 1);
    });
    channel.on('drain', () => {
      this.full = false;
      events.drain();
    });
    channel.on('close', () => {
      this.closed = true;
      events.close();
    });
  }

  get open(): boolean {
    return !this.closed;
  }

  /** False once a send found the write buffer full, until it drains. */
  get writable(): boolean {
    return !this.closed && !this.full;
  }

  /**
   * Writes one persistent, mandatory message and returns its outcome. Throws (having sent
   * nothing) when the channel is already closed.
   */
  send(
    queue: string,
    content: Buffer,
    options: Options.Publish & { messageId: string },
  ): Promise<SendOutcome> {
    const { messageId } = options;
    let settle: (outcome: SendOutcome) => void = () => undefined;
    const outcome = new Promise<SendOutcome>((resolve) => (settle = resolve));
    const written = this.channel.sendToQueue(
      queue,
      content,
      { ...options, persistent: true, mandatory: true },
      (err: unknown) => {
        if (err === null || err === undefined) {
          const returned = this.returns.get(messageId) ?? 0;
          if (returned === 0) return settle('ack');
          if (returned === 1) this.returns.delete(messageId);
          else this.returns.set(messageId, returned - 1);
          return settle('returned');
        }
        // Anything but a nack (amqplib's "channel closed", or an error we do not know) may
        // have been enqueued: only a nack is proof that it was not.
        settle(err instanceof Error && err.message === NACKED ? 'nack' : 'lost');
      },
    );
    if (!written) this.full = true;
    return outcome;
  }
}
