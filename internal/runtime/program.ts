import type { Logger } from '../log/logger.js';

/** What every composition root returns. */
export interface Program {
  start(): Promise<void>;
  /** Drains and closes everything it opened, in reverse order. */
  stop(): Promise<void>;
}

/**
 * Runs a program until SIGTERM or SIGINT, then stops it within `timeoutMs`. A second signal
 * or the timeout forces the exit, so a stuck dependency never keeps a pod terminating.
 */
export async function runUntilSignal(
  program: Program,
  logger: Logger,
  timeoutMs: number,
): Promise<void> {
  let stopping = false;
  const shutdown = (signal: string) => {
    if (stopping) {
      logger.warn({ signal }, 'second signal: exiting now');
      process.exit(1);
    }
    stopping = true;
    logger.info({ signal, timeoutMs }, 'shutting down');
    const timer = setTimeout(() => {
      logger.error('shutdown timed out: exiting');
      process.exit(1);
    }, timeoutMs);
    timer.unref();
    program.stop().then(
      () => {
        logger.info('stopped');
        process.exit(0);
      },
      (err: unknown) => {
        logger.error({ err }, 'shutdown failed');
        process.exit(1);
      },
    );
  };
  process.once('SIGTERM', () => shutdown('SIGTERM'));
  process.once('SIGINT', () => shutdown('SIGINT'));
  try {
    await program.start();
  } catch (err) {
    logger.fatal({ err }, 'start-up failed');
    await program.stop().catch(() => undefined);
    process.exit(1);
  }
}

/** Sleeps, or wakes early with an AbortError when the signal aborts. */
export function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal?.aborted) return reject(signal.reason as Error);
    const timer = setTimeout(() => {
      signal?.removeEventListener('abort', onAbort);
      resolve();
    }, ms);
    const onAbort = () => {
      clearTimeout(timer);
      reject(signal?.reason as Error);
    };
    signal?.addEventListener('abort', onAbort, { once: true });
  });
}

/**
 * The part of SHUTDOWN_TIMEOUT_MS a program's stop() may use: runUntilSignal exits 1 at the
 * full timeout, so stop() keeps a margin (a tenth, at most 1 s) to finish first and exit 0.
 */
export function stopBudgetMs(shutdownTimeoutMs: number): number {
  return shutdownTimeoutMs - Math.min(1_000, shutdownTimeoutMs / 10);
}

/**
 * A shutdown's clock: each step waits for its work at most until the deadline, so stop()
 * settles in time even when a dependency hangs (the process exits right after, so the
 * abandoned work goes with it). Errors of the work still surface.
 */
export class Deadline {
  private readonly end: number;

  constructor(budgetMs: number) {
    this.end = Date.now() + budgetMs;
  }

  remaining(): number {
    return Math.max(0, this.end - Date.now());
  }

  /** Resolves with true when `work` settled in time, false when the deadline came first. */
  async within(work: Promise<unknown>): Promise<boolean> {
    let timer: NodeJS.Timeout | undefined;
    const late = new Promise<false>((resolve) => {
      timer = setTimeout(() => resolve(false), this.remaining());
    });
    try {
      return await Promise.race([work.then(() => true as const), late]);
    } finally {
      clearTimeout(timer);
    }
  }
}
