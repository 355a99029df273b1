import { QueryTypes, type Sequelize } from 'sequelize';
import type { IndexedMessage, SearchScope } from '../../domain/ports.js';
import { sqlDateTime } from '../datetime.js';

interface Row {
  id: number | string;
  token: string;
  chat_number: number;
  number: number;
  content: string;
  created_at: Date;
  updated_at: Date;
}

export interface MessageSourceFilter {
  readonly scope?: SearchScope;
  readonly updatedSince?: Date;
}

/**
 * Streams messages for (re)indexing in id order, keyset-paginated so a large table is read
 * in constant memory and without long-running transactions.
 */
export async function* messageBatches(
  sequelize: Sequelize,
  filter: MessageSourceFilter = {},
  batchSize = 1_000,
): AsyncGenerator<IndexedMessage[]> {
  const conditions: string[] = ['m.id > ?'];
  const replacements: unknown[] = [];
  if (filter.scope !== undefined) {
    conditions.push('a.token = ?', 'c.number = ?');
    replacements.push(filter.scope.applicationToken, filter.scope.chatNumber);
  }
  if (filter.updatedSince !== undefined) {
    conditions.push('m.updated_at >= ?');
    replacements.push(sqlDateTime(filter.updatedSince));
  }
  let after: number | string = 0;
  for (;;) {
    const rows: Row[] = await sequelize.query<Row>(
      `SELECT m.id, a.token, c.number AS chat_number, m.number, m.content, m.created_at, m.updated_at
         FROM messages m
         JOIN chats c ON c.id = m.chat_id
         JOIN applications a ON a.id = c.application_id
        WHERE ${conditions.join(' AND ')}
        ORDER BY m.id
        LIMIT ?`,
      { replacements: [after, ...replacements, batchSize], type: QueryTypes.SELECT },
    );
    if (rows.length === 0) return;
    yield rows.map((row) => ({
      applicationToken: row.token,
      chatNumber: row.chat_number,
      number: row.number,
      content: row.content,
      createdAt: row.created_at,
      updatedAt: row.updated_at,
    }));
    after = rows[rows.length - 1]!.id;
    if (rows.length < batchSize) return;
  }
}
