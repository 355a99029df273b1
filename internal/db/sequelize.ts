import { Sequelize } from 'sequelize';

export interface DatabaseOptions {
  readonly url: string;
  readonly poolMax: number;
}

/** A new Sequelize instance per caller: the composition root owns and closes it. */
export function createSequelize({ url, poolMax }: DatabaseOptions): Sequelize {
  const parsed = new URL(url);
  return new Sequelize({
    dialect: 'mysql',
    host: parsed.hostname,
    port: parsed.port === '' ? 3306 : Number(parsed.port),
    username: decodeURIComponent(parsed.username),
    password: decodeURIComponent(parsed.password),
    database: databaseName(url),
    timezone: '+00:00',
    // Statements carry application tokens and message contents: they are never logged.
    logging: false,
    pool: { max: poolMax, min: 0, acquire: 10_000, idle: 30_000 },
    dialectOptions: { charset: 'utf8mb4', connectTimeout: 5_000, supportBigNumbers: true },
    define: { charset: 'utf8mb4', collate: 'utf8mb4_unicode_520_ci', underscored: true },
  });
}

export function databaseName(url: string): string {
  const name = decodeURIComponent(new URL(url).pathname.replace(/^\//, ''));
  if (!/^[A-Za-z0-9_]{1,64}$/.test(name)) {
    throw new Error('MYSQL_URL must name a database made of letters, digits and underscores');
  }
  return name;
}
