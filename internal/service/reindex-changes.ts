import type { SearchIndexer, SearchOutboxPort } from '../domain/ports.js';
import type { Logger } from '../log/logger.js';

/** One message, as the API names it. */
export interface MessageRef {
  readonly token: string;
  readonly chatNumber: number;
  readonly number: number;
}

/**
 * Brings the search index up to date with an edited or deleted message at once, from what MySQL
 * holds now (a deleted one is removed). The change's outbox row (written in its own
 * transaction) is removed only after the index took it, so when the index is down the row stays
 * and the consumer's search indexer (jobs/index-search.ts) finishes the job on a later pass.
 * Never fails the edit or delete.
 */
export function reindexChanges(
  outbox: SearchOutboxPort,
  indexer: SearchIndexer | null,
  logger: Logger,
): (message: MessageRef) => Promise<void> {
  return async (where) => {
    if (indexer === null) return;
    try {
      const pending = await outbox.pending(1, where);
      const live = pending.filter((e) => !e.deleted).map((e) => e.message);
      const deleted = pending.filter((e) => e.deleted).map((e) => e.message);
      if (live.length > 0) await indexer.index(live);
      if (deleted.length > 0) await indexer.remove(deleted);
      await outbox.done(pending);
    } catch (err) {
      logger.warn({ err }, 'search index update left to the search indexer');
    }
  };
}
