import type { Application, Chat, Message, Page, QueueDrained, WriteEvent } from './model.js';
import type { RegisteredQueue } from './partitions.js';
import type { DeadLetterReason } from './dead-letter.js';

export interface ApplicationRepository {
  create(token: string, name: string): Promise<Application>;
  findByToken(token: string): Promise<Application | null>;
  rename(token: string, name: string): Promise<Application | null>;
  /** Admin listing ordered by id; `after` is an opaque cursor from a previous page. */
  list(limit: number, after: string | null): Promise<Page<Application>>;
  maxChatNumber(token: string): Promise<number | null>;
  /**
   * Deletes the application: its token stops working at once and its chats and messages are
   * queued for the background purge. The id when this call deleted it; null when there was no
   * such application, or it was deleted already.
   */
  markDeleted(token: string): Promise<number | null>;
}

/**
 * What MySQL holds for a record a delete names: `missing` may still be a create in the queue
 * (answered 201, not persisted yet); only numbering can tell whether it was ever issued.
 */
export type RecordState = 'live' | 'deleted' | 'missing';

export interface ChatState {
  /** False when the application does not exist or was deleted. */
  readonly application: boolean;
  readonly chat: RecordState;
}

export interface MessageState extends ChatState {
  readonly message: RecordState;
}

export interface ChatRepository {
  find(token: string, number: number): Promise<Chat | null>;
  list(token: string, limit: number, after: number | null): Promise<Page<Chat>>;
  rename(token: string, number: number, name: string | null): Promise<Chat | null>;
  maxMessageNumber(token: string, chatNumber: number): Promise<number>;
  state(token: string, number: number): Promise<ChatState>;
  /**
   * Deletes the chat and queues its messages for the purge; writes a tombstone when the chat's
   * create is not persisted yet, so it is dropped when it arrives. The application id when this
   * call deleted it; null when the application is gone or the chat was deleted already.
   */
  markDeleted(token: string, number: number): Promise<{ applicationId: number } | null>;
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
  state(token: string, chatNumber: number, number: number): Promise<MessageState>;
  /** Which of `numbers` are deleted messages of the chat (an index may still hold them). */
  deletedAmong(token: string, chatNumber: number, numbers: readonly number[]): Promise<Set<number>>;
  /**
   * Deletes the message: its content is cleared, a tombstone keeps its number, and it is queued
   * for removal from the search index, in one transaction. A message (or chat) whose create is
   * not persisted yet gets a tombstone it will meet when it arrives. The chat id when this call
   * deleted it; null when the application or chat is gone or the message was deleted already.
   */
  markDeleted(
    token: string,
    chatNumber: number,
    number: number,
  ): Promise<{ chatId: number } | null>;
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

/** A message as the search index holds it: the domain's Message. */
export type IndexedMessage = Message;

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
  /** Removes deleted messages (their tombstones: number and deletion time); idempotent. */
  remove(messages: readonly IndexedMessage[]): Promise<void>;
  /** Removes every document of a chat, or of a whole application; idempotent. */
  removeScope(scope: { applicationToken: string; chatNumber?: number }): Promise<void>;
}

/**
 * Brings an index up to the messages stored before it existed, one batch per step, resuming
 * where the last step stopped (the built-in search's trigram backfill).
 */
export interface SearchBackfill {
  /** Indexes the next batch; `finished` once every message stored before it is covered. */
  step(): Promise<{ indexed: number; finished: boolean }>;
}

/** A message waiting in the search outbox, with what MySQL holds for it now. */
export interface OutboxEntry {
  readonly message: IndexedMessage;
  /** The message was deleted: remove it from the index instead. */
  readonly deleted: boolean;
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
  /** The oldest entries first; `where` narrows them to one message (an edit's re-index). */
  pending(
    limit: number,
    where?: { token: string; chatNumber: number; number: number },
  ): Promise<OutboxEntry[]>;
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

/** One rate limit: at most `max` requests per `windowSeconds`, per subject. */
export interface RateLimitRule {
  /** Names the policy in the RateLimit headers and the store's keys. */
  readonly name: string;
  readonly max: number;
  readonly windowSeconds: number;
}

export interface RateLimitDecision {
  readonly allowed: boolean;
  /** Requests left in the current window after this one (0 when refused). */
  readonly remaining: number;
  /** Seconds until the window resets. */
  readonly resetSeconds: number;
}

/** Counts requests per subject in a store all API replicas share. */
export interface RateLimiter {
  take(rule: RateLimitRule, subject: string): Promise<RateLimitDecision>;
}

/** Where a number is taken from: an application's chats, or one chat's messages. */
export type NumberScope =
  { readonly kind: 'chats' } | { readonly kind: 'messages'; readonly chat: number };

/**
 * The numbering epoch verified on the cache's current connection. A call made with a ticket
 * whose connection is no longer the current one is refused before anything is sent, so a
 * command can never run against a Redis that was restarted or replaced since the check.
 */
export interface EpochTicket {
  readonly epoch: number;
  readonly connection: number;
}

/** What a keyed create remembers: only what a replay needs, never the content. */
export interface IdempotencyRecord {
  readonly fingerprint: string;
  readonly number: number;
  readonly eventId: string;
  readonly createdAt: string;
  /** The broker confirmed it: a replay answers without publishing again. */
  readonly published: boolean;
}

export interface IdempotencyClaim {
  readonly key: string;
  readonly fingerprint: string;
  readonly eventId: string;
  readonly createdAt: string;
}

export type CacheAllocation =
  | { readonly kind: 'issued'; readonly number: number }
  | { readonly kind: 'replay'; readonly record: IdempotencyRecord }
  /**
   * No state for the application, or state from an older epoch: revalidate from the ledger.
   * `process`: a cache whose state is trusted per process rather than per connection (Redis
   * Cluster) names the process the application's state now lives in; it is revalidated under
   * an epoch of that process (NumberCache.revalidate's `process`).
   */
  | { readonly kind: 'revalidate'; readonly process?: string }
  /** The cache was validated under a newer epoch than the caller's. */
  | { readonly kind: 'stale_epoch' }
  | { readonly kind: 'unknown_chat' }
  /** The application was deleted. */
  | { readonly kind: 'unknown_application' }
  /**
   * The chat's message numbering is not loaded; chats ≤ ambiguousUpTo may be unpersisted.
   * `epoch`: the epoch the application was validated under, when it is not the caller's.
   */
  | { readonly kind: 'unseeded_chat'; readonly ambiguousUpTo: number; readonly epoch?: number }
  /** The next number is above the reserved ceiling: reserve a block above `last`. */
  | { readonly kind: 'reserve'; readonly last: number };

/** The identity of the Redis state the cache talks to, and the epoch recorded in it. */
export interface CacheIdentity {
  readonly connection: number;
  readonly runId: string;
  /** As stored, to compare-and-set; null when missing. */
  readonly stored: { readonly runId: string; readonly epoch: number; readonly raw: string } | null;
}

/** The fast side of numbering (Redis): atomic issue of the next number under a ceiling. */
export interface NumberCache {
  /** The current connection's id, or null while there is none. */
  connection(): number | null;
  identity(): Promise<CacheIdentity>;
  /** Records `epoch` for `runId` unless the stored value changed since `expectedRaw`. */
  claimEpoch(
    expectedRaw: string | null,
    runId: string,
    epoch: number,
  ): Promise<{ runId: string; epoch: number }>;
  allocate(
    token: string,
    scope: NumberScope,
    ticket: EpochTicket,
    claim: IdempotencyClaim | null,
  ): Promise<CacheAllocation>;
  /**
   * Loads the application under `ticket`: chat numbers resume above `chatsFloor`. With
   * `process` (see CacheAllocation `revalidate`), only if the state still lives in that process.
   */
  revalidate(
    token: string,
    ticket: EpochTicket,
    chatsFloor: number,
    process?: string,
  ): Promise<'ok' | 'stale_epoch'>;
  /** Loads a chat's message numbering: numbers resume above `messagesFloor`. */
  seedChat(
    token: string,
    chat: number,
    ticket: EpochTicket,
    messagesFloor: number,
  ): Promise<'ok' | 'revalidate' | 'unknown_chat'>;
  /** Raises a scope's ceiling (never lowers it); false when the epoch moved on. */
  raiseCeiling(
    token: string,
    scope: NumberScope,
    ticket: EpochTicket,
    ceiling: number,
  ): Promise<boolean>;
  /** A brand-new application: nothing to revalidate. */
  register(token: string, ticket: EpochTicket): Promise<void>;
  markPublished(token: string, scope: NumberScope, key: string): Promise<void>;
  /**
   * The last number issued in `scope`, checked as `allocate` checks (the same replies when the
   * state must be loaded first), without issuing one.
   */
  lastIssued(token: string, scope: NumberScope, ticket: EpochTicket): Promise<CacheAllocation>;
  /**
   * No number is issued any more for the application (`chat` absent) or for the chat's
   * messages. Marks are only ever added, and kept by revalidation.
   */
  markDeleted(token: string, chat: number | null): Promise<void>;
}

/** The durable side of numbering (MySQL): reserved ceilings and numbering epochs. */
export interface NumberLedger {
  /** The highest chat number that may have been issued; null when there is no such application (or it was deleted). */
  chatsFloor(token: string): Promise<number | null>;
  /**
   * Whether the chat has a row (and whether it is deleted), and the highest message number
   * that may have been issued in it.
   */
  chatFloor(
    token: string,
    chat: number,
  ): Promise<{ persisted: boolean; deleted: boolean; messagesFloor: number }>;
  /** Raises the scope's ceiling to at least `floor + block`; the new ceiling, or null when the application is gone. */
  reserve(token: string, scope: NumberScope, floor: number, block: number): Promise<number | null>;
  beginEpoch(redisRunId: string): Promise<number>;
  /** Whether the epoch's fence was persisted, and how long ago it began (by the database's clock). */
  epochState(epoch: number): Promise<{ settled: boolean; ageMs: number }>;
}

/** Application Idempotency-Keys: the token is fixed when the key is first claimed. */
export interface ApplicationKeys {
  /** Stores the claim unless the key has one; returns the claim that holds. */
  claim(
    key: string,
    claim: { fingerprint: string; token: string },
  ): Promise<{
    fingerprint: string;
    token: string;
  }>;
}

/** Which counters changed: applications' chat counts, chats' message counts. */
export type DirtyKind = 'apps' | 'chats';

/**
 * Marks of the applications and chats whose counters changed, set by the consumer after a
 * batch and taken by the flusher. A mark taken but not `done` comes back on a later take.
 */
export interface DirtyMarks {
  mark(applicationIds: readonly number[], chatIds: readonly number[]): Promise<void>;
  take(kind: DirtyKind): Promise<number[]>;
  done(kind: DirtyKind, ids: readonly number[]): Promise<void>;
}

/** Recomputes counters from the rows; returns how many counter rows were written. */
export interface CounterRecounts {
  recountChats(chatIds: readonly number[]): Promise<number>;
  recountApplications(applicationIds: readonly number[]): Promise<number>;
}

/** An event the store refuses for good, with why: it is dead-lettered. */
export interface RejectedEvent {
  readonly event: WriteEvent;
  readonly reason: DeadLetterReason;
}

export interface BatchOutcome {
  /** Events that can never be persisted as sent: same number, another create; unknown app. */
  readonly rejected: readonly RejectedEvent[];
  /** Creates for what was deleted (tombstoned) before they arrived: dropped, by design. */
  readonly discarded: readonly WriteEvent[];
  readonly touchedApplicationIds: readonly number[];
  readonly touchedChatIds: readonly number[];
}

/** Persists a batch of write events in one transaction; throws when it could not commit. */
export type BatchPersister = (events: readonly WriteEvent[]) => Promise<BatchOutcome>;

/** What the consumer does with a batch of decoded events; implemented in jobs/. */
export interface BatchHandler {
  /**
   * Persists the events. Resolves with the events to dead-letter (with their reason) and
   * the ones whose handling failed for good and should be redelivered (`retry`).
   * Rejects only when the whole batch must be redelivered.
   */
  handle(events: readonly WriteEvent[]): Promise<{
    deadLetter: readonly RejectedEvent[];
    retry: readonly { event: WriteEvent; reason: string }[];
  }>;
}

/** A deleted chat or application whose rows are still to be removed. */
export interface PurgeTask {
  readonly kind: 'application' | 'chat';
  readonly id: number;
  /** Where its search documents live; null once the application's own purge removed the chat. */
  readonly applicationToken: string | null;
  readonly chatNumber: number | null;
}

/** The background purge of deleted chats and applications, in bounded batches. */
export interface PurgeStore {
  /** The oldest task, or null when none is queued. */
  next(): Promise<PurgeTask | null>;
  /** Removes at most `limit` rows of the task; 0 when nothing of it is left. */
  purgeSome(task: PurgeTask, limit: number): Promise<number>;
  /** The numbers of an application's chats still there (none for a chat task). */
  chatNumbers(task: PurgeTask): Promise<number[]>;
  /** Clears what the tombstone still holds and forgets the task. */
  finish(task: PurgeTask): Promise<void>;
  backlog(): Promise<number>;
}

/** What a chat's event stream carries; see the OpenAPI document for each `data`. */
export type LiveEventType =
  'message.created' | 'message.updated' | 'message.deleted' | 'chat.updated' | 'chat.deleted';

export interface LiveEvent {
  readonly type: LiveEventType;
  /** Serialised as one line of JSON. */
  readonly data: object;
}

/** An event as the chat's log holds it: `id` orders it within the chat and is the SSE id. */
export interface LoggedEvent {
  readonly id: string;
  readonly type: string;
  /** One line of JSON. */
  readonly data: string;
  /** When it was appended (epoch ms), right after the change it reports was committed. */
  readonly appendedAt: number;
}

/**
 * Each chat's event log, shared by every replica. An event is appended only after the change
 * it reports is committed; appends to one chat are totally ordered.
 */
export interface LiveLog {
  append(token: string, chatNumber: number, event: LiveEvent): Promise<void>;
}

/** A record answered 201 that the consumer may not have persisted yet. */
export type PendingRef =
  | { readonly kind: 'chat'; readonly chat: number }
  | { readonly kind: 'message'; readonly chat: number; readonly message: number };

/**
 * Read-your-writes: the representation of each create answered 201, kept (bounded by a TTL)
 * until the consumer persisted it and announced it on the chat's log.
 */
export interface PendingCreates {
  /** Before the publish: kept but not visible, so a create that fails is never read. */
  stage(token: string, ref: PendingRef, eventId: string, view: object): Promise<void>;
  /** After the broker's confirm: visible from now on, unless already persisted and removed. */
  confirm(token: string, ref: PendingRef): Promise<void>;
  /** The confirmed representation, or null when there is none (persisted, never created…). */
  find(token: string, ref: PendingRef): Promise<object | null>;
  /** Forgets it (a delete): a deleted record never reappears from here. */
  remove(token: string, ref: PendingRef): Promise<void>;
}

/**
 * The consumer's side: after a batch committed, announce each persisted create of a message
 * on its chat's log and forget the pending representations of every create handled (persisted
 * or discarded). A create is announced only if its pending entry is still there, atomically
 * with removing it, so a redelivered batch never announces twice.
 */
export interface CreateAnnouncer {
  settle(persisted: readonly WriteEvent[], discarded: readonly WriteEvent[]): Promise<void>;
}

/** Where a subscriber of a chat's log stands: the last id it has. */
export interface LogCursor {
  readonly token: string;
  readonly chat: number;
  readonly after: string;
}

/** The read side of the chats' logs, for the API's event streams. */
export interface LiveFeed {
  /** The id of the chat's last event, `0-0` when it has none. */
  last(token: string, chatNumber: number): Promise<string>;
  /**
   * Up to `limit` events after `after`, oldest first; `reset` when events after it may have
   * been trimmed, or `after` is not an id this log could have given.
   */
  since(
    token: string,
    chatNumber: number,
    after: string,
    limit: number,
  ): Promise<readonly LoggedEvent[] | 'reset'>;
  /** Waits up to `blockMs` for events after any of the cursors; [] when none came. */
  read(
    cursors: readonly LogCursor[],
    blockMs: number,
  ): Promise<readonly { token: string; chat: number; events: readonly LoggedEvent[] }[]>;
  /** Ends a `read` in progress at once (a new cursor must be read too). */
  interrupt(): Promise<void>;
}

/**
 * A point in the primary database's commit history, as replication sees it: per replication
 * stream (a MariaDB GTID domain, a MySQL source uuid) the highest sequence number reached, and
 * the text the database takes back (`gtid`). Positions only grow; two merge stream by stream,
 * keeping the higher `seq`.
 */
export interface StreamPosition {
  readonly stream: string;
  readonly seq: number;
  readonly gtid: string;
}

export type CommitPosition = readonly StreamPosition[];

/** The primary database's side of causal reads. */
export interface PrimaryPosition {
  /**
   * A position at or after every transaction committed so far; null when the primary keeps no
   * GTIDs (no binary log), so no replica read can be proved to follow a write.
   */
  current(): Promise<CommitPosition | null>;
}

/**
 * Per application, the position its writes reached, shared by every replica of every program:
 * raised after each commit, before the write is answered (or its read-your-writes entry goes).
 */
export interface PositionStore {
  /** Raises the application's position stream by stream; never lowers one. */
  advance(token: string, position: CommitPosition): Promise<void>;
  /** Null when none is kept: never written, expired, or the store lost its data. */
  get(token: string): Promise<CommitPosition | null>;
}

/** What the API's GETs and lists read from MySQL, on the primary or on a replica. */
export interface ReadViews {
  readonly applications: Pick<ApplicationRepository, 'findByToken'>;
  readonly chats: Pick<ChatRepository, 'find' | 'list'>;
  readonly messages: Pick<MessageRepository, 'find' | 'list'>;
  /** The built-in MySQL search on the same connection; absent with Elasticsearch. */
  readonly search?: SearchPort;
}

export type ReplicaRead<T> =
  { readonly reached: true; readonly value: T } | { readonly reached: false };

/** Reads on a read replica, each made only once the replica applied a given position. */
export interface ReplicaSessions {
  /**
   * Runs `read` on one replica connection after the replica applied `position`, waiting for it
   * up to the adapter's bound; `reached: false`, having read nothing, when it did not in time.
   */
  at<T>(position: CommitPosition, read: (views: ReadViews) => Promise<T>): Promise<ReplicaRead<T>>;
}

/**
 * The durable registry of write queues (MySQL `write_queues`): which partition sets APIs send
 * to, when each was last renewed, and which are drained. See internal/domain/partitions.ts.
 */
export interface WriteQueueRegistry {
  /** Registers the set's queues, or renews them; clears a drain (the set is in use again). */
  heartbeat(base: string, partitions: number, queues: readonly string[]): Promise<void>;
  /** Every queue registered under the base queue, with its idle time by the database's clock. */
  list(base: string): Promise<RegisteredQueue[]>;
}

/** What the consumer's watch of the write queues needs from the broker. */
export interface WriteQueueControl {
  /** Ready messages in the queue; null when it does not exist (or no connection is up). */
  depth(queue: string): Promise<number | null>;
  /** Consume exactly these queues (the base queue always). */
  consume(queues: readonly string[]): Promise<void>;
  /** Sends a drain mark into a retired queue, confirmed. */
  sendMark(queue: string, mark: QueueDrained): Promise<void>;
}
