import type { MigrationFn } from 'umzug';
import type { QueryInterface } from 'sequelize';

const TABLE_OPTIONS = 'ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_520_ci';

export const up: MigrationFn<QueryInterface> = async ({ context: qi }) => {
  // The durable side of numbering, as a sequence cache keeps it: every number Redis ever
  // issues is at most the ceiling reserved here for its scope (0: the application's chats;
  // n: chat n's messages). No foreign key to chats: a chat's row may still be queued.
  await qi.sequelize.query(`
    CREATE TABLE number_ceilings (
      application_id BIGINT UNSIGNED NOT NULL,
      scope INT UNSIGNED NOT NULL,
      ceiling INT UNSIGNED NOT NULL,
      PRIMARY KEY (application_id, scope),
      CONSTRAINT number_ceilings_application_fk FOREIGN KEY (application_id)
        REFERENCES applications (id)
    ) ${TABLE_OPTIONS}`);
  // One row per Redis state the API found it could not trust (a new Redis process, or none
  // recorded): numbering state written under an older epoch is revalidated against the
  // ceilings above. settled_at is set by the consumer when it persists the epoch's fence.
  await qi.sequelize.query(`
    CREATE TABLE numbering_epochs (
      id BIGINT UNSIGNED NOT NULL AUTO_INCREMENT,
      redis_run_id VARCHAR(64) CHARACTER SET ascii COLLATE ascii_bin NOT NULL,
      started_at DATETIME(3) NOT NULL,
      settled_at DATETIME(3) NULL,
      PRIMARY KEY (id)
    ) ${TABLE_OPTIONS}`);
};

export const down: MigrationFn<QueryInterface> = async ({ context: qi }) => {
  await qi.sequelize.query('DROP TABLE numbering_epochs');
  await qi.sequelize.query('DROP TABLE number_ceilings');
};
