import { randomUUID } from 'node:crypto';
import type { WriteEvent } from '../domain/model.js';
import type { WritePublisher } from '../domain/ports.js';
import {
  IdempotencyKeyReusedError,
  NotFoundError,
  ServiceUnavailableError,
} from '../domain/errors.js';
import type { Allocation, IdempotencyRecord, IdempotencyRequest } from '../counters/numbers.js';
import type { Logger } from '../log/logger.js';
import { fingerprint } from './idempotency.js';

export interface QueuedCreate<V> {
  readonly input: unknown;
  readonly idempotencyKey: string | null;
  allocate(idem: IdempotencyRequest | null): Promise<Allocation>;
  /** Restores numbering from MySQL after Redis lost it; throws NotFoundError when absent. */
  reseed(kind: 'unknown_application' | 'unseeded_chat'): Promise<void>;
  event(number: number, eventId: string, createdAt: string): WriteEvent;
  view(event: WriteEvent): V;
  complete(key: string, record: IdempotencyRecord): Promise<void>;
}

export interface CreateResult<V> {
  readonly view: V;
  readonly replayed: boolean;
}

const MAX_RESEEDS = 3;

/**
 * The create path shared by chats and messages: take the next number atomically (with the
 * Idempotency-Key record in the same script), publish with a confirm, then answer.
 * A retry of a create that was numbered but not confirmed publishes the very same event
 * again (same number, same event id), which the consumer treats as a replay.
 */
export async function runQueuedCreate<V>(
  create: QueuedCreate<V>,
  publisher: WritePublisher,
  logger: Logger,
): Promise<CreateResult<V>> {
  const print = create.idempotencyKey === null ? null : fingerprint(create.input);
  for (let attempt = 0; attempt <= MAX_RESEEDS; attempt += 1) {
    const eventId = randomUUID();
    const createdAt = new Date().toISOString();
    const idem =
      create.idempotencyKey === null || print === null
        ? null
        : { key: create.idempotencyKey, fingerprint: print, eventId, createdAt };
    const allocation = await create.allocate(idem);
    switch (allocation.kind) {
      case 'issued':
        return publishAndRemember(allocation.number, eventId, createdAt, false);
      case 'replay': {
        const { record } = allocation;
        if (record.fingerprint !== print) throw new IdempotencyKeyReusedError();
        if (record.response !== undefined)
          return { view: record.response.body as V, replayed: true };
        return publishAndRemember(record.number, record.eventId, record.createdAt, true);
      }
      case 'unknown_chat':
        throw new NotFoundError('chat');
      case 'unknown_application':
      case 'unseeded_chat':
        await create.reseed(allocation.kind);
    }
  }
  throw new ServiceUnavailableError('Numbering');

  async function publishAndRemember(
    number: number,
    eventId: string,
    createdAt: string,
    replayed: boolean,
  ): Promise<CreateResult<V>> {
    const event = create.event(number, eventId, createdAt);
    await publisher.publish(event, { sendBy: Date.now() + 5_000 });
    const view = create.view(event);
    if (create.idempotencyKey !== null && print !== null) {
      // Best effort: without it a retry republishes the same event, which is harmless.
      await create
        .complete(create.idempotencyKey, {
          fingerprint: print,
          number,
          eventId,
          createdAt,
          response: { status: 201, body: view },
        })
        .catch((err: unknown) =>
          logger.warn({ err: (err as Error).message }, 'could not store idempotency record'),
        );
    }
    return { view, replayed };
  }
}
