import { Writable } from 'node:stream';
import { build } from '../../cmd/api/build.js';
import { createLogger } from '../../internal/log/logger.js';
import type { Config } from '../../internal/config/config.js';
import { removeIsolatedResources } from '../e2e/support/system.js';
import { testConfig } from './environment.js';

export interface InProcessApi {
  readonly base: string;
  readonly port: number;
  readonly config: Config;
  /** Every log line the API wrote (JSON), at debug level. */
  readonly logs: string[];
  stop(): Promise<void>;
}

/**
 * The API's own composition root in this process, on a free port, against the real
 * MariaDB/Redis/RabbitMQ, isolated by its own queue and Redis prefix (or a shared one, to
 * run two replicas). Logs are kept in memory with the API's own error serializer.
 */
export async function startInProcessApi(env: Record<string, string> = {}): Promise<InProcessApi> {
  const config = testConfig({ PORT: '0', METRICS_PORT: '0', ...env });
  const logs: string[] = [];
  const sink = new Writable({
    write(chunk: Buffer, _encoding, callback) {
      logs.push(
        ...chunk
          .toString('utf8')
          .split('\n')
          .filter((line) => line !== ''),
      );
      callback();
    },
  });
  const logger = createLogger('api', 'debug', sink);
  let port = 0;
  const program = build({
    config,
    logger,
    onListening: (ports) => {
      port = ports.http;
    },
  });
  await program.start();
  const base = `http://127.0.0.1:${port}`;
  for (let i = 0; i < 100; i += 1) {
    const ready = await fetch(`${base}/readyz`).catch(() => null);
    if (ready?.status === 200) break;
    await new Promise((r) => setTimeout(r, 100));
  }
  return {
    base,
    port,
    config,
    logs,
    async stop() {
      await program.stop();
      if (!env['RABBITMQ_QUEUE']) {
        await removeIsolatedResources({
          RABBITMQ_QUEUE: config.rabbitmq.queue,
          REDIS_KEY_PREFIX: config.redis.keyPrefix,
        });
      }
    },
  };
}
