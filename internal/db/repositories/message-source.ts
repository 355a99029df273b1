import { QueryTypes, type Sequelize } from 'sequelize';
import type { IndexedMessage, SearchScope } from '../../domain/ports.js';
import { sqlDateTime } from '../datetime.js';
import {
  LIVE_MESSAGE,
  MESSAGE_COLUMNS,
  MESSAGE_JOINS,
  toMessage,
  type MessageRow,
} from './rows.js';

export interface MessageSourceFilter {
  readonly scope?: SearchScope;
  /** Messages edited since, or inserted after `idAbove` (the rows a reindex's load may miss). */
  readonly changedSince?: { readonly updatedSince: Date; readonly idAbove: number };
}

/**
 * Streams messages for (re)indexing in id order, keyset-paginated so a large table is read
 * in constant memory and without long-running transactions.
 */
/** The highest message id now; a reindex catches up on rows above it (minus some slack). */
export async function maxMessageId(sequelize: Sequelize): Promise<number> {
  const rows = await sequelize.query<{ max_id: number | string | null }>(
    'SELECT MAX(id) AS max_id FROM messages',
    { type: QueryTypes.SELECT },
  );
  return Number(rows[0]?.max_id ?? 0);
}

export async function* messageBatches(
  sequelize: Sequelize,
  filter: MessageSourceFilter = {},
  batchSize = 1_000,
): AsyncGenerator<IndexedMessage[]> {
  // Deleted messages are not indexed (a message deleted while a reindex loads may stay in the
  // new index until `npm run reindex` runs again; searches of a deleted chat are 404s anyway).
  const conditions: string[] = ['m.id > ?', LIVE_MESSAGE];
  const replacements: unknown[] = [];
  if (filter.scope !== undefined) {
    conditions.push('a.token = ?', 'c.number = ?');
    replacements.push(filter.scope.applicationToken, filter.scope.chatNumber);
  }
  if (filter.changedSince !== undefined) {
    conditions.push('(m.updated_at >= ? OR m.id > ?)');
    replacements.push(sqlDateTime(filter.changedSince.updatedSince), filter.changedSince.idAbove);
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
