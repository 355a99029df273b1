import type { LeaderLock, LiveLog, PurgeStore, PurgeTask, SearchIndexer } from '../domain/ports.js';
import type { PurgeMetrics } from '../metrics/registry.js';
import type { Logger } from '../log/logger.js';
import { runJobAsLeader } from './leader-loop.js';

export interface PurgeDeletedDeps {
  readonly store: PurgeStore;
  /** Null for the MySQL search: the rows are the index. */
  readonly indexer: SearchIndexer | null;
  /** One replica purges at a time; the others stand by. */
  readonly lock: LeaderLock;
  /** Rows per statement. */
  readonly batchSize: number;
  /** Pause between polls while nothing is queued. */
  readonly intervalMs: number;
  readonly metrics: Pick<PurgeMetrics, 'rows' | 'tasks' | 'failures'>;
  readonly logger: Logger;
  readonly backoff?: { readonly baseMs: number; readonly maxMs: number };
  /** Event streams: each chat of a deleted application gets chat.deleted, ending its streams. */
  readonly live?: LiveLog;
}

/**
 * The background half of a delete: removes the rows of deleted chats and applications in
 * bounded batches (the API answered 204 after one row update), then their search documents,
 * then forgets the task. Every step is idempotent, so a purge cut short (a crash, a lost lock)
 * is resumed by whichever replica holds the lock next. Creates still queued for what is purged
 * meet the tombstones the purge leaves and are dropped.
 */
export class PurgeDeleted {
  constructor(private readonly deps: PurgeDeletedDeps) {}

  /** Purges until nothing is queued (or the signal aborts); returns the rows removed. */
  async drain(signal: AbortSignal): Promise<number> {
    let total = 0;
    for (;;) {
      if (signal.aborted) return total;
      const task = await this.deps.store.next();
      if (task === null) return total;
      await this.endStreams(task);
      const removed = await this.purge(task, signal);
      total += removed;
      if (signal.aborted) return total;
      await this.removeDocuments(task);
      await this.deps.store.finish(task);
      this.deps.metrics.tasks.inc({ kind: task.kind });
      this.deps.logger.info({ kind: task.kind, rows: removed }, 'deleted records purged');
    }
  }

  /** Runs until the signal aborts (shutdown). Never throws. */
  run(signal: AbortSignal): Promise<void> {
    return runJobAsLeader(signal, this.deps, 'purge failed; retrying', (held) => this.drain(held));
  }

  /**
   * Before its rows go (they name its chats): a deleted application's chats each get
   * chat.deleted, as a chat deleted on its own does, so streams open on them end. Repeated when
   * a purge is resumed, which a stream that ended already never sees.
   */
  private async endStreams(task: PurgeTask): Promise<void> {
    const { live } = this.deps;
    const token = task.applicationToken;
    if (live === undefined || task.kind !== 'application' || token === null) return;
    for (const chatNumber of await this.deps.store.chatNumbers(task)) {
      await live.append(token, chatNumber, {
        type: 'chat.deleted',
        data: { application_token: token, chat_number: chatNumber },
      });
    }
  }

  private async purge(task: PurgeTask, signal: AbortSignal): Promise<number> {
    let total = 0;
    while (!signal.aborted) {
      const removed = await this.deps.store.purgeSome(task, this.deps.batchSize);
      if (removed === 0) break;
      this.deps.metrics.rows.inc({ kind: task.kind }, removed);
      total += removed;
    }
    return total;
  }

  /**
   * After the rows: a message indexed from an outbox entry read before they went is removed
   * too. (Searches never show a deleted chat's documents meanwhile: a search of a deleted chat
   * or application is a 404.)
   */
  private async removeDocuments(task: PurgeTask): Promise<void> {
    if (this.deps.indexer === null || task.applicationToken === null) return;
    await this.deps.indexer.removeScope(
      task.chatNumber === null
        ? { applicationToken: task.applicationToken }
        : { applicationToken: task.applicationToken, chatNumber: task.chatNumber },
    );
  }
}
