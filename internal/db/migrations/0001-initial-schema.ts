import type { MigrationFn } from 'umzug';
import type { QueryInterface } from 'sequelize';

const TABLE_OPTIONS = 'ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_520_ci';

export const up: MigrationFn<QueryInterface> = async ({ context: qi }) => {
  await qi.sequelize.query(`
    CREATE TABLE applications (
      id BIGINT UNSIGNED NOT NULL AUTO_INCREMENT,
      token CHAR(36) CHARACTER SET ascii COLLATE ascii_bin NOT NULL,
      name VARCHAR(255) NOT NULL,
      chats_count INT UNSIGNED NOT NULL DEFAULT 0,
      created_at DATETIME(3) NOT NULL,
      updated_at DATETIME(3) NOT NULL,
      PRIMARY KEY (id),
      UNIQUE KEY applications_token_unique (token)
    ) ${TABLE_OPTIONS}`);
  // event_id is NULL while the row is a placeholder created from a message that arrived
  // before its chat's own event; the chat event then fills name, event_id and created_at.
  await qi.sequelize.query(`
    CREATE TABLE chats (
      id BIGINT UNSIGNED NOT NULL AUTO_INCREMENT,
      application_id BIGINT UNSIGNED NOT NULL,
      number INT UNSIGNED NOT NULL,
      name VARCHAR(255) NULL,
      messages_count INT UNSIGNED NOT NULL DEFAULT 0,
      event_id CHAR(36) CHARACTER SET ascii COLLATE ascii_bin NULL,
      created_at DATETIME(3) NOT NULL,
      updated_at DATETIME(3) NOT NULL,
      PRIMARY KEY (id),
      UNIQUE KEY chats_application_number_unique (application_id, number),
      CONSTRAINT chats_application_fk FOREIGN KEY (application_id) REFERENCES applications (id)
    ) ${TABLE_OPTIONS}`);
  await qi.sequelize.query(`
    CREATE TABLE messages (
      id BIGINT UNSIGNED NOT NULL AUTO_INCREMENT,
      chat_id BIGINT UNSIGNED NOT NULL,
      number INT UNSIGNED NOT NULL,
      content TEXT NOT NULL,
      event_id CHAR(36) CHARACTER SET ascii COLLATE ascii_bin NOT NULL,
      created_at DATETIME(3) NOT NULL,
      updated_at DATETIME(3) NOT NULL,
      PRIMARY KEY (id),
      UNIQUE KEY messages_chat_number_unique (chat_id, number),
      CONSTRAINT messages_chat_fk FOREIGN KEY (chat_id) REFERENCES chats (id)
    ) ${TABLE_OPTIONS}`);
  // Edited messages waiting to be re-indexed for search. Written in the edit's transaction,
  // so an index outage at edit time delays the re-index instead of losing it.
  await qi.sequelize.query(`
    CREATE TABLE search_outbox (
      message_id BIGINT UNSIGNED NOT NULL,
      queued_at DATETIME(3) NOT NULL,
      PRIMARY KEY (message_id),
      CONSTRAINT search_outbox_message_fk FOREIGN KEY (message_id) REFERENCES messages (id)
    ) ${TABLE_OPTIONS}`);
};

export const down: MigrationFn<QueryInterface> = async ({ context: qi }) => {
  await qi.sequelize.query('DROP TABLE search_outbox');
  await qi.sequelize.query('DROP TABLE messages');
  await qi.sequelize.query('DROP TABLE chats');
  await qi.sequelize.query('DROP TABLE applications');
};
