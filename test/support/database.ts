import type { Sequelize } from 'sequelize';
import { createSequelize } from '../../internal/db/sequelize.js';
import { createMigrator, ensureDatabase } from '../../internal/db/migrator.js';
import { silentLogger, TEST_MYSQL_URL } from './environment.js';

let migrated: Promise<void> | null = null;

/** Creates and migrates the test database once per test process. */
export function migrateTestDatabase(): Promise<void> {
  migrated ??= (async () => {
    await ensureDatabase(TEST_MYSQL_URL, silentLogger);
    const sequelize = testSequelize();
    try {
      await createMigrator(sequelize, silentLogger).up();
    } finally {
      await sequelize.close();
    }
  })();
  return migrated;
}

export function testSequelize(): Sequelize {
  return createSequelize({ url: TEST_MYSQL_URL, poolMax: 5 });
}
