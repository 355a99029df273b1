import type { LeaderLock, LockHandle } from '../domain/ports.js';
import type { FlusherMetrics } from '../metrics/registry.js';
import type { Logger } from '../log/logger.js';
import { sleep } from '../runtime/program.js';
import type { FlushResult } from './flush-counters.js';

export interface FlushLoopDeps {
  /** One pass over the dirty sets (CounterFlusher.run). */
  readonly flush: (signal: AbortSignal) => Promise<FlushResult>;
  /** Chooses the leader lock; called again on the next run when choosing it failed. */
  readonly chooseLock: () => Promise<LeaderLock>;
  readonly intervalMs: number;
  readonly metrics: FlusherMetrics;
  readonly logger: Logger;
}

/**
 * The flusher's runs: each takes the leader lock (or skips when another flusher holds it),
 * flushes until done, the lock is lost or shutdown, and releases the lock.
 */
export class FlushLoop {
  private lock: Promise<LeaderLock> | null = null;

  constructor(private readonly deps: FlushLoopDeps) {}

  /** One run; true unless it failed (a skipped run is not a failure). */
  async runOnce(stopping: AbortSignal): Promise<boolean> {
    const { metrics, logger } = this.deps;
    const end = metrics.runDuration.startTimer();
    let handle: LockHandle | null = null;
    try {
      this.lock ??= this.deps.chooseLock();
      handle = await (await this.lock).tryAcquire();
      if (handle === null) {
        metrics.runs.inc({ outcome: 'skipped' });
        logger.info('another flusher holds the lock; skipping this run');
        return true;
      }
      const signal = AbortSignal.any([handle.signal, stopping]);
      const result = await this.deps.flush(signal);
      metrics.runs.inc({ outcome: 'success' });
      metrics.lastSuccess.setToCurrentTime();
      logger.info({ ...result, seconds: end() }, 'flush finished');
      return true;
    } catch (err) {
      // Redis or the API server down: this run fails, the next one tries again.
      if (handle === null) this.lock = null;
      metrics.runs.inc({ outcome: 'failure' });
      logger.error({ err }, 'flush failed');
      return false;
    } finally {
      await handle?.release().catch(() => undefined);
    }
  }

  /** Runs every intervalMs until the signal aborts. */
  async loop(stopping: AbortSignal): Promise<void> {
    while (!stopping.aborted) {
      await this.runOnce(stopping);
      await sleep(this.deps.intervalMs, stopping).catch(() => undefined);
    }
  }
}
