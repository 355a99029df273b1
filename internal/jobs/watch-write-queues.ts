import { randomUUID } from 'node:crypto';
import type { WriteQueueControl, WriteQueueRegistry } from '../domain/ports.js';
import { planQueues, type RegisteredQueue } from '../domain/partitions.js';
import type { Logger } from '../log/logger.js';
import { sleep } from '../runtime/program.js';

export interface WatchWriteQueuesDeps {
  readonly registry: WriteQueueRegistry;
  readonly queues: WriteQueueControl;
  /** RABBITMQ_QUEUE. */
  readonly base: string;
  /** How long after its last heartbeat a set can receive nothing (retiredAfterMs). */
  readonly retiredAfterMs: number;
  readonly intervalMs: number;
  /** A drain mark not persisted yet is sent again after this long (one consumer died with it). */
  readonly markRepeatMs: number;
  readonly now?: () => number;
  /** Ready messages per queue, for the per-partition gauge (null: the queue is gone). */
  readonly onDepth?: (queue: string, depth: number | null) => void;
  readonly logger: Logger;
}

/**
 * The consumer's view of the partition sets (see internal/domain/partitions.ts), every
 * `intervalMs`: consume the base queue and every queue not drained; send a drain mark into a
 * retired queue (no API can send to it any more), whose persistence drains it; leave a
 * drained queue once it holds nothing ready, and take it again if a requeued delivery shows
 * up there. Queues are never deleted: a drained, empty queue may be removed by an operator.
 * Every consumer replica runs it; each step is idempotent.
 */
export class WatchWriteQueues {
  private readonly marked = new Map<string, number>();
  private registered = false;

  constructor(private readonly deps: WatchWriteQueuesDeps) {}

  /** Runs until the signal aborts (shutdown). Never throws. */
  async run(signal: AbortSignal): Promise<void> {
    while (!signal.aborted) {
      await this.step().catch((err: unknown) =>
        this.deps.logger.warn({ err }, 'watching the write queues failed; retrying'),
      );
      await sleep(this.deps.intervalMs, signal).catch(() => undefined);
    }
  }

  /** One look at the registry and the queues. */
  async step(): Promise<void> {
    const { registry, queues, base, logger } = this.deps;
    if (!this.registered) {
      // The base queue is always required by fences, even before an API registered it.
      await registry.heartbeat(base, 1, [base]);
      this.registered = true;
    }
    const registered = await registry.list(base);
    const depths = new Map<string, number | null>();
    for (const queue of [base, ...registered.map((q) => q.name)]) {
      if (depths.has(queue)) continue;
      const depth = await queues.depth(queue);
      depths.set(queue, depth);
      this.deps.onDepth?.(queue, depth);
    }
    const plan = planQueues(
      base,
      registered,
      (name) => depths.get(name) ?? null,
      this.deps.retiredAfterMs,
    );
    await queues.consume(plan.consume);
    for (const queue of plan.mark) await this.mark(queue);
    logger.debug({ consumed: plan.consume, marked: plan.mark.length }, 'write queues checked');
  }

  private async mark(queue: RegisteredQueue): Promise<void> {
    const now = (this.deps.now ?? Date.now)();
    if (now - (this.marked.get(queue.name) ?? -Infinity) < this.deps.markRepeatMs) return;
    this.marked.set(queue.name, now);
    await this.deps.queues.sendMark(queue.name, {
      kind: 'queue.drained',
      eventId: randomUUID(),
      heartbeatAt: queue.heartbeatAt,
    });
    this.deps.logger.info(
      { queue: queue.name, idleMs: queue.idleMs },
      'write queue retired: drain mark sent',
    );
  }
}
