import type { WriteEvent } from './model.js';

/**
 * Partitioned write queues (RABBITMQ_WRITE_PARTITIONS). Creates are spread over N quorum
 * queues so that their Raft leaders, and the broker CPU each one costs, spread over the
 * broker's nodes. A create goes to the partition of its (application, chat): a chat's own
 * create uses its own number, so a chat's create and its messages share one queue and keep
 * their order.
 *
 * Each N is a *set* of queues with names of its own, so a rolling change of N never mixes
 * two hashings in one queue. N = 1 is the base queue (RABBITMQ_QUEUE) itself: deployments
 * without partitions are unchanged, and so is every version before partitions.
 *
 * Sets other than the base are registered in MySQL (`write_queues`) before any API sends to
 * them, and kept alive by a heartbeat while an API sends to them: see WRITE_QUEUE_LEASE.
 */
export interface PartitionSet {
  readonly partitions: number;
  /** Queue names, partition 0 first. */
  readonly queues: readonly string[];
}

export function partitionSet(base: string, partitions: number): PartitionSet {
  if (!Number.isSafeInteger(partitions) || partitions < 1) {
    throw new Error(`partitions must be a positive integer, got ${partitions}`);
  }
  const queues =
    partitions === 1
      ? [base]
      : Array.from({ length: partitions }, (_, i) => `${base}.p${i}-of-${partitions}`);
  return { partitions, queues };
}

/**
 * The partition of a chat: FNV-1a (32 bits) of "token:chat", modulo N. Stable across
 * processes, versions and platforms: every API replica on the same N agrees.
 */
export function partitionOf(token: string, chat: number, partitions: number): number {
  if (partitions === 1) return 0;
  let hash = 0x811c9dc5;
  const key = `${token}:${chat}`;
  for (let i = 0; i < key.length; i += 1) {
    hash ^= key.charCodeAt(i);
    hash = Math.imul(hash, 0x01000193) >>> 0;
  }
  return hash % partitions;
}

/** The queue a create goes to; null for a mark (a fence goes to every queue). */
export function queueOfEvent(event: WriteEvent, set: PartitionSet): string | null {
  if (event.kind !== 'chat.created' && event.kind !== 'message.created') return null;
  return set.queues[partitionOf(event.applicationToken, event.chatNumber, set.partitions)]!;
}

/**
 * How an API holds on to its set: it renews the set's heartbeat in the registry every
 * `heartbeatMs`, and sends to it only while its last renewal, timed from before the
 * statement was sent, is younger than `leaseMs`. A set whose heartbeat is older than
 * `leaseMs + CREATE_DEADLINE_MS + marginMs` (by the database's clock) can receive nothing
 * any more: every send accepted under a lease goes out before its create's deadline.
 * The base queue is never retired: every version may send there.
 */
export const WRITE_QUEUE_LEASE = {
  heartbeatMs: 5_000,
  leaseMs: 20_000,
  marginMs: 5_000,
} as const;

export interface LeaseTimes {
  readonly heartbeatMs: number;
  readonly leaseMs: number;
  readonly marginMs: number;
}

/** How long after its last heartbeat a set can no longer receive anything. */
export function retiredAfterMs(lease: LeaseTimes, createDeadlineMs: number): number {
  return lease.leaseMs + createDeadlineMs + lease.marginMs;
}

/** One queue as the registry holds it. */
export interface RegisteredQueue {
  readonly name: string;
  readonly partitions: number;
  /** Milliseconds since its last heartbeat, by the database's clock. */
  readonly idleMs: number;
  /** The heartbeat as stored (ISO 8601, UTC), what a drain mark carries. */
  readonly heartbeatAt: string;
  /** A drain mark was persisted from it after its last heartbeat. */
  readonly drained: boolean;
}

/** What a consumer does with each queue it knows, from the registry and the queues' depths. */
export interface QueuePlan {
  /** Queues to consume. */
  readonly consume: readonly string[];
  /** Retired queues not drained yet: send them a drain mark. */
  readonly mark: readonly RegisteredQueue[];
}

/**
 * Which queues a consumer takes: the base queue always; every queue not drained yet; and a
 * drained one while it still holds ready messages (a delivery requeued after its drain mark
 * passed: nothing is ever left behind). `depth` is null for a queue that no longer exists.
 */
export function planQueues(
  base: string,
  registered: readonly RegisteredQueue[],
  depth: (name: string) => number | null,
  retiredAfter: number,
): QueuePlan {
  const consume = new Set<string>([base]);
  const mark: RegisteredQueue[] = [];
  for (const queue of registered) {
    if (queue.name === base || queue.partitions === 1) continue;
    if (!queue.drained) {
      consume.add(queue.name);
      if (queue.idleMs > retiredAfter) mark.push(queue);
    } else if ((depth(queue.name) ?? 0) > 0) {
      consume.add(queue.name);
    }
  }
  return { consume: [...consume], mark };
}
