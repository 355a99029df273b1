import type { Channel } from 'amqplib';

/**
 * Writes go to a durable quorum queue; what can never be persisted goes to its dead-letter
 * queue with the reason in the `x-death-reason` header. The broker-side delivery limit is a
 * backstop well above the consumer's own (CONSUMER_MAX_DELIVERIES): a message redelivered
 * that often is dead-lettered by RabbitMQ itself rather than cycling for ever.
 */
export const BROKER_DELIVERY_LIMIT = 50;

export function deadLetterQueueOf(queue: string): string {
  return `${queue}.dead`;
}

export async function assertTopology(channel: Channel, queue: string): Promise<void> {
  const deadLetters = deadLetterQueueOf(queue);
  await channel.assertQueue(deadLetters, {
    durable: true,
    arguments: { 'x-queue-type': 'quorum' },
  });
  await channel.assertQueue(queue, {
    durable: true,
    arguments: {
      'x-queue-type': 'quorum',
      'x-delivery-limit': BROKER_DELIVERY_LIMIT,
      'x-dead-letter-exchange': '',
      'x-dead-letter-routing-key': deadLetters,
    },
  });
}
