import { QueryTypes, type Sequelize } from 'sequelize';
import type { WriteQueueRegistry } from '../../domain/ports.js';
import type { RegisteredQueue } from '../../domain/partitions.js';

/** The registry of write queues in MySQL: see internal/domain/partitions.ts. */
export class SqlWriteQueueRegistry implements WriteQueueRegistry {
  constructor(private readonly sequelize: Sequelize) {}

  async heartbeat(base: string, partitions: number, queues: readonly string[]): Promise<void> {
    if (queues.length === 0) return;
    await this.sequelize.query(
      `INSERT INTO write_queues
         (name, base_queue, partitions, registered_at, heartbeat_at, drained_at)
       VALUES ${queues.map(() => '(?, ?, ?, UTC_TIMESTAMP(3), UTC_TIMESTAMP(3), NULL)').join(', ')}
       ON DUPLICATE KEY UPDATE heartbeat_at = VALUES(heartbeat_at), drained_at = NULL`,
      { replacements: queues.flatMap((name) => [name, base, partitions]) },
    );
  }

  async list(base: string): Promise<RegisteredQueue[]> {
    const rows = await this.sequelize.query<{
      name: string;
      partitions: number | string;
      idle_ms: number | string;
      heartbeat_at: string;
      drained: number | string;
    }>(
      `SELECT name, partitions,
              TIMESTAMPDIFF(MICROSECOND, heartbeat_at, UTC_TIMESTAMP(3)) DIV 1000 AS idle_ms,
              DATE_FORMAT(heartbeat_at, '%Y-%m-%d %H:%i:%s.%f') AS heartbeat_at,
              drained_at IS NOT NULL AS drained
         FROM write_queues WHERE base_queue = ? ORDER BY name`,
      { replacements: [base], type: QueryTypes.SELECT },
    );
    return rows.map((row) => ({
      name: row.name,
      partitions: Number(row.partitions),
      idleMs: Number(row.idle_ms),
      heartbeatAt: row.heartbeat_at,
      drained: Number(row.drained) === 1,
    }));
  }
}
