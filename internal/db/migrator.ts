import { Sequelize } from 'sequelize';
import { SequelizeStorage, Umzug } from 'umzug';
import type { Logger } from '../log/logger.js';
import { migrations } from './migrations/index.js';
import { databaseName } from './sequelize.js';

export function createMigrator(sequelize: Sequelize, logger: Logger) {
  return new Umzug({
    migrations,
    context: sequelize.getQueryInterface(),
    storage: new SequelizeStorage({ sequelize, tableName: 'schema_migrations' }),
    logger: {
      info: (event) => logger.info(event, 'migration'),
      warn: (event) => logger.warn(event, 'migration'),
      error: (event) => logger.error(event, 'migration'),
      debug: (event) => logger.debug(event, 'migration'),
    },
  });
}

/** Creates the database named by the URL when it is missing (local runs and tests). */
export async function ensureDatabase(url: string, logger: Logger): Promise<void> {
  const name = databaseName(url);
  const serverUrl = new URL(url);
  serverUrl.pathname = '/';
  const parsed = serverUrl;
  const admin = new Sequelize({
    dialect: 'mysql',
    host: parsed.hostname,
    port: parsed.port === '' ? 3306 : Number(parsed.port),
    username: decodeURIComponent(parsed.username),
    password: decodeURIComponent(parsed.password),
    logging: false,
    pool: { max: 1 },
  });
  try {
    const [rows] = await admin.query(
      'SELECT 1 FROM information_schema.schemata WHERE schema_name = ?',
      {
        replacements: [name],
      },
    );
    if (rows.length === 0) {
      await admin.query(
        `CREATE DATABASE IF NOT EXISTS \`${name}\` CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_520_ci`,
      );
      logger.info({ database: name }, 'created database');
    }
  } finally {
    await admin.close();
  }
}
