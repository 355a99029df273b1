import { QueryTypes, type Sequelize } from 'sequelize';
import type { OutboxEntry, OutboxLag, SearchOutboxPort } from '../../domain/ports.js';
import { sqlDateTime } from '../datetime.js';
import { MESSAGE_COLUMNS, MESSAGE_JOINS, toMessage, type MessageRow } from './rows.js';

/**
 * Messages still to be indexed: new ones (queued in the consumer's batch transaction when a
 * search index is configured), edited and deleted ones (queued in the edit's or delete's
 * transaction; a deleted one is removed from the index). Drained by
 * the consumer's search indexer, and for one edit at once by the API's fast path.
 */
export class SearchOutbox implements SearchOutboxPort {
  constructor(private readonly sequelize: Sequelize) {}

  async pending(limit: number, where?: { token: string; chatNumber: number; number: number }) {
    const filter = where === undefined ? '' : 'WHERE a.token = ? AND c.number = ? AND m.number = ?';
    const rows = await this.sequelize.query<
      MessageRow & { message_id: number | string; queued_at: Date; deleted: number | string }
    >(
      `SELECT o.message_id, o.queued_at, m.deleted_at IS NOT NULL AS deleted, ${MESSAGE_COLUMNS}
         FROM search_outbox o
         JOIN messages m ON m.id = o.message_id
         ${MESSAGE_JOINS}
         ${filter}
        ORDER BY o.queued_at
        LIMIT ?`,
      {
        replacements: [
          ...(where === undefined ? [] : [where.token, where.chatNumber, where.number]),
          limit,
        ],
        type: QueryTypes.SELECT,
      },
    );
    return rows.map((row): OutboxEntry => ({
      messageId: Number(row.message_id),
      queuedAt: row.queued_at,
      deleted: Number(row.deleted) === 1,
      message: toMessage(row),
    }));
  }

  /** Pending count and oldest entry; the queued_at index makes MIN a single lookup. */
  async lag(): Promise<OutboxLag> {
    const [row] = await this.sequelize.query<{ pending: number | string; oldest: Date | null }>(
      'SELECT COUNT(*) AS pending, MIN(queued_at) AS oldest FROM search_outbox',
      { type: QueryTypes.SELECT },
    );
    return { pending: Number(row?.pending ?? 0), oldestQueuedAt: row?.oldest ?? null };
  }

  /** Removes entries that were not queued again since they were read. */
  async done(entries: readonly OutboxEntry[]): Promise<void> {
    if (entries.length === 0) return;
    await this.sequelize.query(
      // A row-constructor IN is one range lookup per pair; a chain of ORs costs several
      // times more to optimise at a thousand pairs.
      `DELETE FROM search_outbox WHERE (message_id, queued_at) IN (${entries.map(() => '(?, ?)').join(', ')})`,
      { replacements: entries.flatMap((e) => [e.messageId, sqlDateTime(e.queuedAt)]) },
    );
  }
}
