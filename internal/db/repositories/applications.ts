import { QueryTypes, type Sequelize } from 'sequelize';
import type { ApplicationRepository } from '../../domain/ports.js';
import type { Application, Page } from '../../domain/model.js';
import { BadRequestError } from '../../domain/errors.js';
import type { Models } from '../models.js';
import { sqlDateTime } from '../datetime.js';
import { paginate, toApplication, type ApplicationRow } from './rows.js';

const COLUMNS = 'id, token, name, chats_count, created_at, updated_at';

export class SqlApplicationRepository implements ApplicationRepository {
  constructor(
    private readonly sequelize: Sequelize,
    private readonly models: Models,
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
      `SELECT ${COLUMNS} FROM applications WHERE token = ?`,
      { replacements: [token], type: QueryTypes.SELECT },
    );
    return rows[0] === undefined ? null : toApplication(rows[0]);
  }

  async rename(token: string, name: string): Promise<Application | null> {
    await this.sequelize.query('UPDATE applications SET name = ?, updated_at = ? WHERE token = ?', {
      replacements: [name, sqlDateTime(new Date()), token],
    });
    return this.findByToken(token);
  }

  async list(limit: number, after: string | null): Promise<Page<Application>> {
    const afterId = after === null ? 0 : decodeCursor(after);
    const rows = await this.sequelize.query<ApplicationRow>(
      `SELECT ${COLUMNS} FROM applications WHERE id > ? ORDER BY id LIMIT ?`,
      { replacements: [afterId, limit + 1], type: QueryTypes.SELECT },
    );
    return paginate(rows, limit, toApplication, (row) => encodeCursor(Number(row.id)));
  }

  async maxChatNumber(token: string): Promise<number | null> {
    const rows = await this.sequelize.query<{ found: number; max_number: number | null }>(
      `SELECT 1 AS found, (SELECT MAX(c.number) FROM chats c WHERE c.application_id = a.id) AS max_number
         FROM applications a WHERE a.token = ?`,
      { replacements: [token], type: QueryTypes.SELECT },
    );
    const row = rows[0];
    return row === undefined ? null : (row.max_number ?? 0);
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
