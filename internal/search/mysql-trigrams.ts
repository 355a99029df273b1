import { QueryTypes, Transaction, type Sequelize } from 'sequelize';
import type { IndexedMessage, SearchBackfill, SearchIndexer } from '../domain/ports.js';
import { trigramsOf } from './trigrams.js';

/**
 * The trigram index is written in the consumer's own database, at about forty rows per
 * message: while the consumer spends at least half of its time persisting (a backlog), the
 * indexer takes at most a quarter of the time (it rests three times as long as each batch
 * took). Beside a mostly idle consumer it runs at full speed.
 */
export const TRIGRAM_INDEXER_YIELD = { windowMs: 1_000, busyShare: 0.5, factor: 3 } as const;

/** A message as the trigram index needs it. */
interface IndexRow {
  id: number | string;
  chat_id: number | string;
  content: string;
}

/** Rows per INSERT: statements of about 150 kB, well under max_allowed_packet. */
const INSERT_CHUNK = 5_000;

/**
 * Adds the trigrams of `rows` to message_trigrams. INSERT IGNORE: trigrams that differ only
 * in ways the collation ignores (case, accents) are one key, and a replay is a no-op.
 */
async function insertTrigrams(
  sequelize: Sequelize,
  transaction: Transaction,
  rows: readonly IndexRow[],
): Promise<void> {
  const values: (number | string)[][] = [];
  for (const row of rows) {
    for (const trigram of trigramsOf(row.content)) values.push([row.chat_id, trigram, row.id]);
  }
  for (let i = 0; i < values.length; i += INSERT_CHUNK) {
    const chunk = values.slice(i, i + INSERT_CHUNK);
    await sequelize.query(
      `INSERT IGNORE INTO message_trigrams (chat_id, trigram, message_id)
       VALUES ${chunk.map(() => '(?, ?, ?)').join(', ')}`,
      { replacements: chunk.flat(), transaction },
    );
  }
}

/**
 * Removes every trigram of these messages. Deleting a message row does the same (ON DELETE
 * CASCADE); this is for removing them first, in batches, or without deleting the row.
 */
export async function removeMessageTrigrams(
  sequelize: Sequelize,
  messageIds: readonly (number | string)[],
  transaction?: Transaction,
): Promise<void> {
  if (messageIds.length === 0) return;
  await sequelize.query(
    `DELETE FROM message_trigrams WHERE message_id IN (${messageIds.map(() => '?').join(', ')})`,
    { replacements: [...messageIds], ...(transaction === undefined ? {} : { transaction }) },
  );
}

/**
 * Writing trigrams never depends on what a message says, so no failure is for good: the
 * indexer loop keeps the entries and retries (a dropped entry would be a message search
 * misses).
 */
export class TrigramIndexError extends Error {
  readonly retryable = true;

  constructor(cause: unknown) {
    super('could not write the trigram index', { cause });
    this.name = 'TrigramIndexError';
  }
}

/**
 * The built-in search's indexer, fed by the consumer's search indexer loop from search_outbox
 * (and by an edit's fast path). It replaces each message's trigrams with those of what MySQL
 * holds now, read under a row lock in the same transaction: two indexers racing on one message,
 * or an edit landing meanwhile, leave the trigrams of the content that won, never of a stale
 * copy. The messages' own text is what counts, not the copy it is given.
 */
export class MysqlTrigramIndexer implements SearchIndexer {
  constructor(private readonly sequelize: Sequelize) {}

  async index(messages: readonly IndexedMessage[]): Promise<void> {
    try {
      await this.replace(messages);
    } catch (err) {
      throw new TrigramIndexError(err);
    }
  }

  /**
   * A deleted message's row is a tombstone with its content erased: replacing its trigrams from
   * the row leaves none.
   */
  remove(messages: readonly IndexedMessage[]): Promise<void> {
    return this.index(messages);
  }

  /** A purged chat's or application's trigrams go with its message rows (ON DELETE CASCADE). */
  removeScope(): Promise<void> {
    return Promise.resolve();
  }

  private async replace(messages: readonly IndexedMessage[]): Promise<void> {
    const where = await this.messagesWhere(messages);
    if (where === null) return;
    await this.sequelize.transaction(
      { isolationLevel: Transaction.ISOLATION_LEVELS.READ_COMMITTED },
      async (transaction) => {
        // Ranges of the (chat_id, number) key: only these rows are read and locked.
        const rows = await this.sequelize.query<IndexRow>(
          `SELECT id, chat_id, content FROM messages WHERE ${where.sql} FOR UPDATE`,
          { replacements: where.replacements, type: QueryTypes.SELECT, transaction },
        );
        await removeMessageTrigrams(
          this.sequelize,
          rows.map((r) => r.id),
          transaction,
        );
        await insertTrigrams(this.sequelize, transaction, rows);
      },
    );
  }

  /**
   * The messages as `(chat_id = ? AND number IN (...))` groups, their chats looked up first: a
   * condition on the joined application and chat would read every message of those chats.
   * Null when none of their chats exists (gone).
   */
  private async messagesWhere(
    messages: readonly IndexedMessage[],
  ): Promise<{ sql: string; replacements: unknown[] } | null> {
    const byToken = new Map<string, Set<number>>();
    for (const m of messages) {
      const chats = byToken.get(m.applicationToken) ?? new Set<number>();
      chats.add(m.chatNumber);
      byToken.set(m.applicationToken, chats);
    }
    if (byToken.size === 0) return null;
    const groups = [...byToken];
    const chats = await this.sequelize.query<{
      id: number | string;
      token: string;
      number: number;
    }>(
      `SELECT c.id, a.token, c.number FROM chats c JOIN applications a ON a.id = c.application_id
        WHERE ${groups.map(([, numbers]) => `(a.token = ? AND c.number IN (${[...numbers].map(() => '?').join(', ')}))`).join(' OR ')}`,
      {
        replacements: groups.flatMap(([token, numbers]) => [token, ...numbers]),
        type: QueryTypes.SELECT,
      },
    );
    const chatIds = new Map(chats.map((c) => [`${c.token}:${c.number}`, c.id]));
    const numbersByChat = new Map<number | string, number[]>();
    for (const m of messages) {
      const chatId = chatIds.get(`${m.applicationToken}:${m.chatNumber}`);
      if (chatId === undefined) continue;
      const numbers = numbersByChat.get(chatId) ?? [];
      numbers.push(m.number);
      numbersByChat.set(chatId, numbers);
    }
    if (numbersByChat.size === 0) return null;
    const parts = [...numbersByChat];
    return {
      sql: parts
        .map(([, numbers]) => `(chat_id = ? AND number IN (${numbers.map(() => '?').join(', ')}))`)
        .join(' OR '),
      replacements: parts.flatMap(([chatId, numbers]) => [chatId, ...numbers]),
    };
  }
}

/**
 * Indexes the messages stored before the trigram index existed, a batch at a time from a
 * cursor kept in search_trigram_backfill (resumable: a crash loses at most one batch, which the
 * next step redoes). Adds trigrams only: a message edited meanwhile keeps the trigrams the
 * indexer gave it, plus possibly stale ones, which the exact LIKE filters out. Searches scan,
 * as before the index, until the backfill has finished.
 */
export class MysqlTrigramBackfill implements SearchBackfill {
  constructor(
    private readonly sequelize: Sequelize,
    private readonly batchSize = 1_000,
  ) {}

  async step(): Promise<{ indexed: number; finished: boolean }> {
    return this.sequelize.transaction(
      { isolationLevel: Transaction.ISOLATION_LEVELS.READ_COMMITTED },
      async (transaction) => {
        // The state row's lock makes concurrent backfills (two consumers, a reindex) take turns.
        const [state] = await this.sequelize.query<{
          after_message_id: number | string;
          finished_at: Date | null;
        }>(
          'SELECT after_message_id, finished_at FROM search_trigram_backfill WHERE id = 1 FOR UPDATE',
          { type: QueryTypes.SELECT, transaction },
        );
        if (state === undefined || state.finished_at !== null)
          return { indexed: 0, finished: true };
        const rows = await this.sequelize.query<IndexRow>(
          `SELECT id, chat_id, content FROM messages WHERE id > ? ORDER BY id LIMIT ? FOR UPDATE`,
          {
            replacements: [state.after_message_id, this.batchSize],
            type: QueryTypes.SELECT,
            transaction,
          },
        );
        await insertTrigrams(this.sequelize, transaction, rows);
        const finished = rows.length < this.batchSize;
        await this.sequelize.query(
          `UPDATE search_trigram_backfill
              SET after_message_id = ?, finished_at = ${finished ? 'UTC_TIMESTAMP(3)' : 'NULL'}
            WHERE id = 1`,
          { replacements: [rows.at(-1)?.id ?? state.after_message_id], transaction },
        );
        return { indexed: rows.length, finished };
      },
    );
  }
}

/** Whether the backfill has finished, so the index covers every message. */
export async function trigramIndexComplete(
  sequelize: Sequelize,
  session?: Transaction,
): Promise<boolean> {
  const [row] = await sequelize.query<{ finished_at: Date | null }>(
    'SELECT finished_at FROM search_trigram_backfill WHERE id = 1',
    { type: QueryTypes.SELECT, ...(session === undefined ? {} : { transaction: session }) },
  );
  return row !== undefined && row.finished_at !== null;
}
