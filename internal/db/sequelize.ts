import { Sequelize } from 'sequelize';

export interface DatabaseOptions {
  readonly url: string;
  readonly poolMax: number;
  /** Server-side limit on each statement; unset for migrations, which may run long. */
  readonly queryTimeoutMs?: number;
}

/** A new Sequelize instance per caller: the composition root owns and closes it. */
export function createSequelize({ url, poolMax, queryTimeoutMs }: DatabaseOptions): Sequelize {
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
    ...(queryTimeoutMs === undefined
      ? {}
      : {
          hooks: {
            afterConnect: (connection: unknown) => limitStatements(connection, queryTimeoutMs),
          },
        }),
  });
}

interface RawConnection {
  query(sql: string, callback: (err: Error | null) => void): unknown;
}

const run = (connection: RawConnection, sql: string) =>
  new Promise<void>((resolve, reject) =>
    connection.query(sql, (err) => (err === null ? resolve() : reject(err))),
  );

/**
 * Every statement of every pooled connection is cut off by the server after `ms`: MariaDB's
 * max_statement_time (seconds, all statements), else MySQL's max_execution_time (ms, SELECTs;
 * writes there are bounded by innodb_lock_wait_timeout).
 */
async function limitStatements(connection: unknown, ms: number): Promise<void> {
  const raw = connection as RawConnection;
  try {
    await run(raw, `SET SESSION max_statement_time = ${(ms / 1000).toFixed(3)}`);
  } catch (err) {
    if ((err as { errno?: unknown }).errno !== 1193) throw err; // ER_UNKNOWN_SYSTEM_VARIABLE
    await run(raw, `SET SESSION max_execution_time = ${Math.ceil(ms)}`);
  }
}

export function databaseName(url: string): string {
  const name = decodeURIComponent(new URL(url).pathname.replace(/^\//, ''));
  if (!/^[A-Za-z0-9_]{1,64}$/.test(name)) {
    throw new Error('MYSQL_URL must name a database made of letters, digits and underscores');
  }
  return name;
}
