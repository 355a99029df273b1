import type { CreateEvent } from '../domain/model.js';
import type {
  NumberCache,
  NumberScope,
  PendingCreates,
  PendingRef,
  WritePublisher,
} from '../domain/ports.js';
import { BrokerUnavailableError } from '../domain/errors.js';
import type { Logger } from '../log/logger.js';
import type { KeyedRequest, NumberDecision, Numbering } from './numbering.js';
import { fingerprint } from './idempotency.js';

export interface QueuedCreateDeps {
  readonly numbering: Numbering;
  readonly publisher: WritePublisher;
  /** Where a keyed create is marked as published. */
  readonly cache: NumberCache;
  readonly logger: Logger;
  /** Read-your-writes: the created representation, kept until the consumer persisted it. */
  readonly pending?: PendingCreates;
}

/** What a create shows until it is persisted. */
export interface CreatedRecord {
  readonly ref: PendingRef;
  readonly view: object;
}

/**
 * The create path shared by chats and messages, in the order it runs:
 * 1. `decide`: refuse at once while the broker cannot take anything (no number is burnt),
 *    then take the next number, or find the earlier decision of the same keyed create.
 * 2. The service builds its event from the decision.
 * 3. `publish`: keep its representation (hidden) for read-your-writes, send it and wait for
 *    the broker's confirm, unless a replay was confirmed already; then show the
 *    representation and remember that a keyed create was published. It is staged before
 *    the send because the consumer may persist it before the confirm arrives: it removes
 *    the entry then, and a confirm never recreates it. A replay stages nothing: its first
 *    attempt staged it, and a new entry for a create persisted long ago would never go.
 * A retry of a create that was numbered but not confirmed publishes the very same event
 * again (same number, same event id), which the consumer treats as a replay.
 */
export class QueuedCreates {
  constructor(private readonly deps: QueuedCreateDeps) {}

  async decide(
    token: string,
    scope: NumberScope,
    input: unknown,
    idempotencyKey: string | null,
  ): Promise<NumberDecision> {
    if (!this.deps.publisher.accepting) throw new BrokerUnavailableError();
    const keyed: KeyedRequest | null =
      idempotencyKey === null ? null : { key: idempotencyKey, fingerprint: fingerprint(input) };
    return this.deps.numbering.take(token, scope, keyed);
  }

  async publish(
    token: string,
    scope: NumberScope,
    event: CreateEvent,
    decision: NumberDecision,
    idempotencyKey: string | null,
    created?: CreatedRecord,
  ): Promise<void> {
    if (decision.published) return;
    const { pending } = this.deps;
    if (pending !== undefined && created !== undefined && !decision.replayed) {
      await pending.stage(token, created.ref, event.eventId, created.view);
    }
    await this.deps.publisher.publish(event, { sendBy: decision.sendBy });
    if (pending !== undefined && created !== undefined) {
      // Best effort: without it, reads fall back to MySQL, as before read-your-writes.
      await pending
        .confirm(token, created.ref)
        .catch((err: unknown) =>
          this.deps.logger.warn({ err }, 'could not show a created record before persistence'),
        );
    }
    if (idempotencyKey === null) return;
    // Best effort: without it a retry publishes the same event again, which is harmless.
    await this.deps.cache
      .markPublished(token, scope, idempotencyKey)
      .catch((err: unknown) =>
        this.deps.logger.warn({ err }, 'could not mark the idempotency record published'),
      );
  }
}
