import { setTimeout as sleep } from 'node:timers/promises';

/** One look at the condition being waited for. */
export type PollOutcome<T> =
  | { readonly done: true; readonly value: T }
  | { readonly done: false; readonly reason: string; readonly fatal?: boolean };

export interface PollOptions {
  /** What is being waited for, for error messages ("deployments ready"). */
  readonly description: string;
  readonly timeoutMs: number;
  readonly intervalMs: number;
  readonly signal?: AbortSignal;
  /** Called with the reason each time the condition is not met yet. */
  readonly onWait?: (reason: string) => void;
}

export class PollTimeoutError extends Error {
  constructor(
    readonly description: string,
    readonly lastReason: string,
    readonly timeoutMs: number,
  ) {
    super(`timed out after ${timeoutMs / 1000}s waiting for ${description}: ${lastReason}`);
    this.name = 'PollTimeoutError';
  }
}

export class PollFailedError extends Error {
  constructor(
    readonly description: string,
    readonly reason: string,
  ) {
    super(`gave up waiting for ${description}: ${reason}`);
    this.name = 'PollFailedError';
  }
}

/**
 * Calls `check` until it reports done, then resolves to its value. An exception thrown by
 * `check` counts as "not yet" (the reason is its message: networks and rollouts are flaky); a
 * `fatal` outcome stops at once with PollFailedError; the deadline ends with PollTimeoutError
 * naming the last reason seen.
 */
export async function pollUntil<T>(
  check: () => Promise<PollOutcome<T>>,
  options: PollOptions,
): Promise<T> {
  const deadline = Date.now() + options.timeoutMs;
  let lastReason = 'not checked yet';
  for (;;) {
    options.signal?.throwIfAborted();
    let outcome: PollOutcome<T>;
    try {
      outcome = await check();
    } catch (error) {
      outcome = { done: false, reason: error instanceof Error ? error.message : String(error) };
    }
    if (outcome.done) return outcome.value;
    if (outcome.fatal === true) throw new PollFailedError(options.description, outcome.reason);
    if (outcome.reason !== lastReason) options.onWait?.(outcome.reason);
    lastReason = outcome.reason;
    const remaining = deadline - Date.now();
    if (remaining <= 0) {
      throw new PollTimeoutError(options.description, lastReason, options.timeoutMs);
    }
    await sleep(
      Math.min(options.intervalMs, remaining),
      undefined,
      options.signal === undefined ? {} : { signal: options.signal },
    );
  }
}
