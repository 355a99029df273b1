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

/**
 * Declares a write queue and its dead-letter queue. Partitions (RABBITMQ_WRITE_PARTITIONS)
 * share the base queue's dead-letter queue: dead letters are rare and read by an operator, who
 * gets one place to look and to re-drive from (a re-drive publishes into the current set by
 * the same hash); a dead-letter queue per partition would multiply the queues to watch and
 * outlive the partitions it belongs to, which are retired when N changes. `x-original-queue`
 * still names the partition. The base queue's arguments are unchanged, so existing queues
 * are declared as before.
 *
 * No `x-quorum-initial-group-size`: the broker's default (`quorum_cluster_size`, 3) gives
 * every queue 3 replicas on a cluster of 3 nodes or more and one on a single node, and an
 * argument here would make a redeclaration differ from queues declared before.
 */
export async function assertTopology(
  channel: Channel,
  queue: string,
  base: string = queue,
): Promise<void> {
  const deadLetters = deadLetterQueueOf(base);
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
