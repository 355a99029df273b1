import { QueryTypes, type Sequelize } from 'sequelize';
import type { CounterRecounts } from '../../domain/ports.js';

/**
 * Recomputes counters from the rows themselves (COUNT(*) of what is not deleted, never
 * increments), so a run that repeats or follows a crash still writes the right numbers.
 *
 * The count is a plain SELECT, a consistent non-locking read: it takes no locks on the rows it
 * counts, so the consumer's inserts into a chat being recounted never wait for it (an
 * `UPDATE … = (SELECT COUNT(*))` reads with shared next-key locks under REPEATABLE READ, and
 * an insert into that chat could time out with 1205 behind a long count). The write that
 * follows locks only the counter rows, for one short statement.
 *
 * Counts go down as well as up (deletes), so the newest count wins rather than the largest:
 * each write carries when its count was read (the database's clock, read just before the
 * count's snapshot) and is skipped where a later count was written already (an overlapping
 * flusher, a slow chunk). A change committed after a count marks its parent again, so the
 * next run counts it.
 */
export class CounterRepository implements CounterRecounts {
  constructor(private readonly sequelize: Sequelize) {}

  recountChats(chatIds: readonly number[]): Promise<number> {
    return this.recount(chatIds, {
      counted: 'messages',
      parentColumn: 'chat_id',
      table: 'chats',
      counter: 'messages_count',
    });
  }

  recountApplications(applicationIds: readonly number[]): Promise<number> {
    return this.recount(applicationIds, {
      counted: 'chats',
      parentColumn: 'application_id',
      table: 'applications',
      counter: 'chats_count',
    });
  }

  private async recount(
    ids: readonly number[],
    target: { counted: string; parentColumn: string; table: string; counter: string },
  ): Promise<number> {
    if (ids.length === 0) return 0;
    const list = ids.map(() => '?').join(', ');
    const [clock] = await this.sequelize.query<{ at: string }>(
      "SELECT DATE_FORMAT(UTC_TIMESTAMP(6), '%Y-%m-%d %H:%i:%s.%f') AS at",
      { type: QueryTypes.SELECT },
    );
    const countedAt = clock?.at;
    if (countedAt === undefined) throw new Error('the database did not return its clock');
    const rows = await this.sequelize.query<{ parent: number | string; n: number | string }>(
      `SELECT ${target.parentColumn} AS parent, COUNT(*) AS n
         FROM ${target.counted}
        WHERE ${target.parentColumn} IN (${list}) AND deleted_at IS NULL
        GROUP BY ${target.parentColumn}`,
      { replacements: [...ids], type: QueryTypes.SELECT },
    );
    const counts = new Map(rows.map((r) => [Number(r.parent), Number(r.n)]));
    const [, meta] = await this.sequelize.query(
      `UPDATE ${target.table}
          SET ${target.counter} = CASE id ${ids.map(() => 'WHEN ? THEN ?').join(' ')} END,
              counted_at = ?
        WHERE id IN (${list}) AND (counted_at IS NULL OR counted_at < ?)`,
      {
        replacements: [
          ...ids.flatMap((id) => [id, counts.get(id) ?? 0]),
          countedAt,
          ...ids,
          countedAt,
        ],
      },
    );
    return affectedRows(meta);
  }
}

function affectedRows(meta: unknown): number {
  const rows = (meta as { affectedRows?: unknown } | undefined)?.affectedRows;
  return typeof rows === 'number' ? rows : 0;
}
