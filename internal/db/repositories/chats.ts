import { QueryTypes, type Sequelize } from 'sequelize';
import type { ChatRepository } from '../../domain/ports.js';
import type { Chat, Page } from '../../domain/model.js';
import { sqlDateTime } from '../datetime.js';
import { paginate, toChat, type ChatRow } from './rows.js';

const SELECT_CHAT = `
  SELECT c.id, a.token, c.number, c.name, c.messages_count, c.created_at, c.updated_at
    FROM chats c JOIN applications a ON a.id = c.application_id`;

export class SqlChatRepository implements ChatRepository {
  constructor(private readonly sequelize: Sequelize) {}

  async find(token: string, number: number): Promise<Chat | null> {
    const rows = await this.sequelize.query<ChatRow>(
      `${SELECT_CHAT} WHERE a.token = ? AND c.number = ?`,
      { replacements: [token, number], type: QueryTypes.SELECT },
    );
    return rows[0] === undefined ? null : toChat(rows[0]);
  }

  async list(token: string, limit: number, after: number | null): Promise<Page<Chat>> {
    const rows = await this.sequelize.query<ChatRow>(
      `${SELECT_CHAT} WHERE a.token = ? AND c.number > ? ORDER BY c.number LIMIT ?`,
      { replacements: [token, after ?? 0, limit + 1], type: QueryTypes.SELECT },
    );
    return paginate(rows, limit, toChat, (row) => String(row.number));
  }

  async rename(token: string, number: number, name: string | null): Promise<Chat | null> {
    await this.sequelize.query(
      `UPDATE chats c JOIN applications a ON a.id = c.application_id
          SET c.name = ?, c.updated_at = ?
        WHERE a.token = ? AND c.number = ?`,
      { replacements: [name, sqlDateTime(new Date()), token, number] },
    );
    return this.find(token, number);
  }

  async maxMessageNumber(token: string, chatNumber: number): Promise<number> {
    const rows = await this.sequelize.query<{ max_number: number | null }>(
      `SELECT MAX(m.number) AS max_number
         FROM messages m
         JOIN chats c ON c.id = m.chat_id
         JOIN applications a ON a.id = c.application_id
        WHERE a.token = ? AND c.number = ?`,
      { replacements: [token, chatNumber], type: QueryTypes.SELECT },
    );
    return rows[0]?.max_number ?? 0;
  }
}
