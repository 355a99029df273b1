import type { LeaderLock, SearchIndexer, SearchOutboxPort } from '../domain/ports.js';
import type { SearchIndexMetrics } from '../metrics/registry.js';
import type { Logger } from '../log/logger.js';
import { runJobAsLeader } from './leader-loop.js';

export interface IndexSearchDeps {
  readonly outbox: SearchOutboxPort;
  /** Null for the MySQL search: nothing to index, edits' outbox entries are just cleared. */
  readonly indexer: SearchIndexer | null;
  /** One replica drains at a time; the others stand by. */
  readonly lock: LeaderLock;
  readonly batchSize: number;
  /** Pause between polls while the outbox is empty, and while another replica drains. */
  readonly intervalMs: number;
  readonly metrics: Pick<SearchIndexMetrics, 'indexed' | 'failures'>;
  readonly logger: Logger;
  /** Backoff after a failed round: doubles from baseMs up to maxMs. */
  readonly backoff?: { readonly baseMs: number; readonly maxMs: number };
}

/** SearchUnavailableError, and bulk failures with any 429/5xx, say `retryable`. */
const retryable = (err: unknown) => (err as { retryable?: unknown }).retryable === true;

/**
 * The search indexer: takes messages from search_outbox (queued by the consumer's batch and by
 * edits and deletes, in their own transactions) into the search index (a deleted one out of
 * it), oldest first, and removes an entry only once the index took it. While the index is down
 * it retries with capped backoff and the backlog waits in MySQL (search_index_lag_seconds
 * grows); it catches up by itself. Persisting never waits for it.
 */
export class IndexSearch {
  constructor(private readonly deps: IndexSearchDeps) {}

  /**
   * Indexes until the outbox is empty (or the signal aborts); returns how many it took.
   * Throws what the index threw when retrying may heal it, leaving those entries pending.
   */
  async drain(signal: AbortSignal): Promise<number> {
    const { outbox, indexer, batchSize, metrics } = this.deps;
    let total = 0;
    for (;;) {
      if (signal.aborted) return total;
      const entries = await outbox.pending(batchSize);
      if (entries.length === 0) return total;
      if (indexer !== null) {
        try {
          const live = entries.filter((e) => !e.deleted).map((e) => e.message);
          const deleted = entries.filter((e) => e.deleted).map((e) => e.message);
          if (live.length > 0) await indexer.index(live);
          if (deleted.length > 0) await indexer.remove(deleted);
        } catch (err) {
          if (retryable(err)) throw err;
          // Documents the index refuses for good would block everything queued behind them:
          // they are in MySQL, counted in search_index_errors_total, and `npm run reindex`
          // restores them.
          this.deps.logger.error({ err }, 'search index refused messages; dropping them');
        }
      }
      await outbox.done(entries);
      metrics.indexed.inc(entries.length);
      total += entries.length;
      if (entries.length < batchSize) return total;
    }
  }

  /** Runs until the signal aborts (shutdown). Never throws. */
  run(signal: AbortSignal): Promise<void> {
    return runJobAsLeader(signal, this.deps, 'indexing failed; retrying', (held) =>
      this.drain(held),
    );
  }
}
