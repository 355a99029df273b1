import type { Sequelize } from 'sequelize';

/**
 * Recomputes counters from the rows themselves (COUNT(*), never increments), so a run that
 * repeats, overlaps another or follows a crash still writes the right numbers.
 */
export class CounterRepository {
  constructor(private readonly sequelize: Sequelize) {}

  async recountChats(chatIds: readonly number[]): Promise<number> {
    if (chatIds.length === 0) return 0;
    const [, meta] = await this.sequelize.query(
      `UPDATE chats c
          SET c.messages_count = (SELECT COUNT(*) FROM messages m WHERE m.chat_id = c.id)
        WHERE c.id IN (${chatIds.map(() => '?').join(', ')})`,
      { replacements: [...chatIds] },
    );
    return affectedRows(meta);
  }

  async recountApplications(applicationIds: readonly number[]): Promise<number> {
    if (applicationIds.length === 0) return 0;
    const [, meta] = await this.sequelize.query(
      `UPDATE applications a
          SET a.chats_count = (SELECT COUNT(*) FROM chats c WHERE c.application_id = a.id)
        WHERE a.id IN (${applicationIds.map(() => '?').join(', ')})`,
      { replacements: [...applicationIds] },
    );
    return affectedRows(meta);
  }
}

function affectedRows(meta: unknown): number {
  const rows = (meta as { affectedRows?: unknown } | undefined)?.affectedRows;
  return typeof rows === 'number' ? rows : 0;
}
