import { main } from '../../internal/runtime/main.js';
import { build } from './build.js';

// --once: one pass, then exit (the Kubernetes CronJob); otherwise loop every FLUSH_INTERVAL_MS.
const once = process.argv.includes('--once');
await main('flusher', (config, logger) => {
  const program = build({ config, logger, once });
  if (once) {
    void program.done.then(async (ok) => {
      await program.stop();
      process.exit(ok ? 0 : 1);
    });
  }
  return program;
});
