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
