import { sleep } from '../runtime/program.js';

export interface RetryOptions {
  readonly signal: AbortSignal;
  readonly isTransient: (err: unknown) => boolean;
  readonly onRetry: (err: unknown, attempt: number, delayMs: number) => void;
  readonly baseMs?: number;
  readonly maxMs?: number;
}

/**
 * Retries transient failures with capped exponential backoff until it succeeds, a
 * non-transient error is thrown, or the signal aborts (shutdown): then it rethrows.
 */
export async function retryTransient<T>(work: () => Promise<T>, options: RetryOptions): Promise<T> {
  const base = options.baseMs ?? 100;
  const max = options.maxMs ?? 5_000;
  for (let attempt = 1; ; attempt += 1) {
    try {
      return await work();
    } catch (err) {
      if (!options.isTransient(err) || options.signal.aborted) throw err;
      const delay = Math.min(base * 2 ** (attempt - 1), max);
      options.onRetry(err, attempt, delay);
      await sleep(delay, options.signal);
    }
  }
}
