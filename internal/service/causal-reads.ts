import type {
  CommitPosition,
  PositionStore,
  PrimaryPosition,
  ReadViews,
  ReplicaSessions,
} from '../domain/ports.js';
import { AppError } from '../domain/errors.js';
import type { Logger } from '../log/logger.js';

/**
 * Where a read went, and why: `replica` once it applied the application's position;
 * otherwise the primary, because the replica lagged past the wait (`primary_lagging`), failed
 * (`primary_replica_error`), the primary keeps no GTIDs (`primary_no_gtid`), or the position
 * could not be read (`primary_position_unavailable`).
 */
export type ReadRoute =
  | 'replica'
  | 'primary_lagging'
  | 'primary_replica_error'
  | 'primary_no_gtid'
  | 'primary_position_unavailable';

export const READ_ROUTES: readonly ReadRoute[] = [
  'replica',
  'primary_lagging',
  'primary_replica_error',
  'primary_no_gtid',
  'primary_position_unavailable',
];

/**
 * The writers' side: after a commit, and before its answer (the API) or the removal of the
 * read-your-writes entries it persisted (the consumer), the applications it touched are raised
 * to a primary position that includes it. Every program that writes runs one while any API
 * reads from a replica.
 */
export class CommitPositions {
  constructor(
    private readonly primary: PrimaryPosition,
    private readonly store: PositionStore,
  ) {}

  /** Rejects when the position could not be kept: the caller must not answer as if it were. */
  async wrote(tokens: Iterable<string>): Promise<void> {
    const unique = [...new Set(tokens)];
    if (unique.length === 0) return;
    // Read after the commit, so it covers it (and possibly later commits: waiting for those
    // costs a little, never correctness).
    const position = await this.primary.current();
    if (position === null) return;
    await Promise.all(unique.map((token) => this.store.advance(token, position)));
  }

  /**
   * The application's position; when none is kept (never written since the store's TTL, or the
   * store lost its data), the primary's position now, which covers every write ever answered,
   * kept so that the following reads wait for the same point rather than a newer one.
   */
  async of(token: string): Promise<CommitPosition | null> {
    const kept = await this.store.get(token);
    if (kept !== null) return kept;
    const now = await this.primary.current();
    if (now !== null) await this.store.advance(token, now);
    return now;
  }
}

/** The primary's views: the services' own repositories. */
export function readViews(repositories: {
  readonly applications?: ReadViews['applications'];
  readonly chats: ReadViews['chats'];
  readonly messages?: ReadViews['messages'];
}): ReadViews {
  const missing = (what: string) => () => Promise.reject(new Error(`no ${what} repository`));
  return {
    applications: repositories.applications ?? { findByToken: missing('application') },
    chats: repositories.chats,
    messages: repositories.messages ?? {
      find: missing('message'),
      list: missing('message'),
    },
  };
}

export interface CausalReadsDeps {
  readonly primary: ReadViews;
  /** Null: no read replica, every read goes to the primary. */
  readonly replica: ReplicaSessions | null;
  /**
   * Whether writes record positions; default: while reading a replica. On without a replica
   * while a deployment turns replica reads on: every API replica must record before any reads.
   */
  readonly recording?: boolean;
  readonly positions: CommitPositions;
  readonly logger: Logger;
  readonly onRead?: (route: ReadRoute) => void;
}

/**
 * Read-your-writes across a read replica: a read of an application goes to the replica only
 * once the replica applied every write of that application answered so far (its position), and
 * to the primary otherwise. A client that got a 2xx therefore never reads an older state on
 * its next request, from any API replica.
 */
export class CausalReads {
  constructor(private readonly deps: CausalReadsDeps) {}

  get replicated(): boolean {
    return this.deps.replica !== null;
  }

  /** Call after a committed write, before answering it. */
  async wrote(token: string): Promise<void> {
    if (!(this.deps.recording ?? this.deps.replica !== null)) return;
    await this.deps.positions.wrote([token]);
  }

  /**
   * Runs `read` against views of the database that include every write of `token` answered
   * before this call. Call it after looking up read-your-writes entries, never before: an entry
   * removed meanwhile was removed after its position was kept.
   */
  async read<T>(token: string, read: (views: ReadViews) => Promise<T>): Promise<T> {
    const { replica, primary } = this.deps;
    if (replica === null) return read(primary);
    let position: CommitPosition | null;
    try {
      position = await this.deps.positions.of(token);
    } catch (err) {
      this.deps.logger.warn({ err }, 'application position unavailable; reading the primary');
      return this.primary('primary_position_unavailable', read);
    }
    if (position === null) return this.primary('primary_no_gtid', read);
    let result;
    try {
      result = await replica.at(position, read);
    } catch (err) {
      // The read's own answer (a 404, a bad cursor) is not the replica failing.
      if (err instanceof AppError) throw err;
      this.deps.logger.warn({ err }, 'read replica failed; reading the primary');
      return this.primary('primary_replica_error', read);
    }
    if (!result.reached) return this.primary('primary_lagging', read);
    this.deps.onRead?.('replica');
    return result.value;
  }

  private primary<T>(route: ReadRoute, read: (views: ReadViews) => Promise<T>): Promise<T> {
    this.deps.onRead?.(route);
    return read(this.deps.primary);
  }
}
