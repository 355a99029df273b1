import type { Application, Chat, Message, Page, WriteEvent } from './model.js';

export interface ApplicationRepository {
  create(token: string, name: string): Promise<Application>;
  findByToken(token: string): Promise<Application | null>;
  rename(token: string, name: string): Promise<Application | null>;
  /** Admin listing ordered by id; `after` is an opaque cursor from a previous page. */
  list(limit: number, after: string | null): Promise<Page<Application>>;
  maxChatNumber(token: string): Promise<number | null>;
}

export interface ChatRepository {
  find(token: string, number: number): Promise<Chat | null>;
  list(token: string, limit: number, after: number | null): Promise<Page<Chat>>;
  rename(token: string, number: number, name: string | null): Promise<Chat | null>;
  maxMessageNumber(token: string, chatNumber: number): Promise<number>;
}

export interface MessageRepository {
  find(token: string, chatNumber: number, number: number): Promise<Message | null>;
  list(
    token: string,
    chatNumber: number,
    limit: number,
    after: number | null,
  ): Promise<Page<Message>>;
  edit(token: string, chatNumber: number, number: number, content: string): Promise<Message | null>;
}

/** When a publish may still send bytes; see WritePublisher. */
export interface PublishDeadline {
  /**
   * Epoch milliseconds after which no byte of this event may be sent, first try or
   * re-publish. Numbering recovery relies on it: an event numbered before a Redis loss is
   * either in the queue by then or never will be.
   */
  readonly sendBy: number;
}

/**
 * Publishes a write event durably: resolves only once the broker confirmed it.
 * Rejects with BrokerUnavailableError when nothing was sent (nothing will be persisted), or
 * with OutcomeUnknownError when it was sent but no confirm came before the deadline, even
 * after re-publishing the same event on a new channel.
 */
export interface WritePublisher {
  publish(event: WriteEvent, deadline: PublishDeadline): Promise<void>;
  /** False while the broker blocks publishing or the send buffer is full: refuse at once. */
  readonly accepting: boolean;
}

/** Where a search runs: one chat of one application, never wider. */
export interface SearchScope {
  readonly applicationToken: string;
  readonly chatNumber: number;
}

export interface SearchHit {
  readonly number: number;
  readonly content: string;
  readonly score?: number;
}

/** A message as the search index holds it. */
export interface IndexedMessage {
  readonly applicationToken: string;
  readonly chatNumber: number;
  readonly number: number;
  readonly content: string;
  readonly createdAt: Date;
  readonly updatedAt: Date;
}

export interface SearchPort {
  /** Best matches first. `terms` are the whitespace-separated words of the query; all must match. */
  search(
    scope: SearchScope,
    terms: readonly string[],
    page: { limit: number; offset: number },
  ): Promise<SearchHit[]>;
}

export interface SearchIndexer {
  /** Idempotent bulk (re)indexing; throws when any document could not be indexed. */
  index(messages: readonly IndexedMessage[]): Promise<void>;
}

/** A message waiting in the search outbox, with what MySQL holds for it now. */
export interface OutboxEntry {
  readonly message: IndexedMessage;
  readonly messageId: number;
  readonly queuedAt: Date;
}

/** How far the search index is behind MySQL. */
export interface OutboxLag {
  readonly pending: number;
  /** When the oldest pending entry was queued; null when none is pending. */
  readonly oldestQueuedAt: Date | null;
}

/**
 * Messages still to be (re)indexed, written in the same transaction as the create or edit
 * that needs it, so indexing can lag (or the index be down) without losing any.
 */
export interface SearchOutboxPort {
  /** The oldest entries first. */
  pending(limit: number): Promise<OutboxEntry[]>;
  /** Removes entries that were not queued again since they were read. */
  done(entries: readonly OutboxEntry[]): Promise<void>;
  lag(): Promise<OutboxLag>;
}

/** Whoever holds it may run the flush; `signal` aborts when the hold is lost. */
export interface LockHandle {
  readonly signal: AbortSignal;
  release(): Promise<void>;
}

export interface LeaderLock {
  /** Resolves to a handle when taken, or null when someone else holds it. */
  tryAcquire(): Promise<LockHandle | null>;
}

/** A dependency the readiness probe checks. */
export interface HealthCheck {
  readonly name: string;
  /** False: reported in /readyz but does not make the program unready. Default true. */
  readonly critical?: boolean;
  check(): Promise<void>;
}
