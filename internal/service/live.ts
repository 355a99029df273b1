import type { LiveEvent, LiveLog, PendingCreates, PendingRef } from '../domain/ports.js';
import { ServiceUnavailableError } from '../domain/errors.js';
import type { Logger } from '../log/logger.js';

/** What creates, reads and changes need for live streams and read-your-writes. */
export interface LiveDeps {
  readonly pending: PendingCreates;
  readonly log: LiveLog;
  /** How long a PUT/PATCH of a record answered 201 waits for the consumer to persist it. */
  readonly writeWaitMs: number;
  /** Pause between looks while waiting. */
  readonly pollMs: number;
  readonly sleep: (ms: number) => Promise<void>;
  readonly now: () => number;
  readonly logger: Logger;
  /** Told of every event appended after an edit or delete (metrics). */
  readonly onAppendFailed?: () => void;
}

/**
 * Waits until `ref` is no longer pending (persisted and announced by the consumer), so that
 * an edit is ordered after its create on the chat's log and finds the row. Past the bound a
 * 503 asks to retry: the create is queued but not persisted yet.
 */
export async function awaitPersisted(
  live: LiveDeps | undefined,
  token: string,
  ref: PendingRef,
): Promise<void> {
  if (live === undefined) return;
  const until = live.now() + live.writeWaitMs;
  while ((await live.pending.find(token, ref)) !== null) {
    if (live.now() >= until) {
      throw new ServiceUnavailableError('persistence of this record (it is still queued)', 1);
    }
    await live.sleep(live.pollMs);
  }
}

/**
 * Appends to the chat's log after the change committed. The change stands whatever happens
 * here: a failure is logged and counted, and subscribers re-read when they reconnect.
 */
export async function announce(
  live: LiveDeps | undefined,
  token: string,
  chat: number,
  event: LiveEvent,
): Promise<void> {
  if (live === undefined) return;
  await live.log.append(token, chat, event).catch((err: unknown) => {
    live.onAppendFailed?.();
    live.logger.warn({ err, type: event.type }, 'event not appended to the chat’s log');
  });
}
