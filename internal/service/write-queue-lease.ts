import type { WriteQueueRegistry } from '../domain/ports.js';
import type { LeaseTimes, PartitionSet } from '../domain/partitions.js';
import type { Logger } from '../log/logger.js';

export interface WriteQueueLeaseDeps {
  readonly registry: WriteQueueRegistry;
  readonly base: string;
  readonly set: PartitionSet;
  readonly lease: LeaseTimes;
  /** A monotonic clock in milliseconds. */
  readonly now: () => number;
  readonly sleep: (ms: number, signal: AbortSignal) => Promise<void>;
  readonly logger: Logger;
}

/**
 * The API's hold on its partition set: registered in MySQL before its first send, renewed
 * every `heartbeatMs`. Creates are sent only while the last renewal, timed from before its
 * statement was sent, is younger than `leaseMs`: so once the registry's heartbeat is older
 * than leaseMs + CREATE_DEADLINE_MS (+ a margin), no API can still send to the set, and
 * consumers may drain and leave it. The base queue (N = 1) is never retired, so its lease
 * never lapses (only its registration is renewed).
 */
export class WriteQueueLease {
  private renewedAt: number | null = null;

  constructor(private readonly deps: WriteQueueLeaseDeps) {}

  valid(): boolean {
    if (this.deps.set.partitions === 1) return true;
    return this.renewedAt !== null && this.deps.now() - this.renewedAt < this.deps.lease.leaseMs;
  }

  /** One renewal; false when it failed (the lease runs on until it lapses). */
  async renew(): Promise<boolean> {
    const started = this.deps.now();
    try {
      await this.deps.registry.heartbeat(
        this.deps.base,
        this.deps.set.partitions,
        this.deps.set.queues,
      );
      this.renewedAt = started;
      return true;
    } catch (err) {
      this.deps.logger.warn({ err }, 'renewing the write queues lease failed');
      return false;
    }
  }

  /** Renews until the signal aborts; never throws. */
  async run(signal: AbortSignal): Promise<void> {
    while (!signal.aborted) {
      const ok = await this.renew();
      // Retry sooner after a failure, while the lease still runs.
      const wait = ok ? this.deps.lease.heartbeatMs : Math.min(1_000, this.deps.lease.heartbeatMs);
      await this.deps.sleep(wait, signal).catch(() => undefined);
    }
  }
}
