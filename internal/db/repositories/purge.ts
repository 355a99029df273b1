import { QueryTypes, type Sequelize, type Transaction } from 'sequelize';
import type { PurgeStore, PurgeTask } from '../../domain/ports.js';

/** Queues a deleted chat or application for the background purge, in the delete's transaction. */
export async function queuePurge(
  sequelize: Sequelize,
  transaction: Transaction,
  kind: 'application' | 'chat',
  targetId: number,
  at: string,
): Promise<void> {
  await sequelize.query(
    `INSERT INTO purge_queue (kind, target_id, queued_at) VALUES (?, ?, ?)
     ON DUPLICATE KEY UPDATE id = id`,
    { replacements: [kind, targetId, at], transaction },
  );
}

/**
 * The rows of deleted chats and applications, removed in bounded batches: each statement
 * removes at most `limit` rows by primary key in its own short transaction, so the consumer's
 * inserts into other chats never wait long behind a purge. Tombstones stay: a deleted chat's
 * row (under a live application) and a deleted application's row.
 */
export class SqlPurgeStore implements PurgeStore {
  constructor(private readonly sequelize: Sequelize) {}

  async next(): Promise<PurgeTask | null> {
    const rows = await this.sequelize.query<{
      kind: 'application' | 'chat';
      target_id: number | string;
      token: string | null;
      number: number | null;
    }>(
      `SELECT q.kind, q.target_id, COALESCE(a.token, ca.token) AS token, c.number
         FROM purge_queue q
         LEFT JOIN applications a ON q.kind = 'application' AND a.id = q.target_id
         LEFT JOIN chats c ON q.kind = 'chat' AND c.id = q.target_id
         LEFT JOIN applications ca ON ca.id = c.application_id
        ORDER BY q.id
        LIMIT 1`,
      { type: QueryTypes.SELECT },
    );
    const row = rows[0];
    if (row === undefined) return null;
    return {
      kind: row.kind,
      id: Number(row.target_id),
      applicationToken: row.token,
      chatNumber: row.kind === 'chat' ? row.number : null,
    };
  }

  async purgeSome(task: PurgeTask, limit: number): Promise<number> {
    if (task.kind === 'chat') return this.removeMessages([task.id], limit);
    // An application's chats a few at a time: their messages first, then the emptied rows.
    const chats = await this.select<{ id: number | string }>(
      'SELECT id FROM chats WHERE application_id = ? ORDER BY number LIMIT 100',
      [task.id],
    );
    if (chats.length === 0) return 0;
    const ids = chats.map((c) => Number(c.id));
    const messages = await this.removeMessages(ids, limit);
    if (messages > 0) return messages;
    // Scoped to the application as well: one application's rows, one shard on a sharded engine.
    await this.sequelize.query(
      `DELETE FROM chats WHERE application_id = ? AND id IN (${ids.map(() => '?').join(', ')})`,
      { replacements: [task.id, ...ids] },
    );
    return ids.length;
  }

  async chatNumbers(task: PurgeTask): Promise<number[]> {
    if (task.kind !== 'application') return [];
    const rows = await this.select<{ number: number }>(
      'SELECT number FROM chats WHERE application_id = ? ORDER BY number',
      [task.id],
    );
    return rows.map((r) => Number(r.number));
  }

  async finish(task: PurgeTask): Promise<void> {
    await this.sequelize.transaction(async (transaction) => {
      if (task.kind === 'application') {
        await this.sequelize.query('DELETE FROM number_ceilings WHERE application_id = ?', {
          replacements: [task.id],
          transaction,
        });
      }
      await this.sequelize.query('DELETE FROM purge_queue WHERE kind = ? AND target_id = ?', {
        replacements: [task.kind, task.id],
        transaction,
      });
    });
  }

  async backlog(): Promise<number> {
    const [row] = await this.select<{ n: number | string }>(
      'SELECT COUNT(*) AS n FROM purge_queue',
      [],
    );
    return Number(row?.n ?? 0);
  }

  /** At most `limit` messages of these chats, with their search_outbox entries. */
  private async removeMessages(chatIds: readonly number[], limit: number): Promise<number> {
    const rows = await this.select<{ id: number | string }>(
      `SELECT id FROM messages WHERE chat_id IN (${chatIds.map(() => '?').join(', ')}) LIMIT ?`,
      [...chatIds, limit],
    );
    if (rows.length === 0) return 0;
    const ids = rows.map((r) => Number(r.id));
    const list = ids.map(() => '?').join(', ');
    await this.sequelize.transaction(async (transaction) => {
      await this.sequelize.query(`DELETE FROM search_outbox WHERE message_id IN (${list})`, {
        replacements: ids,
        transaction,
      });
      await this.sequelize.query(`DELETE FROM messages WHERE id IN (${list})`, {
        replacements: ids,
        transaction,
      });
    });
    return ids.length;
  }

  private select<T extends object>(sql: string, replacements: unknown[]): Promise<T[]> {
    return this.sequelize.query<T>(sql, { replacements, type: QueryTypes.SELECT });
  }
}
