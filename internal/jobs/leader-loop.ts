import type { LeaderLock, LockHandle } from '../domain/ports.js';
import { sleep } from '../runtime/program.js';

export interface LeaderLoopOptions {
  /** One replica runs the rounds at a time; the others stand by. */
  readonly lock: LeaderLock;
  /** Pause between rounds, and between attempts to take the lock. */
  readonly intervalMs: number;
  /** Backoff after a failed round: doubles from baseMs up to maxMs. */
  readonly backoff?: { readonly baseMs: number; readonly maxMs: number };
  readonly onFailure: (err: unknown, attempt: number, delayMs: number) => void;
}

/**
 * Runs `round` while this replica holds the lock, until `signal` aborts (shutdown); a failed
 * round is retried with capped backoff. Never throws. `round` gets a signal that also aborts
 * when the hold is lost, and resolves to `true` when more work waits (no pause before the next).
 */
export async function runAsLeader(
  signal: AbortSignal,
  options: LeaderLoopOptions,
  round: (held: AbortSignal) => Promise<unknown>,
): Promise<void> {
  const { baseMs, maxMs } = options.backoff ?? { baseMs: 500, maxMs: 30_000 };
  let failures = 0;
  while (!signal.aborted) {
    let handle: LockHandle | null = null;
    try {
      handle = await options.lock.tryAcquire();
      if (handle !== null) {
        const held = AbortSignal.any([signal, handle.signal]);
        while (!held.aborted) {
          const more = await round(held);
          failures = 0;
          if (more !== true) await pause(options.intervalMs, held);
        }
      }
      if (!signal.aborted) await pause(options.intervalMs, signal);
    } catch (err) {
      if (signal.aborted) break;
      failures += 1;
      const delayMs = Math.min(baseMs * 2 ** (failures - 1), maxMs);
      options.onFailure(err, failures, delayMs);
      await pause(delayMs, signal);
    } finally {
      await handle?.release().catch(() => undefined);
    }
  }
}

export function pause(ms: number, signal: AbortSignal): Promise<void> {
  return sleep(ms, signal).catch(() => undefined);
}

/** What a job run as leader needs: its lock, pace, and where failures are counted and logged. */
export interface LeaderJobDeps {
  readonly lock: LeaderLock;
  readonly intervalMs: number;
  readonly backoff?: { readonly baseMs: number; readonly maxMs: number };
  readonly metrics: { readonly failures: { inc(): void } };
  readonly logger: { warn(details: object, message: string): void };
}

/** runAsLeader for a job: each failed round counted in `metrics.failures` and logged. */
export function runJobAsLeader(
  signal: AbortSignal,
  deps: LeaderJobDeps,
  failed: string,
  round: (held: AbortSignal) => Promise<unknown>,
): Promise<void> {
  return runAsLeader(
    signal,
    {
      lock: deps.lock,
      intervalMs: deps.intervalMs,
      ...(deps.backoff === undefined ? {} : { backoff: deps.backoff }),
      onFailure: (err, attempt, delayMs) => {
        deps.metrics.failures.inc();
        deps.logger.warn({ err, attempt, delayMs }, failed);
      },
    },
    round,
  );
}
