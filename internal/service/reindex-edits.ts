import type { MessageView } from '../domain/representation.js';
import type { SearchIndexer, SearchOutboxPort } from '../domain/ports.js';
import type { Logger } from '../log/logger.js';

/**
 * Re-indexes an edited message at once, from what MySQL holds now. The edit's outbox row
 * (written in the edit's transaction) is removed only after the index took it, so when the
 * index is down the row stays and the consumer's search indexer (jobs/index-search.ts)
 * re-indexes it on a later pass. Never fails the edit.
 */
export function reindexEdits(
  outbox: SearchOutboxPort,
  indexer: SearchIndexer,
  logger: Logger,
): (view: MessageView) => Promise<void> {
  return async (view) => {
    const where = {
      token: view.application_token,
      chatNumber: view.chat_number,
      number: view.message_number,
    };
    try {
      const pending = await outbox.pending(1, where);
      await indexer.index(pending.map((e) => e.message));
      await outbox.done(pending);
    } catch (err) {
      logger.warn({ err }, 're-index after edit left to the search indexer');
    }
  };
}
