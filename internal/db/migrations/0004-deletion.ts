import type { MigrationFn } from 'umzug';
import type { QueryInterface } from 'sequelize';

const TABLE_OPTIONS = 'ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_520_ci';

/*
 * Deletion with tombstones (README, "Deleting"): a deleted application, chat or message keeps a
 * row with deleted_at set, so a create still queued for it is recognised and dropped instead of
 * resurrecting it, and its number is never used again. What it held (names, content, a chat's
 * messages, an application's chats) is cleared at once or purged in the background.
 */
export const up: MigrationFn<QueryInterface> = async ({ context: qi }) => {
  // counted_at: when the count behind chats_count/messages_count was read (database clock), so
  // a flusher run that counted earlier never writes its figure over a later one.
  await qi.sequelize.query(`
    ALTER TABLE applications
      ADD COLUMN deleted_at DATETIME(3) NULL,
      ADD COLUMN counted_at DATETIME(6) NULL`);
  await qi.sequelize.query(`
    ALTER TABLE chats
      ADD COLUMN deleted_at DATETIME(3) NULL,
      ADD COLUMN counted_at DATETIME(6) NULL`);
  // A message deleted before its create was persisted gets a tombstone with no event yet.
  await qi.sequelize.query(`
    ALTER TABLE messages
      ADD COLUMN deleted_at DATETIME(3) NULL,
      MODIFY event_id CHAR(36) CHARACTER SET ascii COLLATE ascii_bin NULL`);
  // Deleted chats and applications whose rows are still to be removed, oldest first. Written
  // in the delete's own transaction: the purge is never forgotten, and its backlog is a count.
  await qi.sequelize.query(`
    CREATE TABLE purge_queue (
      id BIGINT UNSIGNED NOT NULL AUTO_INCREMENT,
      kind ENUM('application', 'chat') NOT NULL,
      target_id BIGINT UNSIGNED NOT NULL,
      queued_at DATETIME(3) NOT NULL,
      PRIMARY KEY (id),
      UNIQUE KEY purge_queue_target_unique (kind, target_id)
    ) ${TABLE_OPTIONS}`);
};

export const down: MigrationFn<QueryInterface> = async ({ context: qi }) => {
  await qi.sequelize.query('DROP TABLE purge_queue');
  await qi.sequelize.query('DELETE FROM messages WHERE event_id IS NULL');
  await qi.sequelize.query(`
    ALTER TABLE messages
      DROP COLUMN deleted_at,
      MODIFY event_id CHAR(36) CHARACTER SET ascii COLLATE ascii_bin NOT NULL`);
  await qi.sequelize.query('ALTER TABLE chats DROP COLUMN deleted_at, DROP COLUMN counted_at');
  await qi.sequelize.query(
    'ALTER TABLE applications DROP COLUMN deleted_at, DROP COLUMN counted_at',
  );
};
