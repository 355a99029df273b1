import type { WriteQueueControl, WriteQueueRegistry } from '../../../internal/domain/ports.js';
import type { QueueDrained } from '../../../internal/domain/model.js';
import type { RegisteredQueue } from '../../../internal/domain/partitions.js';

interface Row {
  base: string;
  partitions: number;
  heartbeatAt: number;
  drained: boolean;
}

/** The registry of write queues in memory, on a clock the test moves. */
export class FakeWriteQueueRegistry implements WriteQueueRegistry {
  readonly rows = new Map<string, Row>();
  now = 0;
  /** When set, heartbeat rejects with it. */
  failWith: Error | null = null;
  heartbeats = 0;

  heartbeat(base: string, partitions: number, queues: readonly string[]): Promise<void> {
    if (this.failWith !== null) return Promise.reject(this.failWith);
    this.heartbeats += 1;
    for (const name of queues) {
      this.rows.set(name, { base, partitions, heartbeatAt: this.now, drained: false });
    }
    return Promise.resolve();
  }

  list(base: string): Promise<RegisteredQueue[]> {
    return Promise.resolve(
      [...this.rows]
        .filter(([, row]) => row.base === base)
        .map(([name, row]) => ({
          name,
          partitions: row.partitions,
          idleMs: this.now - row.heartbeatAt,
          heartbeatAt: String(row.heartbeatAt),
          drained: row.drained,
        })),
    );
  }

  /** What persisting a drain mark does (see write-batch.ts). */
  drain(name: string, heartbeatAt: string): void {
    const row = this.rows.get(name);
    if (row !== undefined && row.partitions > 1 && String(row.heartbeatAt) === heartbeatAt) {
      row.drained = true;
    }
  }
}

/** The broker side of the consumer's watch: queue depths, what is consumed, marks sent. */
export class FakeWriteQueueControl implements WriteQueueControl {
  readonly depths = new Map<string, number>();
  consumed: readonly string[] = [];
  readonly marks: { queue: string; mark: QueueDrained }[] = [];

  depth(queue: string): Promise<number | null> {
    return Promise.resolve(this.depths.get(queue) ?? null);
  }

  consume(queues: readonly string[]): Promise<void> {
    this.consumed = [...queues].sort();
    return Promise.resolve();
  }

  sendMark(queue: string, mark: QueueDrained): Promise<void> {
    this.marks.push({ queue, mark });
    return Promise.resolve();
  }
}
