import { ConfigError, loadConfig, type Config } from '../config/config.js';
import { createLogger, type Logger } from '../log/logger.js';
import { runUntilSignal, type Program } from './program.js';

/** Entry point shared by every cmd/<name>/main.ts. */
export async function main(
  name: string,
  build: (config: Config, logger: Logger) => Program,
): Promise<void> {
  let config: Config;
  try {
    config = loadConfig();
  } catch (err) {
    if (!(err instanceof ConfigError)) throw err;
    process.stderr.write(`${name}: ${err.message}\n`);
    process.exit(2);
  }
  const logger = createLogger(name, config.logLevel);
  await runUntilSignal(build(config, logger), logger, config.shutdownTimeoutMs);
}
