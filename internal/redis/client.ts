import { Redis } from 'ioredis';
import type { Logger } from '../log/logger.js';

/**
 * One connection per process. Commands issued while Redis is unreachable fail fast (no
 * offline queue) so requests get a 503, not a hang. Commands in flight when a connection
 * drops fail at once and are never re-sent on the next connection: numbering checks which
 * Redis it talks to per connection (service/numbering.ts), and a command re-sent after a
 * restart would skip that check.
 */
export function createRedis(url: string, logger: Logger, name: string): Redis {
  const redis = new Redis(url, {
    connectionName: name,
    lazyConnect: true,
    maxRetriesPerRequest: 0,
    autoResendUnfulfilledCommands: false,
    enableOfflineQueue: false,
    connectTimeout: 5_000,
    // Commands issued in the same tick share one write: fewer syscalls under concurrency.
    enableAutoPipelining: true,
    retryStrategy: (attempt) => Math.min(100 * 2 ** attempt, 5_000),
  });
  redis.on('error', (err: Error) => logger.warn({ err: err.message }, 'redis connection error'));
  return redis;
}
