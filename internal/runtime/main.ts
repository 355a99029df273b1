import { ConfigError, loadConfig, type Config } from '../config/config.js';
import { createLogger, type Logger } from '../log/logger.js';
import { runUntilSignal, type Program } from './program.js';

/** Loads the configuration, or prints every bad variable and exits with status 2. */
export function loadConfigOrExit(name: string): Config {
  try {
    return loadConfig();
  } catch (err) {
    if (!(err instanceof ConfigError)) throw err;
    process.stderr.write(`${name}: ${err.message}\n`);
    process.exit(2);
  }
}

/** Entry point shared by the long-running cmd/<name>/main.ts programs. */
export async function main(
  name: string,
  build: (config: Config, logger: Logger) => Program,
): Promise<void> {
  const config = loadConfigOrExit(name);
  const logger = createLogger(name, config.logLevel);
  await runUntilSignal(build(config, logger), logger, config.shutdownTimeoutMs);
}
