import { QueryTypes, Transaction, type Sequelize } from 'sequelize';
import type { MessageRepository } from '../../domain/ports.js';
import type { Message, Page } from '../../domain/model.js';
import { sqlDateTime } from '../datetime.js';
import { MESSAGE_COLUMNS, MESSAGE_JOINS, paginate, toMessage, type MessageRow } from './rows.js';

const SELECT_MESSAGE = `SELECT ${MESSAGE_COLUMNS} FROM messages m ${MESSAGE_JOINS}`;

export class SqlMessageRepository implements MessageRepository {
  constructor(private readonly sequelize: Sequelize) {}

  async find(token: string, chatNumber: number, number: number): Promise<Message | null> {
    const rows = await this.sequelize.query<MessageRow>(
      `${SELECT_MESSAGE} WHERE a.token = ? AND c.number = ? AND m.number = ?`,
      { replacements: [token, chatNumber, number], type: QueryTypes.SELECT },
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
      `${SELECT_MESSAGE} WHERE a.token = ? AND c.number = ? AND m.number > ?
        ORDER BY m.number LIMIT ?`,
      { replacements: [token, chatNumber, after ?? 0, limit + 1], type: QueryTypes.SELECT },
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
            WHERE a.token = ? AND c.number = ? AND m.number = ?
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
}
