import { QueryTypes, Transaction, type Sequelize } from 'sequelize';
import type { ApplicationRepository } from '../../domain/ports.js';
import type { Application, Page } from '../../domain/model.js';
import { BadRequestError } from '../../domain/errors.js';
import type { Models } from '../models.js';
import { sqlDateTime } from '../datetime.js';
import { paginate, toApplication, type ApplicationRow, inSession } from './rows.js';
import { queuePurge } from './purge.js';

const COLUMNS = 'id, token, name, chats_count, created_at, updated_at';

export class SqlApplicationRepository implements ApplicationRepository {
  /** `session`: the reads run in it (a replica connection held while it was waited for). */
  constructor(
    private readonly sequelize: Sequelize,
    private readonly models: Models,
    private readonly session?: Transaction,
  ) {}

  async create(token: string, name: string): Promise<Application> {
    const app = await this.models.Application.create({ token, name });
    return {
      id: Number(app.id),
      token: app.token,
      name: app.name,
      chatsCount: 0,
      createdAt: app.createdAt,
      updatedAt: app.updatedAt,
    };
  }

  async findByToken(token: string): Promise<Application | null> {
    const rows = await this.sequelize.query<ApplicationRow>(
      `SELECT ${COLUMNS} FROM applications WHERE token = ? AND deleted_at IS NULL`,
      { replacements: [token], type: QueryTypes.SELECT, ...inSession(this.session) },
    );
    return rows[0] === undefined ? null : toApplication(rows[0]);
  }

  async rename(token: string, name: string): Promise<Application | null> {
    await this.sequelize.query(
      'UPDATE applications SET name = ?, updated_at = ? WHERE token = ? AND deleted_at IS NULL',
      {
        replacements: [name, sqlDateTime(new Date()), token],
      },
    );
    return this.findByToken(token);
  }

  async list(limit: number, after: string | null): Promise<Page<Application>> {
    const afterId = after === null ? 0 : decodeCursor(after);
    const rows = await this.sequelize.query<ApplicationRow>(
      `SELECT ${COLUMNS} FROM applications WHERE id > ? AND deleted_at IS NULL ORDER BY id LIMIT ?`,
      { replacements: [afterId, limit + 1], type: QueryTypes.SELECT },
    );
    return paginate(rows, limit, toApplication, (row) => encodeCursor(Number(row.id)));
  }

  async maxChatNumber(token: string): Promise<number | null> {
    const rows = await this.sequelize.query<{ found: number; max_number: number | null }>(
      `SELECT 1 AS found, (SELECT MAX(c.number) FROM chats c WHERE c.application_id = a.id) AS max_number
         FROM applications a WHERE a.token = ? AND a.deleted_at IS NULL`,
      { replacements: [token], type: QueryTypes.SELECT },
    );
    const row = rows[0];
    return row === undefined ? null : (row.max_number ?? 0);
  }

  /**
   * One row update and one queue row: answering never waits for the size of the application.
   * The row stays as a tombstone (its token is never reused, queued creates for it are
   * dropped); its name goes at once, its chats and messages with the purge.
   */
  async markDeleted(token: string): Promise<number | null> {
    return this.sequelize.transaction(
      { isolationLevel: Transaction.ISOLATION_LEVELS.READ_COMMITTED },
      async (transaction) => {
        const rows = await this.sequelize.query<{ id: number | string }>(
          'SELECT id FROM applications WHERE token = ? AND deleted_at IS NULL FOR UPDATE',
          { replacements: [token], type: QueryTypes.SELECT, transaction },
        );
        const id = rows[0] === undefined ? null : Number(rows[0].id);
        if (id === null) return null;
        const now = sqlDateTime(new Date());
        await this.sequelize.query(
          "UPDATE applications SET deleted_at = ?, name = '' WHERE id = ?",
          { replacements: [now, id], transaction },
        );
        await queuePurge(this.sequelize, transaction, 'application', id, now);
        return id;
      },
    );
  }
}

/** The admin cursor is opaque to clients: internal ids are not part of the contract. */
function encodeCursor(id: number): string {
  return Buffer.from(`a:${id}`).toString('base64url');
}

function decodeCursor(cursor: string): number {
  const match = /^a:([0-9]{1,19})$/.exec(Buffer.from(cursor, 'base64url').toString('utf8'));
  if (match?.[1] === undefined)
    throw new BadRequestError('after is not a valid cursor.', 'invalid_query');
  return Number(match[1]);
}
