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
