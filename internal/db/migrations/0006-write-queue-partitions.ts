import type { MigrationFn } from 'umzug';
import type { QueryInterface } from 'sequelize';

const TABLE_OPTIONS = 'ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_520_ci';

export const up: MigrationFn<QueryInterface> = async ({ context: qi }) => {
  // The registry of write queues (RABBITMQ_WRITE_PARTITIONS): a row per queue of every
  // partition set an API ever sent to, written before its first send and renewed while it
  // sends (heartbeat_at). drained_at: a consumer persisted a drain mark from the queue after
  // its last heartbeat, so everything sent to it was delivered. base_queue (RABBITMQ_QUEUE) names
  // the deployment: databases shared by several (test suites) keep their queues apart. See internal/domain/partitions.ts.
  await qi.sequelize.query(`
    CREATE TABLE write_queues (
      name VARCHAR(255) CHARACTER SET ascii COLLATE ascii_bin NOT NULL,
      base_queue VARCHAR(255) CHARACTER SET ascii COLLATE ascii_bin NOT NULL,
      partitions INT UNSIGNED NOT NULL,
      registered_at DATETIME(3) NOT NULL,
      heartbeat_at DATETIME(3) NOT NULL,
      drained_at DATETIME(3) NULL,
      PRIMARY KEY (name),
      KEY write_queues_base (base_queue)
    ) ${TABLE_OPTIONS}`);
  // Which queues an epoch's fence was persisted from: the epoch is settled once every queue
  // of the registry not drained has one.
  await qi.sequelize.query(`
    CREATE TABLE numbering_epoch_fences (
      epoch_id BIGINT UNSIGNED NOT NULL,
      queue_name VARCHAR(255) CHARACTER SET ascii COLLATE ascii_bin NOT NULL,
      persisted_at DATETIME(3) NOT NULL,
      PRIMARY KEY (epoch_id, queue_name)
    ) ${TABLE_OPTIONS}`);
};

export const down: MigrationFn<QueryInterface> = async ({ context: qi }) => {
  await qi.sequelize.query('DROP TABLE numbering_epoch_fences');
  await qi.sequelize.query('DROP TABLE write_queues');
};
