import { QueryTypes, type Sequelize } from 'sequelize';
import type { IndexedMessage } from '../../domain/ports.js';
import { sqlDateTime } from '../datetime.js';
import { MESSAGE_COLUMNS, MESSAGE_JOINS, toMessage, type MessageRow } from './rows.js';

export interface OutboxEntry {
  readonly message: IndexedMessage;
  readonly messageId: number;
  readonly queuedAt: Date;
}

/** Edited messages still to be re-indexed; drained by the API's fast path and the flusher. */
export class SearchOutbox {
  constructor(private readonly sequelize: Sequelize) {}

  async pending(limit: number, where?: { token: string; chatNumber: number; number: number }) {
    const filter = where === undefined ? '' : 'WHERE a.token = ? AND c.number = ? AND m.number = ?';
    const rows = await this.sequelize.query<
      MessageRow & { message_id: number | string; queued_at: Date }
    >(
      `SELECT o.message_id, o.queued_at, ${MESSAGE_COLUMNS}
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
      message: toMessage(row),
    }));
  }

  /** Removes entries that were not queued again since they were read. */
  async done(entries: readonly OutboxEntry[]): Promise<void> {
    if (entries.length === 0) return;
    await this.sequelize.query(
      `DELETE FROM search_outbox WHERE ${entries.map(() => '(message_id = ? AND queued_at = ?)').join(' OR ')}`,
      { replacements: entries.flatMap((e) => [e.messageId, sqlDateTime(e.queuedAt)]) },
    );
  }
}
