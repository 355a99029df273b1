import { QueryTypes, type Sequelize } from 'sequelize';
import type { IndexedMessage, SearchScope } from '../../domain/ports.js';
import { sqlDateTime } from '../datetime.js';
import { MESSAGE_COLUMNS, MESSAGE_JOINS, toMessage, type MessageRow } from './rows.js';

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
    const rows: (MessageRow & { id: number | string })[] = await sequelize.query<
      MessageRow & { id: number | string }
    >(
      `SELECT m.id, ${MESSAGE_COLUMNS} FROM messages m ${MESSAGE_JOINS}
        WHERE ${conditions.join(' AND ')}
        ORDER BY m.id
        LIMIT ?`,
      { replacements: [after, ...replacements, batchSize], type: QueryTypes.SELECT },
    );
    if (rows.length === 0) return;
    yield rows.map(toMessage);
    after = rows[rows.length - 1]!.id;
    if (rows.length < batchSize) return;
  }
}
