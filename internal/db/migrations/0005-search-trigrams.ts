import type { MigrationFn } from 'umzug';
import { QueryTypes, type QueryInterface } from 'sequelize';

const TABLE_OPTIONS = 'ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_520_ci';

export const up: MigrationFn<QueryInterface> = async ({ context: qi }) => {
  // The built-in search's trigram index (internal/search/mysql-trigrams.ts). The trigram has
  // the messages' collation, so the index compares as LIKE on the content does; a search reads
  // one (chat, trigram) range. Rows go with their message: ON DELETE CASCADE.
  await qi.sequelize.query(`
    CREATE TABLE message_trigrams (
      chat_id BIGINT UNSIGNED NOT NULL,
      trigram VARCHAR(3) NOT NULL,
      message_id BIGINT UNSIGNED NOT NULL,
      PRIMARY KEY (chat_id, trigram, message_id),
      KEY message_trigrams_message (message_id),
      CONSTRAINT message_trigrams_message_fk FOREIGN KEY (message_id) REFERENCES messages (id)
        ON DELETE CASCADE
    ) ${TABLE_OPTIONS}`);
  // Messages still waiting for the indexer are searched by scanning them: the chat lets a
  // search find its own pending entries without reading everyone else's. NULL for entries
  // queued by code older than this migration (a rolling upgrade); searches join those.
  await qi.sequelize.query(`
    ALTER TABLE search_outbox
      ADD COLUMN chat_id BIGINT UNSIGNED NULL,
      ADD KEY search_outbox_chat (chat_id, message_id)`);
  await qi.sequelize.query(`
    UPDATE search_outbox o JOIN messages m ON m.id = o.message_id SET o.chat_id = m.chat_id`);
  // The backfill of messages stored before the index existed: a cursor over message ids, and
  // when it finished. Until then searches scan, as before. An empty database needs none.
  await qi.sequelize.query(`
    CREATE TABLE search_trigram_backfill (
      id TINYINT UNSIGNED NOT NULL,
      after_message_id BIGINT UNSIGNED NOT NULL,
      finished_at DATETIME(3) NULL,
      PRIMARY KEY (id)
    ) ${TABLE_OPTIONS}`);
  const [row] = await qi.sequelize.query<{ n: number | string }>(
    'SELECT COUNT(*) AS n FROM (SELECT 1 FROM messages LIMIT 1) t',
    { type: QueryTypes.SELECT },
  );
  const empty = Number(row?.n ?? 0) === 0;
  await qi.sequelize.query(
    `INSERT INTO search_trigram_backfill (id, after_message_id, finished_at)
     VALUES (1, 0, ${empty ? 'UTC_TIMESTAMP(3)' : 'NULL'})`,
  );
};

export const down: MigrationFn<QueryInterface> = async ({ context: qi }) => {
  await qi.sequelize.query('DROP TABLE search_trigram_backfill');
  await qi.sequelize.query(
    'ALTER TABLE search_outbox DROP KEY search_outbox_chat, DROP COLUMN chat_id',
  );
  await qi.sequelize.query('DROP TABLE message_trigrams');
};
