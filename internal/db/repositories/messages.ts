import { QueryTypes, Transaction, type Sequelize } from 'sequelize';
import type { MessageRepository, MessageState } from '../../domain/ports.js';
import type { Message, Page } from '../../domain/model.js';
import { sqlDateTime } from '../datetime.js';
import {
  LIVE_MESSAGE,
  MESSAGE_COLUMNS,
  MESSAGE_JOINS,
  paginate,
  recordState,
  toMessage,
  type MessageRow,
  inSession,
} from './rows.js';

const SELECT_MESSAGE = `SELECT ${MESSAGE_COLUMNS} FROM messages m ${MESSAGE_JOINS}`;

export class SqlMessageRepository implements MessageRepository {
  /** `session`: the reads run in it (a replica connection held while it was waited for). */
  constructor(
    private readonly sequelize: Sequelize,
    private readonly session?: Transaction,
  ) {}

  async find(token: string, chatNumber: number, number: number): Promise<Message | null> {
    const rows = await this.sequelize.query<MessageRow>(
      `${SELECT_MESSAGE} WHERE a.token = ? AND c.number = ? AND m.number = ? AND ${LIVE_MESSAGE}`,
      {
        replacements: [token, chatNumber, number],
        type: QueryTypes.SELECT,
        ...inSession(this.session),
      },
    );
    return rows[0] === undefined ? null : toMessage(rows[0]);
  }

  async list(
    token: string,
    chatNumber: number,
    limit: number,
    after: number | null,
  ): Promise<Page<Message>> {
    const rows = await this.sequelize.query<MessageRow>(
      `${SELECT_MESSAGE} WHERE a.token = ? AND c.number = ? AND m.number > ? AND ${LIVE_MESSAGE}
        ORDER BY m.number LIMIT ?`,
      {
        replacements: [token, chatNumber, after ?? 0, limit + 1],
        type: QueryTypes.SELECT,
        ...inSession(this.session),
      },
    );
    return paginate(rows, limit, toMessage, (row) => String(row.number));
  }

  /** Updates the content and queues the message for re-indexing in the same transaction. */
  async edit(
    token: string,
    chatNumber: number,
    number: number,
    content: string,
  ): Promise<Message | null> {
    const now = sqlDateTime(new Date());
    const changed = await this.sequelize.transaction(
      { isolationLevel: Transaction.ISOLATION_LEVELS.READ_COMMITTED },
      async (transaction) => {
        const ids = await this.sequelize.query<{ id: number | string; chat_id: number | string }>(
          `SELECT m.id, m.chat_id FROM messages m
             JOIN chats c ON c.id = m.chat_id
             JOIN applications a ON a.id = c.application_id
            WHERE a.token = ? AND c.number = ? AND m.number = ? AND ${LIVE_MESSAGE}
            FOR UPDATE`,
          { replacements: [token, chatNumber, number], type: QueryTypes.SELECT, transaction },
        );
        const found = ids[0];
        if (found === undefined) return false;
        const id = found.id;
        // updated_at is the search index's version: it must grow with every edit, even when
        // this pod's clock is behind the one that stamped the create or the previous edit.
        await this.sequelize.query(
          `UPDATE messages
              SET content = ?, updated_at = GREATEST(?, updated_at + INTERVAL 1000 MICROSECOND)
            WHERE id = ?`,
          { replacements: [content, now, id], transaction },
        );
        await this.sequelize.query(
          `INSERT INTO search_outbox (message_id, chat_id, queued_at) VALUES (?, ?, ?)
           ON DUPLICATE KEY UPDATE queued_at = VALUES(queued_at), chat_id = VALUES(chat_id)`,
          { replacements: [id, found.chat_id, now], transaction },
        );
        return true;
      },
    );
    return changed ? this.find(token, chatNumber, number) : null;
  }

  async state(token: string, chatNumber: number, number: number): Promise<MessageState> {
    const rows = await this.sequelize.query<{
      chat_deleted: number | string | null;
      message_deleted: number | string | null;
    }>(
      // A missing row (the LEFT JOIN's NULLs) must read as NULL, not as "not deleted".
      `SELECT IF(c.id IS NULL, NULL, c.deleted_at IS NOT NULL) AS chat_deleted,
              IF(m.id IS NULL, NULL, m.deleted_at IS NOT NULL) AS message_deleted
         FROM applications a
         LEFT JOIN chats c ON c.application_id = a.id AND c.number = ?
         LEFT JOIN messages m ON m.chat_id = c.id AND m.number = ?
        WHERE a.token = ? AND a.deleted_at IS NULL`,
      { replacements: [chatNumber, number, token], type: QueryTypes.SELECT },
    );
    const row = rows[0];
    if (row === undefined) return { application: false, chat: 'missing', message: 'missing' };
    const chat = recordState(row.chat_deleted);
    // A live message in a deleted chat is gone with it (until the purge removes the row).
    const message = chat === 'deleted' ? 'deleted' : recordState(row.message_deleted);
    return { application: true, chat, message };
  }

  async deletedAmong(
    token: string,
    chatNumber: number,
    numbers: readonly number[],
  ): Promise<Set<number>> {
    if (numbers.length === 0) return new Set();
    const rows = await this.sequelize.query<{ number: number }>(
      `SELECT m.number FROM messages m ${MESSAGE_JOINS}
        WHERE a.token = ? AND c.number = ? AND m.deleted_at IS NOT NULL
          AND m.number IN (${numbers.map(() => '?').join(', ')})`,
      { replacements: [token, chatNumber, ...numbers], type: QueryTypes.SELECT },
    );
    return new Set(rows.map((r) => Number(r.number)));
  }

  /**
   * Tombstones the message, whether its row is there or its create is still queued (then the
   * chat may be too: a placeholder row, as the consumer writes one). Chat row before message
   * row, as the consumer locks them, so the two never deadlock.
   */
  async markDeleted(
    token: string,
    chatNumber: number,
    number: number,
  ): Promise<{ chatId: number } | null> {
    return this.sequelize.transaction(
      { isolationLevel: Transaction.ISOLATION_LEVELS.READ_COMMITTED },
      async (transaction) => {
        const select = <T extends object>(sql: string, replacements: unknown[]) =>
          this.sequelize.query<T>(sql, { replacements, type: QueryTypes.SELECT, transaction });
        const execute = (sql: string, replacements: unknown[]) =>
          this.sequelize.query(sql, { replacements, transaction });
        const apps = await select<{ id: number | string }>(
          'SELECT id FROM applications WHERE token = ? AND deleted_at IS NULL',
          [token],
        );
        if (apps[0] === undefined) return null;
        const now = sqlDateTime(new Date());
        await execute(
          `INSERT INTO chats (application_id, number, name, event_id, created_at, updated_at)
           VALUES (?, ?, NULL, NULL, ?, ?) ON DUPLICATE KEY UPDATE id = id`,
          [apps[0].id, chatNumber, now, now],
        );
        const chats = await select<{ id: number | string; deleted: number | string }>(
          `SELECT id, deleted_at IS NOT NULL AS deleted FROM chats
            WHERE application_id = ? AND number = ? FOR UPDATE`,
          [apps[0].id, chatNumber],
        );
        const chat = chats[0];
        if (chat === undefined || Number(chat.deleted) === 1) return null;
        const chatId = Number(chat.id);
        const existing = await select<{ deleted: number | string }>(
          `SELECT deleted_at IS NOT NULL AS deleted FROM messages
            WHERE chat_id = ? AND number = ? FOR UPDATE`,
          [chatId, number],
        );
        if (existing[0] !== undefined && Number(existing[0].deleted) === 1) return null;
        // updated_at moves forward as on an edit: it versions the search index's delete.
        await execute(
          `INSERT INTO messages (chat_id, number, content, event_id, created_at, updated_at, deleted_at)
           VALUES (?, ?, '', NULL, ?, ?, ?)
           ON DUPLICATE KEY UPDATE
             content = '',
             updated_at = GREATEST(VALUES(updated_at), updated_at + INTERVAL 1000 MICROSECOND),
             deleted_at = COALESCE(deleted_at, VALUES(deleted_at))`,
          [chatId, number, now, now, now],
        );
        await execute(
          `INSERT INTO search_outbox (message_id, chat_id, queued_at)
           SELECT id, chat_id, ? FROM messages WHERE chat_id = ? AND number = ?
           ON DUPLICATE KEY UPDATE queued_at = VALUES(queued_at), chat_id = VALUES(chat_id)`,
          [now, chatId, number],
        );
        return { chatId };
      },
    );
  }
}
