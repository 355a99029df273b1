import type { Sequelize } from 'sequelize';
import { createSequelize } from '../../internal/db/sequelize.js';
import { createMigrator, ensureDatabase } from '../../internal/db/migrator.js';
import { silentLogger, TEST_MYSQL_URL } from './environment.js';
import { defineModels } from '../../internal/db/models.js';
import { SqlApplicationRepository } from '../../internal/db/repositories/applications.js';
import { SqlChatRepository } from '../../internal/db/repositories/chats.js';
import { SqlMessageRepository } from '../../internal/db/repositories/messages.js';

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

/** The SQL repositories on one Sequelize: opened before a suite, closed after it. */
export interface SuiteRepositories {
  sequelize: Sequelize;
  applications: SqlApplicationRepository;
  chats: SqlChatRepository;
  messages: SqlMessageRepository;
}

/** Registers the suite's before/after hooks; the fields are set once `before` ran. */
export function repositoriesForSuite(): SuiteRepositories {
  const suite = {} as SuiteRepositories;
  before(() => {
    suite.sequelize = testSequelize();
    suite.applications = new SqlApplicationRepository(
      suite.sequelize,
      defineModels(suite.sequelize),
    );
    suite.chats = new SqlChatRepository(suite.sequelize);
    suite.messages = new SqlMessageRepository(suite.sequelize);
  });
  after(() => suite.sequelize.close());
  return suite;
}
