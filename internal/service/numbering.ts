import { randomUUID } from 'node:crypto';
import type {
  CacheAllocation,
  EpochTicket,
  NumberCache,
  NumberLedger,
  NumberScope,
  WritePublisher,
} from '../domain/ports.js';
import {
  ChatPendingError,
  IdempotencyKeyReusedError,
  NotFoundError,
  NumberingUnavailableError,
} from '../domain/errors.js';
import type { Logger } from '../log/logger.js';

export interface NumberingOptions {
  /** Smallest and largest block reserved in MySQL at once; the largest bounds gaps after a loss. */
  readonly blockMin: number;
  readonly blockMax: number;
  /** How long after taking its number a create may still send it (PublishDeadline.sendBy). */
  readonly createDeadlineMs: number;
  /** Added to the deadline before a fence is sent, for the network between API and broker. */
  readonly fenceMarginMs: number;
}

export interface NumberingObserver {
  reserved(scope: NumberScope['kind']): void;
  revalidated(level: 'application' | 'chat'): void;
  epochBegan(): void;
  pending(): void;
}

/** What a create was given: its number, event id and time, and whether it is a replay. */
export interface NumberDecision {
  readonly number: number;
  readonly eventId: string;
  readonly createdAt: string;
  /** An earlier create with the same Idempotency-Key. */
  readonly replayed: boolean;
  /** The broker already confirmed it: nothing to publish. */
  readonly published: boolean;
  /** See PublishDeadline. */
  readonly sendBy: number;
}

export interface KeyedRequest {
  readonly key: string;
  readonly fingerprint: string;
}

// Each step either issues or makes progress (a revalidation, a seed, a reservation).
const MAX_STEPS = 16;
const FENCE_REPEAT_MS = 5_000;
const MAX_PROCESS_EPOCHS = 256;

/**
 * Numbers that behave like a database sequence with a cache: Redis issues them atomically
 * under a ceiling reserved in MySQL in blocks, so none is ever issued twice. Redis state is
 * trusted only under an epoch tied to the Redis process it lives in; a new process (restart,
 * restore, failover) or lost state starts a new epoch, and each application's numbering is
 * revalidated above the MySQL ceilings before its next number. Gaps (at most one block per
 * scope) are the price of a loss. See README, "How it stays correct".
 */
export class Numbering {
  private verified: EpochTicket | null = null;
  private verifying: Promise<EpochTicket> | null = null;
  private readonly fences = new Map<number, number>();
  /** Reservations and revalidations in flight: concurrent creates share one, not a herd. */
  private readonly inFlight = new Map<string, Promise<unknown>>();
  private readonly demand = new Map<string, number>();
  /** Redis Cluster: the epoch this API began for each Redis process it met. */
  private readonly processEpochs = new Map<string, Promise<number>>();

  constructor(
    private readonly cache: NumberCache,
    private readonly ledger: NumberLedger,
    private readonly publisher: WritePublisher,
    private readonly options: NumberingOptions,
    private readonly observer: NumberingObserver,
    private readonly logger: Logger,
  ) {}

  /** The next number of `scope`, or the earlier decision of the same keyed create. */
  async take(
    token: string,
    scope: NumberScope,
    keyed: KeyedRequest | null,
  ): Promise<NumberDecision> {
    let ticket = await this.ticket();
    for (let step = 0; step < MAX_STEPS; step += 1) {
      const eventId = randomUUID();
      const createdAt = new Date().toISOString();
      const sendBy = Date.now() + this.options.createDeadlineMs;
      const claim = keyed === null ? null : { ...keyed, eventId, createdAt };
      const got = await this.cache.allocate(token, scope, ticket, claim);
      switch (got.kind) {
        case 'issued':
          return {
            number: got.number,
            eventId,
            createdAt,
            replayed: false,
            published: false,
            sendBy,
          };
        case 'replay': {
          const { record } = got;
          if (record.fingerprint !== keyed?.fingerprint) throw new IdempotencyKeyReusedError();
          return { ...record, replayed: true, sendBy };
        }
        default:
          ticket = await this.progress(got, token, scope, ticket);
      }
    }
    throw new NumberingUnavailableError();
  }

  /**
   * The last number issued in `scope` so far (0 when none), under the same checks as `take`:
   * a number above it was never issued, one at or below it may be a create still queued.
   */
  async lastIssued(token: string, scope: NumberScope): Promise<number> {
    let ticket = await this.ticket();
    for (let step = 0; step < MAX_STEPS; step += 1) {
      const got = await this.cache.lastIssued(token, scope, ticket);
      if (got.kind === 'issued') return got.number;
      if (got.kind === 'replay') throw new Error('lastIssued never replays');
      ticket = await this.progress(got, token, scope, ticket);
    }
    throw new NumberingUnavailableError();
  }

  /**
   * No number is issued any more for the application (`chat` null) or the chat's messages.
   * Called before the tombstone is written: a create numbered after it answers 404.
   */
  async markDeleted(token: string, chat: number | null): Promise<void> {
    if (this.cache.connection() === null) throw new NumberingUnavailableError();
    await this.cache.markDeleted(token, chat);
  }

  /** One step towards issuing: load, reload or reserve what the cache asked for. */
  private async progress(
    got: Exclude<CacheAllocation, { kind: 'issued' } | { kind: 'replay' }>,
    token: string,
    scope: NumberScope,
    ticket: EpochTicket,
  ): Promise<EpochTicket> {
    switch (got.kind) {
      case 'unknown_application':
        throw new NotFoundError('application');
      case 'unknown_chat':
        throw new NotFoundError('chat');
      case 'stale_epoch':
        return this.reverify();
      case 'revalidate': {
        const { process } = got;
        return process === undefined
          ? this.shared(`revalidate:${token}`, () => this.revalidate(token))
          : this.shared(`revalidate:${token}:${process}`, () =>
              this.revalidateIn(token, process, ticket),
            );
      }
      case 'unseeded_chat':
        await this.shared(`seed:${token}:${scopeKey(scope)}`, () =>
          this.seedChat(token, scope, ticket, got.ambiguousUpTo, got.epoch ?? ticket.epoch),
        );
        return ticket;
      case 'reserve': {
        const key = `reserve:${token}:${scopeKey(scope)}`;
        this.demand.set(key, (this.demand.get(key) ?? 0) + 1);
        await this.shared(key, () => {
          // Everyone waiting for this scope gets a number from the one block.
          const waiting = this.demand.get(key) ?? 1;
          this.demand.delete(key);
          return this.reserve(token, scope, ticket, got.last, waiting);
        });
        return ticket;
      }
    }
  }

  /** Best effort for a brand-new application: without it the first create revalidates. */
  async register(token: string): Promise<void> {
    await this.cache.register(token, await this.ticket());
  }

  /**
   * Lost or rolled-back state, or a FLUSHALL that kept the connection: check the epoch again
   * before trusting anything, then reload the application above its MySQL ceiling.
   */
  private async revalidate(token: string): Promise<EpochTicket> {
    const ticket = await this.reverify();
    const floor = await this.ledger.chatsFloor(token);
    if (floor === null) throw new NotFoundError('application');
    await this.cache.revalidate(token, ticket, floor);
    this.observer.revalidated('application');
    return ticket;
  }

  /**
   * The cluster's way (state trusted per Redis process, checked by the scripts themselves):
   * the application's state is not from `process`, the process holding it now (a promoted
   * replica, a restarted node, a slot moved). It is reloaded above its MySQL ceiling under an
   * epoch of that process, begun when this API first met it; creates numbered before are
   * fenced by that epoch, as after a standalone Redis restart.
   */
  private async revalidateIn(
    token: string,
    process: string,
    ticket: EpochTicket,
  ): Promise<EpochTicket> {
    const epoch = await this.processEpoch(process);
    const floor = await this.ledger.chatsFloor(token);
    if (floor === null) throw new NotFoundError('application');
    // 'stale_epoch': the state moved on to yet another process; the next allocation says which.
    await this.cache.revalidate(token, { ...ticket, epoch }, floor, process);
    this.observer.revalidated('application');
    return ticket;
  }

  private processEpoch(process: string): Promise<number> {
    let epoch = this.processEpochs.get(process);
    if (epoch === undefined) {
      epoch = this.ledger.beginEpoch(process).then((began) => {
        this.observer.epochBegan();
        this.logger.warn(
          { epoch: began, process },
          'redis process holding numbering state is new to this API: new numbering epoch',
        );
        return began;
      });
      epoch.catch(() => this.processEpochs.delete(process));
      // Processes come and go with failovers and restarts; the newest few are enough.
      if (this.processEpochs.size >= MAX_PROCESS_EPOCHS) {
        const oldest = this.processEpochs.keys().next().value;
        if (oldest !== undefined) this.processEpochs.delete(oldest);
      }
      this.processEpochs.set(process, epoch);
    }
    return epoch;
  }

  /** Reserves the next block in MySQL, then lets Redis issue up to it. */
  private async reserve(
    token: string,
    scope: NumberScope,
    ticket: EpochTicket,
    last: number,
    waiting: number,
  ): Promise<void> {
    const block = Math.max(blockFor(last, this.options), Math.min(waiting, this.options.blockMax));
    const ceiling = await this.ledger.reserve(token, scope, last, block);
    if (ceiling === null) throw new NotFoundError('application');
    await this.cache.raiseCeiling(token, scope, ticket, ceiling);
    this.observer.reserved(scope.kind);
  }

  /** One call per key at a time; callers arriving meanwhile share its outcome. */
  private shared<T>(key: string, run: () => Promise<T>): Promise<T> {
    const running = this.inFlight.get(key) as Promise<T> | undefined;
    if (running !== undefined) return running;
    const started = run().finally(() => this.inFlight.delete(key));
    this.inFlight.set(key, started);
    return started;
  }

  /** A chat with no message numbering loaded: from MySQL if it is persisted. */
  private async seedChat(
    token: string,
    scope: NumberScope,
    ticket: EpochTicket,
    ambiguousUpTo: number,
    epoch: number,
  ): Promise<void> {
    if (scope.kind !== 'messages') throw new Error('only a chat is seeded');
    const { persisted, deleted, messagesFloor } = await this.ledger.chatFloor(token, scope.chat);
    if (deleted) {
      // Lost with the Redis state; the tombstone says it again, and the mark spares the next
      // create this query.
      await this.cache.markDeleted(token, scope.chat);
      throw new NotFoundError('chat');
    }
    if (persisted) {
      const seeded = await this.cache.seedChat(token, scope.chat, ticket, messagesFloor);
      if (seeded === 'unknown_chat') throw new NotFoundError('chat');
      this.observer.revalidated('chat');
      return;
    }
    // Issued before the loss and still queued, or never issued: only the queue can tell.
    if (scope.chat <= ambiguousUpTo) {
      const state = await this.ledger.epochState(epoch);
      if (!state.settled) {
        this.fence(epoch, state.ageMs);
        this.observer.pending();
        throw new ChatPendingError();
      }
    }
    throw new NotFoundError('chat');
  }

  /**
   * Once no create numbered before this epoch can still be sent (its deadline has passed
   * since the epoch began), a fence published now is queued behind all of them.
   */
  private fence(epoch: number, ageMs: number): void {
    if (ageMs < this.options.createDeadlineMs + this.options.fenceMarginMs) return;
    const now = Date.now();
    if (now - (this.fences.get(epoch) ?? 0) < FENCE_REPEAT_MS) return;
    this.fences.set(epoch, now);
    this.publisher
      .publish(
        { kind: 'numbering.fence', eventId: randomUUID(), epoch },
        { sendBy: now + this.options.createDeadlineMs },
      )
      .then(
        () => this.logger.info({ epoch }, 'numbering fence published'),
        (err: unknown) => {
          this.fences.delete(epoch);
          this.logger.warn({ err, epoch }, 'numbering fence not published; retried on demand');
        },
      );
  }

  private async ticket(): Promise<EpochTicket> {
    const connection = this.cache.connection();
    if (connection === null) throw new NumberingUnavailableError();
    if (this.verified?.connection === connection) return this.verified;
    this.verifying ??= this.verify().finally(() => {
      this.verifying = null;
    });
    const ticket = await this.verifying;
    if (ticket.connection !== this.cache.connection()) throw new NumberingUnavailableError();
    return ticket;
  }

  private reverify(): Promise<EpochTicket> {
    this.verified = null;
    return this.ticket();
  }

  /** Which epoch the current Redis state belongs to; a new one when it cannot be trusted. */
  private async verify(): Promise<EpochTicket> {
    const identity = await this.cache.identity();
    let epoch: number;
    if (identity.stored !== null && identity.stored.runId === identity.runId) {
      epoch = identity.stored.epoch;
    } else {
      const next = await this.ledger.beginEpoch(identity.runId);
      const holds = await this.cache.claimEpoch(identity.stored?.raw ?? null, identity.runId, next);
      if (holds.runId !== identity.runId) throw new NumberingUnavailableError();
      epoch = holds.epoch;
      if (epoch === next) {
        this.observer.epochBegan();
        this.logger.warn(
          { epoch, previous: identity.stored?.epoch ?? null },
          'redis numbering state is new or was replaced: new numbering epoch',
        );
      }
    }
    const ticket = { epoch, connection: identity.connection };
    if (this.cache.connection() === identity.connection) this.verified = ticket;
    return ticket;
  }
}

const scopeKey = (scope: NumberScope) => (scope.kind === 'chats' ? 'c' : String(scope.chat));

/** Blocks grow with the scope (half of what it has issued), so quiet chats waste little. */
export function blockFor(last: number, { blockMin, blockMax }: NumberingOptions): number {
  return Math.min(blockMax, Math.max(blockMin, Math.ceil(last / 2)));
}
