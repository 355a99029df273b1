import type { WriteEvent } from '../domain/model.js';
import type {
  BatchHandler,
  BatchOutcome,
  BatchPersister,
  CreateAnnouncer,
  DirtyMarks,
} from '../domain/ports.js';
import type { ConsumerMetrics } from '../metrics/registry.js';
import type { Logger } from '../log/logger.js';
import { retryTransient } from './retry.js';

export interface PersistBatchDeps {
  readonly persist: BatchPersister;
  readonly dirty: Pick<DirtyMarks, 'mark'>;
  /** Errors retrying may heal (the database unreachable): retried, never isolated. */
  readonly isTransient: (err: unknown) => boolean;
  /** Aborts on shutdown: retries stop and the batch is left for redelivery. */
  readonly signal: AbortSignal;
  readonly metrics: ConsumerMetrics;
  readonly logger: Logger;
  /**
   * After the commit, before the ack: announces the persisted creates on their chats' logs
   * and forgets their read-your-writes entries. Retried like the dirty marks; a batch
   * redelivered after a crash announces only what was not announced yet.
   */
  readonly announcer?: CreateAnnouncer;
  /**
   * Causal reads on a MySQL replica: after the commit and before the announcer removes the
   * read-your-writes entries, raises the position of every application of the batch, so a GET
   * that no longer finds an entry waits for (or goes around) a replica without the row.
   * Retried like the announcement, which never runs before it succeeded.
   */
  readonly positions?: { wrote(tokens: Iterable<string>): Promise<void> };
}

const always = () => true;

/**
 * The consumer's unit of work: one transaction for the batch (retried while MySQL is down),
 * then the dirty marks for the flusher, both before anything is acked. The search index is
 * not waited for: the transaction queued the messages in search_outbox (when an index is
 * configured) and the search indexer takes them from there.
 * A batch that fails for a reason retrying cannot fix is split so only the bad events fail.
 */
export class PersistBatch implements BatchHandler {
  constructor(private readonly deps: PersistBatchDeps) {}

  async handle(events: readonly WriteEvent[]) {
    let outcomes: { outcome: BatchOutcome; events: readonly WriteEvent[] }[];
    const retry: { event: WriteEvent; reason: string }[] = [];
    try {
      outcomes = [{ outcome: await this.persist(events), events }];
    } catch (err) {
      // A transient error escapes retrying only on shutdown: leave the batch to redelivery.
      if (this.deps.isTransient(err)) throw err;
      this.deps.logger.warn({ err }, 'batch failed permanently; isolating events');
      outcomes = [];
      for (const event of events) {
        try {
          outcomes.push({ outcome: await this.persist([event]), events: [event] });
        } catch (single) {
          if (this.deps.isTransient(single)) throw single;
          retry.push({ event, reason: reasonOf(single) });
        }
      }
    }

    const deadLetter = outcomes.flatMap(({ outcome }) => outcome.rejected);
    await this.markDirty(outcomes.map((o) => o.outcome));
    const discarded = outcomes.flatMap(({ outcome }) => outcome.discarded);
    const notPersisted = new Set([...deadLetter.map((r) => r.event), ...discarded]);
    const persisted = outcomes.flatMap((o) => o.events).filter((e) => !notPersisted.has(e));
    await this.recordPositions([...persisted, ...discarded]);
    await this.announce(persisted, discarded);
    this.count(
      persisted,
      deadLetter.map((r) => r.event),
      retry.map((r) => r.event),
      discarded,
    );
    return { deadLetter, retry };
  }

  private persist(events: readonly WriteEvent[]): Promise<BatchOutcome> {
    return retryTransient(() => this.deps.persist(events), {
      signal: this.deps.signal,
      isTransient: this.deps.isTransient,
      onRetry: (err, attempt, delayMs) => {
        this.deps.metrics.retries.inc();
        this.deps.logger.warn({ err, attempt, delayMs }, 'persisting batch failed; retrying');
      },
    });
  }

  private markDirty(outcomes: readonly BatchOutcome[]): Promise<void> {
    const apps = [...new Set(outcomes.flatMap((o) => o.touchedApplicationIds))];
    const chats = [...new Set(outcomes.flatMap((o) => o.touchedChatIds))];
    return retryTransient(() => this.deps.dirty.mark(apps, chats), {
      signal: this.deps.signal,
      isTransient: always,
      onRetry: (err, attempt, delayMs) =>
        this.deps.logger.warn({ err, attempt, delayMs }, 'marking counters failed; retrying'),
    });
  }

  private async recordPositions(events: readonly WriteEvent[]): Promise<void> {
    const { positions } = this.deps;
    const tokens = new Set<string>();
    for (const e of events) {
      if (e.kind === 'chat.created' || e.kind === 'message.created') tokens.add(e.applicationToken);
    }
    if (positions === undefined || tokens.size === 0) return;
    await retryTransient(() => positions.wrote(tokens), {
      signal: this.deps.signal,
      isTransient: always,
      onRetry: (err, attempt, delayMs) =>
        this.deps.logger.warn({ err, attempt, delayMs }, 'recording positions failed; retrying'),
    });
  }

  private async announce(
    persisted: readonly WriteEvent[],
    discarded: readonly WriteEvent[],
  ): Promise<void> {
    const { announcer } = this.deps;
    if (announcer === undefined || persisted.length + discarded.length === 0) return;
    await retryTransient(() => announcer.settle(persisted, discarded), {
      signal: this.deps.signal,
      isTransient: always,
      onRetry: (err, attempt, delayMs) =>
        this.deps.logger.warn({ err, attempt, delayMs }, 'announcing creates failed; retrying'),
    });
  }

  private count(
    persisted: readonly WriteEvent[],
    rejected: readonly WriteEvent[],
    retried: readonly WriteEvent[],
    discarded: readonly WriteEvent[],
  ) {
    for (const [events, outcome] of [
      [persisted, 'persisted'],
      [rejected, 'rejected'],
      [retried, 'retried'],
      // For what was deleted before they arrived: acked and dropped, by design.
      [discarded, 'discarded'],
    ] as const) {
      for (const e of events) this.deps.metrics.persisted.inc({ type: e.kind, outcome });
    }
  }
}

function reasonOf(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}
