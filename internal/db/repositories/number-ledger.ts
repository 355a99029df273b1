import { QueryTypes, Transaction, type Sequelize } from 'sequelize';
import type { NumberLedger, NumberScope } from '../../domain/ports.js';

const scopeOf = (scope: NumberScope) => (scope.kind === 'chats' ? 0 : scope.chat);

/**
 * The durable side of numbering: reserved ceilings per scope, and numbering epochs. Floors
 * also take the persisted numbers into account, so data written before ceilings existed
 * (or by an older version during a rolling upgrade) is never numbered over.
 */
export class SqlNumberLedger implements NumberLedger {
  constructor(private readonly sequelize: Sequelize) {}

  async chatsFloor(token: string): Promise<number | null> {
    const rows = await this.sequelize.query<{ found: number; floor: number | string | null }>(
      `SELECT 1 AS found, GREATEST(
                COALESCE((SELECT ceiling FROM number_ceilings n
                           WHERE n.application_id = a.id AND n.scope = 0), 0),
                COALESCE((SELECT MAX(number) FROM chats c WHERE c.application_id = a.id), 0)
              ) AS floor
         FROM applications a WHERE a.token = ? AND a.deleted_at IS NULL`,
      { replacements: [token], type: QueryTypes.SELECT },
    );
    return rows[0] === undefined ? null : Number(rows[0].floor ?? 0);
  }

  async chatFloor(token: string, chat: number) {
    const rows = await this.sequelize.query<{
      persisted: number | string;
      deleted: number | string | null;
      floor: number | string | null;
      app_deleted: number | string;
    }>(
      `SELECT EXISTS(SELECT 1 FROM chats c WHERE c.application_id = a.id AND c.number = ?)
                AS persisted,
              (SELECT c.deleted_at IS NOT NULL FROM chats c
                WHERE c.application_id = a.id AND c.number = ?) AS deleted,
              GREATEST(
                COALESCE((SELECT ceiling FROM number_ceilings n
                           WHERE n.application_id = a.id AND n.scope = ?), 0),
                COALESCE((SELECT MAX(m.number) FROM chats c JOIN messages m ON m.chat_id = c.id
                           WHERE c.application_id = a.id AND c.number = ?), 0)
              ) AS floor,
              a.deleted_at IS NOT NULL AS app_deleted
         FROM applications a WHERE a.token = ?`,
      { replacements: [chat, chat, chat, chat, token], type: QueryTypes.SELECT },
    );
    const row = rows[0];
    return {
      persisted: row !== undefined && Number(row.persisted) === 1,
      // A deleted application's chats are all gone with it.
      deleted: row === undefined || Number(row.deleted) === 1 || Number(row.app_deleted) === 1,
      messagesFloor: row === undefined ? 0 : Number(row.floor ?? 0),
    };
  }

  async reserve(
    token: string,
    scope: NumberScope,
    floor: number,
    block: number,
  ): Promise<number | null> {
    const s = scopeOf(scope);
    // The row lock taken by the upsert is held to the commit, so the read sees our own value.
    return this.sequelize.transaction(
      { isolationLevel: Transaction.ISOLATION_LEVELS.READ_COMMITTED },
      async (transaction) => {
        await this.sequelize.query(
          `INSERT INTO number_ceilings (application_id, scope, ceiling)
           SELECT id, ?, ? FROM applications WHERE token = ? AND deleted_at IS NULL
           ON DUPLICATE KEY UPDATE ceiling = GREATEST(ceiling, ?) + ?`,
          { replacements: [s, floor + block, token, floor, block], transaction },
        );
        const rows = await this.sequelize.query<{ ceiling: number | string }>(
          `SELECT n.ceiling FROM number_ceilings n JOIN applications a ON a.id = n.application_id
            WHERE a.token = ? AND n.scope = ? AND a.deleted_at IS NULL`,
          { replacements: [token, s], type: QueryTypes.SELECT, transaction },
        );
        return rows[0] === undefined ? null : Number(rows[0].ceiling);
      },
    );
  }

  async beginEpoch(redisRunId: string): Promise<number> {
    const [id] = await this.sequelize.query(
      'INSERT INTO numbering_epochs (redis_run_id, started_at) VALUES (?, UTC_TIMESTAMP(3))',
      { replacements: [redisRunId], type: QueryTypes.INSERT },
    );
    return Number(id);
  }

  async epochState(epoch: number): Promise<{ settled: boolean; ageMs: number }> {
    // Age by the database's own clock, which also wrote started_at.
    const rows = await this.sequelize.query<{
      settled: number | string;
      age_ms: number | string | null;
    }>(
      `SELECT settled_at IS NOT NULL AS settled,
              TIMESTAMPDIFF(MICROSECOND, started_at, UTC_TIMESTAMP(3)) / 1000 AS age_ms
         FROM numbering_epochs WHERE id = ?`,
      { replacements: [epoch], type: QueryTypes.SELECT },
    );
    const row = rows[0];
    if (row === undefined) return { settled: false, ageMs: 0 };
    return { settled: Number(row.settled) === 1, ageMs: Number(row.age_ms ?? 0) };
  }
}
