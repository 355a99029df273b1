import { loadConfigOrExit } from '../../internal/runtime/main.js';
import { createLogger } from '../../internal/log/logger.js';
import { createSequelize } from '../../internal/db/sequelize.js';
import { createMigrator, ensureDatabase } from '../../internal/db/migrator.js';

// Applies pending migrations (creating the database when missing), then exits.
// --check exits 0 when the schema is current and 1 otherwise: workloads wait on it.
// --down reverts the last migration.
const check = process.argv.includes('--check');
const down = process.argv.includes('--down');

const config = loadConfigOrExit('migrate');
const logger = createLogger('migrate', config.logLevel);
let code = 0;
try {
  if (!check) await ensureDatabase(config.mysql.url, logger);
  const sequelize = createSequelize(config.mysql);
  try {
    const migrator = createMigrator(sequelize, logger);
    if (check) {
      const pending = await migrator.pending();
      if (pending.length > 0) {
        logger.info({ pending: pending.map((m) => m.name) }, 'schema is not current');
        code = 1;
      }
    } else if (down) {
      await migrator.down();
    } else {
      const applied = await migrator.up();
      logger.info({ applied: applied.map((m) => m.name) }, 'schema is current');
    }
  } finally {
    await sequelize.close();
  }
} catch (err) {
  logger.error({ err }, 'migration failed');
  code = 1;
}
process.exit(code);
