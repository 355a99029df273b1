import { QueryTypes, Transaction, type Sequelize } from 'sequelize';
import type { ChatRepository, ChatState } from '../../domain/ports.js';
import type { Chat, Page } from '../../domain/model.js';
import { sqlDateTime } from '../datetime.js';
import { paginate, recordState, toChat, type ChatRow, inSession } from './rows.js';
import { queuePurge } from './purge.js';

const SELECT_CHAT = `
  SELECT c.id, a.token, c.number, c.name, c.messages_count, c.created_at, c.updated_at
    FROM chats c JOIN applications a ON a.id = c.application_id`;
/** Neither the chat nor its application is deleted. */
const LIVE = 'c.deleted_at IS NULL AND a.deleted_at IS NULL';

export class SqlChatRepository implements ChatRepository {
  /** `session`: the reads run in it (a replica connection held while it was waited for). */
  constructor(
    private readonly sequelize: Sequelize,
    private readonly session?: Transaction,
  ) {}

  async find(token: string, number: number): Promise<Chat | null> {
    const rows = await this.sequelize.query<ChatRow>(
      `${SELECT_CHAT} WHERE a.token = ? AND c.number = ? AND ${LIVE}`,
      { replacements: [token, number], type: QueryTypes.SELECT, ...inSession(this.session) },
    );
    return rows[0] === undefined ? null : toChat(rows[0]);
  }

  async list(token: string, limit: number, after: number | null): Promise<Page<Chat>> {
    const rows = await this.sequelize.query<ChatRow>(
      `${SELECT_CHAT} WHERE a.token = ? AND c.number > ? AND ${LIVE} ORDER BY c.number LIMIT ?`,
      {
        replacements: [token, after ?? 0, limit + 1],
        type: QueryTypes.SELECT,
        ...inSession(this.session),
      },
    );
    return paginate(rows, limit, toChat, (row) => String(row.number));
  }

  async rename(token: string, number: number, name: string | null): Promise<Chat | null> {
    await this.sequelize.query(
      `UPDATE chats c JOIN applications a ON a.id = c.application_id
          SET c.name = ?, c.updated_at = ?
        WHERE a.token = ? AND c.number = ? AND ${LIVE}`,
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
        WHERE a.token = ? AND c.number = ? AND ${LIVE}`,
      { replacements: [token, chatNumber], type: QueryTypes.SELECT },
    );
    return rows[0]?.max_number ?? 0;
  }

  async state(token: string, number: number): Promise<ChatState> {
    const rows = await this.sequelize.query<{ deleted: number | string | null }>(
      `SELECT (SELECT c.deleted_at IS NOT NULL FROM chats c
                WHERE c.application_id = a.id AND c.number = ?) AS deleted
         FROM applications a WHERE a.token = ? AND a.deleted_at IS NULL`,
      { replacements: [number, token], type: QueryTypes.SELECT },
    );
    const row = rows[0];
    if (row === undefined) return { application: false, chat: 'missing' };
    return { application: true, chat: recordState(row.deleted) };
  }

  /** The upsert meets a create the consumer persists meanwhile, whichever commits first. */
  async markDeleted(token: string, number: number): Promise<{ applicationId: number } | null> {
    return this.sequelize.transaction(
      { isolationLevel: Transaction.ISOLATION_LEVELS.READ_COMMITTED },
      async (transaction) => {
        const apps = await this.sequelize.query<{ id: number | string }>(
          'SELECT id FROM applications WHERE token = ? AND deleted_at IS NULL',
          { replacements: [token], type: QueryTypes.SELECT, transaction },
        );
        if (apps[0] === undefined) return null;
        const applicationId = Number(apps[0].id);
        const now = sqlDateTime(new Date());
        const existing = await this.sequelize.query<{ deleted: number | string }>(
          `SELECT deleted_at IS NOT NULL AS deleted FROM chats
            WHERE application_id = ? AND number = ? FOR UPDATE`,
          { replacements: [applicationId, number], type: QueryTypes.SELECT, transaction },
        );
        if (existing[0] !== undefined && Number(existing[0].deleted) === 1) return null;
        await this.sequelize.query(
          `INSERT INTO chats (application_id, number, name, event_id, created_at, updated_at, deleted_at)
           VALUES (?, ?, NULL, NULL, ?, ?, ?)
           ON DUPLICATE KEY UPDATE name = NULL, deleted_at = COALESCE(deleted_at, VALUES(deleted_at))`,
          { replacements: [applicationId, number, now, now, now], transaction },
        );
        const ids = await this.sequelize.query<{ id: number | string }>(
          'SELECT id FROM chats WHERE application_id = ? AND number = ?',
          { replacements: [applicationId, number], type: QueryTypes.SELECT, transaction },
        );
        await queuePurge(this.sequelize, transaction, 'chat', Number(ids[0]?.id), now);
        return { applicationId };
      },
    );
  }
}
