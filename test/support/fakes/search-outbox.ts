import type {
  IndexedMessage,
  LeaderLock,
  LockHandle,
  OutboxEntry,
  OutboxLag,
  SearchBackfill,
  SearchIndexer,
  SearchOutboxPort,
} from '../../../internal/domain/ports.js';

/** search_outbox in memory: entries by message id, oldest queued first. */
export class FakeSearchOutbox implements SearchOutboxPort {
  private readonly entries = new Map<number, OutboxEntry>();
  /** Fails the next calls to pending() with this error, as a MySQL outage would. */
  failPending = 0;

  queue(messageId: number, message: IndexedMessage, queuedAt = new Date(), deleted = false): void {
    this.entries.set(messageId, { messageId, message, queuedAt, deleted });
  }

  get size(): number {
    return this.entries.size;
  }

  pending(
    limit: number,
    where?: { token: string; chatNumber: number; number: number },
  ): Promise<OutboxEntry[]> {
    if (this.failPending > 0) {
      this.failPending -= 1;
      return Promise.reject(new Error('mysql unreachable'));
    }
    const oldest = [...this.entries.values()]
      .filter(
        ({ message: m }) =>
          where === undefined ||
          (m.applicationToken === where.token &&
            m.chatNumber === where.chatNumber &&
            m.number === where.number),
      )
      .sort((a, b) => a.queuedAt.getTime() - b.queuedAt.getTime() || a.messageId - b.messageId);
    return Promise.resolve(oldest.slice(0, limit));
  }

  done(entries: readonly OutboxEntry[]): Promise<void> {
    for (const e of entries) {
      // Queued again since it was read (an edit): that newer entry stays.
      if (this.entries.get(e.messageId)?.queuedAt.getTime() === e.queuedAt.getTime()) {
        this.entries.delete(e.messageId);
      }
    }
    return Promise.resolve();
  }

  lag(): Promise<OutboxLag> {
    const times = [...this.entries.values()].map((e) => e.queuedAt.getTime());
    return Promise.resolve({
      pending: times.length,
      oldestQueuedAt: times.length === 0 ? null : new Date(Math.min(...times)),
    });
  }
}

/** A search index that is down while `down` is true (answers as a 503 would). */
export class FakeSearchIndexer implements SearchIndexer {
  readonly indexed: IndexedMessage[] = [];
  down = false;
  calls = 0;
  /** Message numbers the index refuses for good (a mapping conflict). */
  readonly refuse = new Set<number>();

  readonly removed: IndexedMessage[] = [];
  readonly removedScopes: { applicationToken: string; chatNumber?: number }[] = [];

  remove(messages: readonly IndexedMessage[]): Promise<void> {
    this.calls += 1;
    if (this.down) {
      return Promise.reject(Object.assign(new Error('index unavailable'), { retryable: true }));
    }
    this.removed.push(...messages);
    return Promise.resolve();
  }

  removeScope(scope: { applicationToken: string; chatNumber?: number }): Promise<void> {
    if (this.down) {
      return Promise.reject(Object.assign(new Error('index unavailable'), { retryable: true }));
    }
    this.removedScopes.push(scope);
    return Promise.resolve();
  }

  index(messages: readonly IndexedMessage[]): Promise<void> {
    this.calls += 1;
    if (this.down) {
      return Promise.reject(Object.assign(new Error('index unavailable'), { retryable: true }));
    }
    const refused = messages.filter((m) => this.refuse.has(m.number));
    this.indexed.push(...messages.filter((m) => !this.refuse.has(m.number)));
    if (refused.length > 0) {
      return Promise.reject(Object.assign(new Error('mapping conflict'), { retryable: false }));
    }
    return Promise.resolve();
  }
}

/** A lock that another holder may keep (`heldElsewhere`) or take away (`lose()`). */
export class FakeLock implements LeaderLock {
  heldElsewhere = false;
  private current: AbortController | null = null;

  tryAcquire(): Promise<LockHandle | null> {
    if (this.heldElsewhere || this.current !== null) return Promise.resolve(null);
    const controller = new AbortController();
    this.current = controller;
    return Promise.resolve({
      signal: controller.signal,
      release: () => {
        if (this.current === controller) this.current = null;
        return Promise.resolve();
      },
    });
  }

  lose(): void {
    this.current?.abort(new Error('lock lost'));
    this.current = null;
  }
}

/** A backfill that finishes after `total` steps; `onStep` runs inside each step. */
export class FakeSearchBackfill implements SearchBackfill {
  steps = 0;
  readonly log: string[] = [];
  onStep: () => void = () => undefined;

  constructor(private readonly total: number) {}

  step(): Promise<{ indexed: number; finished: boolean }> {
    if (this.steps >= this.total) return Promise.resolve({ indexed: 0, finished: true });
    this.steps += 1;
    this.onStep();
    return Promise.resolve({ indexed: 1, finished: this.steps === this.total });
  }
}
