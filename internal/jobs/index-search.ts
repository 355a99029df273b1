import type {
  LeaderLock,
  SearchBackfill,
  SearchIndexer,
  SearchOutboxPort,
} from '../domain/ports.js';
import type { SearchIndexMetrics } from '../metrics/registry.js';
import type { Logger } from '../log/logger.js';
import { pause, runJobAsLeader } from './leader-loop.js';

export interface IndexSearchDeps {
  readonly outbox: SearchOutboxPort;
  /** Elasticsearch's bulk indexing, or the built-in search's trigram index. */
  readonly indexer: SearchIndexer;
  /**
   * Run a step at a time whenever the outbox is empty, until finished: new and edited
   * messages always go first.
   */
  readonly backfill?: SearchBackfill | null;
  /** One replica drains at a time; the others stand by. */
  readonly lock: LeaderLock;
  readonly batchSize: number;
  /** Pause between polls while the outbox is empty, and while another replica drains. */
  readonly intervalMs: number;
  readonly metrics: Pick<SearchIndexMetrics, 'indexed' | 'failures'>;
  readonly logger: Logger;
  /**
   * For an index in the consumer's own database: while `busy()` (the consumer is persisting),
   * the loop rests after each batch `factor` times as long as the batch took, so indexing takes
   * at most 1/(1+factor) of the time and persistence keeps its rate. The backlog waits in the
   * outbox and is caught up when the writes calm down.
   */
  readonly yieldTo?: { readonly busy: () => boolean; readonly factor: number };
  /** Backoff after a failed round: doubles from baseMs up to maxMs. */
  readonly backoff?: { readonly baseMs: number; readonly maxMs: number };
}

/**
 * SearchUnavailableError, bulk failures with any 429/5xx, and every trigram index failure say
 * `retryable`.
 */
const retryable = (err: unknown) => (err as { retryable?: unknown }).retryable === true;

/**
 * The search indexer: takes messages from search_outbox (queued by the consumer's batch and by
 * edits and deletes, in their own transactions) into the search index (a deleted one out of
 * it), oldest first, and removes an entry only once the index took it. While the index is down
 * it retries with capped backoff and the backlog waits in MySQL (search_index_lag_seconds
 * grows); it catches up by itself. Persisting never waits for it.
 */
export class IndexSearch {
  private backfillFinished = false;

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
      const started = performance.now();
      const entries = await outbox.pending(batchSize);
      if (entries.length === 0) return total;
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
      await outbox.done(entries);
      metrics.indexed.inc(entries.length);
      total += entries.length;
      // After every batch, full or not: a loop taking whatever trickled in meanwhile would
      // otherwise index continuously beside the writes.
      await this.rest(performance.now() - started, signal);
      if (entries.length < batchSize) return total;
    }
  }

  /** Gives way to the consumer's writes after `tookMs` of indexing, when they are running. */
  private async rest(tookMs: number, signal: AbortSignal): Promise<void> {
    const yieldTo = this.deps.yieldTo;
    if (yieldTo !== undefined && yieldTo.busy()) await pause(tookMs * yieldTo.factor, signal);
  }

  /** One backfill step, if one is left; true while more remain. */
  private async backfillStep(signal: AbortSignal): Promise<boolean> {
    if (this.backfillFinished || signal.aborted) return false;
    const backfill = this.deps.backfill;
    if (backfill === undefined || backfill === null) return false;
    const started = performance.now();
    const { finished } = await backfill.step();
    await this.rest(performance.now() - started, signal);
    if (finished) {
      this.backfillFinished = true;
      this.deps.logger.info('search index backfill finished');
    }
    return !finished;
  }

  /** Runs until the signal aborts (shutdown). Never throws. */
  run(signal: AbortSignal): Promise<void> {
    return runJobAsLeader(signal, this.deps, 'indexing failed; retrying', async (held) => {
      await this.drain(held);
      // More backfill to do: the next round starts at once.
      return this.backfillStep(held);
    });
  }
}
