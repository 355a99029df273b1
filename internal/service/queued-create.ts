import type { CreateEvent } from '../domain/model.js';
import type { NumberCache, NumberScope, WritePublisher } from '../domain/ports.js';
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
}

/**
 * The create path shared by chats and messages, in the order it runs:
 * 1. `decide`: refuse at once while the broker cannot take anything (no number is burnt),
 *    then take the next number, or find the earlier decision of the same keyed create.
 * 2. The service builds its event from the decision.
 * 3. `publish`: send it and wait for the broker's confirm, unless a replay was confirmed
 *    already; then remember that a keyed create was published.
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
  ): Promise<void> {
    if (decision.published) return;
    await this.deps.publisher.publish(event, { sendBy: decision.sendBy });
    if (idempotencyKey === null) return;
    // Best effort: without it a retry publishes the same event again, which is harmless.
    await this.deps.cache
      .markPublished(token, scope, idempotencyKey)
      .catch((err: unknown) =>
        this.deps.logger.warn({ err }, 'could not mark the idempotency record published'),
      );
  }
}
