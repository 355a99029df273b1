import { QueryTypes, type Sequelize, type Transaction } from 'sequelize';
import type { SearchHit, SearchPort, SearchScope } from '../domain/ports.js';
import type { SearchMetrics } from './metrics.js';
import { trigramIndexComplete } from './mysql-trigrams.js';
import { queryTrigrams } from './trigrams.js';

/** Escapes LIKE wildcards so user text always matches literally. */
export function likePattern(term: string): string {
  return `%${term.replace(/[!%_]/g, (c) => `!${c}`)}%`;
}

/**
 * Postings counted per trigram before calling it common. Below it, a search reads the rarest
 * trigram's postings and probes the next ones; at or above it for every trigram, matches are
 * dense and walking the chat newest first reaches a page of them soonest.
 */
export const COMMON_TRIGRAM_POSTINGS = 2_000;
/** Trigrams probed beside the rarest: each cuts candidates, each costs a lookup per candidate. */
const PROBED_TRIGRAMS = 3;
/** While the backfill runs, how long a "not yet" answer is trusted before asking again. */
const BACKFILL_RECHECK_MS = 5_000;

/**
 * The conditions every plan puts on the message rows it returns (`m`): each term by LIKE. The
 * one place for any other condition on which messages a search may return.
 */
function matching(terms: readonly string[]): string {
  // A deleted message keeps a tombstone row (empty content) until its chat is purged.
  return ['AND m.deleted_at IS NULL', ...terms.map(() => "AND m.content LIKE ? ESCAPE '!'")].join(
    ' ',
  );
}

/**
 * The built-in backend for deployments without Elasticsearch: every term must occur as a
 * substring, compared by LIKE under the column's utf8mb4_unicode_520_ci collation (case- and
 * accent-insensitive, emoji compared exactly), newest messages first.
 *
 * A trigram index (message_trigrams, kept by the consumer's search indexer) narrows a chat to
 * candidates: the messages holding the rarest trigrams of the terms, plus those the indexer has
 * not reached yet (still in search_outbox, so a new or edited message is found at once). The
 * same LIKE then decides, so results are exactly those of scanning the chat. Terms under three
 * characters, terms made only of common trigrams, and a database whose backfill has not
 * finished, scan the chat as before.
 */
export class MysqlSearch implements SearchPort {
  private indexComplete = false;
  private checkedAt = -Infinity;

  /**
   * `within`: the statements run in `session` (a replica connection that applied the
   * application's writes), `primary` being the search on the primary this one was made from.
   */
  constructor(
    private readonly sequelize: Sequelize,
    private readonly metrics?: SearchMetrics,
    private readonly now: () => number = () => performance.now(),
    private readonly within?: { readonly session: Transaction; readonly primary: MysqlSearch },
  ) {}

  /**
   * The same search on a replica, its statements in `session`. Every state of a replica is a
   * prefix of the primary's history, in which each message is found through its trigrams or
   * through its outbox row (the indexer removes the row only after writing the trigrams), so
   * results there are as exact as on the primary for what the replica holds.
   */
  inSession(sequelize: Sequelize, session: Transaction): SearchPort {
    return new MysqlSearch(sequelize, this.metrics, this.now, { session, primary: this });
  }

  private get bound(): { transaction?: Transaction } {
    return this.within === undefined ? {} : { transaction: this.within.session };
  }

  async search(
    scope: SearchScope,
    terms: readonly string[],
    page: { limit: number; offset: number },
  ): Promise<SearchHit[]> {
    const timer = this.metrics?.searchDuration.startTimer({ backend: 'mysql' });
    try {
      const hits = await this.find(scope, terms, page);
      timer?.({ outcome: 'ok' });
      return hits;
    } catch (err) {
      timer?.({ outcome: 'error' });
      throw err;
    }
  }

  private async find(
    scope: SearchScope,
    terms: readonly string[],
    page: { limit: number; offset: number },
  ): Promise<SearchHit[]> {
    const [chat] = await this.sequelize.query<{ id: number | string }>(
      `SELECT c.id FROM chats c JOIN applications a ON a.id = c.application_id
        WHERE a.token = ? AND c.number = ? AND c.deleted_at IS NULL AND a.deleted_at IS NULL`,
      {
        replacements: [scope.applicationToken, scope.chatNumber],
        type: QueryTypes.SELECT,
        ...this.bound,
      },
    );
    if (chat === undefined) return [];
    const grams = queryTrigrams(terms);
    const ranked =
      grams.length > 0 && (await this.indexed()) ? await this.rank(chat.id, grams) : [];
    const rarest = ranked[0];
    const rows =
      rarest === undefined || rarest.postings >= COMMON_TRIGRAM_POSTINGS
        ? await this.scan(chat.id, terms, page)
        : await this.candidates(
            chat.id,
            ranked.slice(0, 1 + PROBED_TRIGRAMS).map((r) => r.trigram),
            terms,
            page,
          );
    return rows.map((row) => ({ number: row.number, content: row.content }));
  }

  /** The chat's messages newest first, each checked by LIKE: stops after a page of matches. */
  private scan(
    chatId: number | string,
    terms: readonly string[],
    page: { limit: number; offset: number },
  ) {
    return this.sequelize.query<{ number: number; content: string }>(
      `SELECT m.number, m.content
         FROM messages m
        WHERE m.chat_id = ? ${matching(terms)}
        ORDER BY m.number DESC
        LIMIT ? OFFSET ?`,
      {
        replacements: [chatId, ...terms.map(likePattern), page.limit, page.offset],
        type: QueryTypes.SELECT,
        ...this.bound,
      },
    );
  }

  /**
   * Messages holding every one of `grams` (the rarest first, driving), plus the chat's
   * messages still waiting for the indexer, verified by LIKE. Outbox rows queued before the
   * chat column existed have none: they are found through their message.
   */
  private candidates(
    chatId: number | string,
    grams: readonly string[],
    terms: readonly string[],
    page: { limit: number; offset: number },
  ) {
    const [driving, ...probes] = grams;
    return this.sequelize.query<{ number: number; content: string }>(
      `SELECT m.number, m.content
         FROM (
           SELECT t0.message_id
             FROM message_trigrams t0
             ${probes
               .map(
                 (_, i) =>
                   `JOIN message_trigrams t${i + 1}
                      ON t${i + 1}.chat_id = ? AND t${i + 1}.trigram = ?
                     AND t${i + 1}.message_id = t0.message_id`,
               )
               .join(' ')}
            WHERE t0.chat_id = ? AND t0.trigram = ?
           UNION
           SELECT o.message_id FROM search_outbox o WHERE o.chat_id = ?
           UNION
           SELECT o.message_id
             FROM search_outbox o JOIN messages p ON p.id = o.message_id
            WHERE o.chat_id IS NULL AND p.chat_id = ?
         ) candidate
         JOIN messages m ON m.id = candidate.message_id
        WHERE m.chat_id = ? ${matching(terms)}
        ORDER BY m.number DESC
        LIMIT ? OFFSET ?`,
      {
        replacements: [
          ...probes.flatMap((gram) => [chatId, gram]),
          chatId,
          driving,
          chatId,
          chatId,
          chatId,
          ...terms.map(likePattern),
          page.limit,
          page.offset,
        ],
        type: QueryTypes.SELECT,
        ...this.bound,
      },
    );
  }

  /**
   * The trigrams by how many of the chat's messages hold them, rarest first, each count read
   * from its index range and capped at COMMON_TRIGRAM_POSTINGS.
   */
  private async rank(chatId: number | string, grams: readonly string[]) {
    const counts = await this.sequelize.query<{ i: number | string; n: number | string }>(
      grams
        .map(
          (_, i) =>
            `SELECT ${i} AS i, COUNT(*) AS n FROM (
               SELECT 1 FROM message_trigrams WHERE chat_id = ? AND trigram = ? LIMIT ?
             ) g${i}`,
        )
        .join(' UNION ALL '),
      {
        replacements: grams.flatMap((gram) => [chatId, gram, COMMON_TRIGRAM_POSTINGS]),
        type: QueryTypes.SELECT,
        ...this.bound,
      },
    );
    return counts
      .map((row) => ({ trigram: grams[Number(row.i)]!, postings: Number(row.n) }))
      .sort((a, b) => a.postings - b.postings);
  }

  /** Once the backfill has finished it stays finished: asked again only while it has not. */
  private async indexed(): Promise<boolean> {
    if (this.within !== undefined) {
      // Not finished on the primary: not on a replica either. Finished there: a replica may
      // not have applied the end of the backfill yet, so it is asked in the session.
      if (!(await this.within.primary.indexed())) return false;
      return trigramIndexComplete(this.sequelize, this.within.session);
    }
    if (this.indexComplete) return true;
    if (this.now() - this.checkedAt < BACKFILL_RECHECK_MS) return false;
    this.indexComplete = await trigramIndexComplete(this.sequelize);
    this.checkedAt = this.now();
    return this.indexComplete;
  }
}
