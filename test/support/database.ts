import type { Sequelize } from 'sequelize';
import { createSequelize } from '../../internal/db/sequelize.js';
import { createMigrator, ensureDatabase } from '../../internal/db/migrator.js';
import { silentLogger, TEST_MYSQL_URL } from './environment.js';

let migrated: Promise<void> | null = null;

/** Creates and migrates the test database once per test process. */
export function migrateTestDatabase(): Promise<void> {
  migrated ??= migrateDatabase(TEST_MYSQL_URL);
  return migrated;
}

/** Creates the database named in `url` if needed and applies every migration to it. */
export async function migrateDatabase(url: string): Promise<void> {
  await ensureDatabase(url, silentLogger);
  const sequelize = createSequelize({ url, poolMax: 2 });
  try {
    await createMigrator(sequelize, silentLogger).up();
  } finally {
    await sequelize.close();
  }
}

export function testSequelize(): Sequelize {
  return createSequelize({ url: TEST_MYSQL_URL, poolMax: 5 });
}
