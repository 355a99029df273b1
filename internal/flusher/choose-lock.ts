import { hostname } from 'node:os';
import type { RedisClient } from '../redis/client.js';
import type { Config } from '../config/config.js';
import type { LeaderLock } from '../domain/ports.js';
import type { Logger } from '../log/logger.js';
import { RedisLock, noLock } from '../redis/lock.js';

/** A Lease in a cluster, Redis elsewhere; the Kubernetes client is loaded only when used. */
export async function chooseLock(
  config: Config,
  redis: RedisClient,
  logger: Logger,
): Promise<LeaderLock> {
  const { lock, inCluster, lockName, lockTtlSeconds, namespace, identity } = config.flusher;
  const kind = lock === 'auto' ? (inCluster ? 'kubernetes' : 'redis') : lock;
  switch (kind) {
    case 'none':
      return noLock;
    case 'redis':
      return new RedisLock(
        redis,
        `${config.redis.keyPrefix}lock:${lockName}`,
        lockTtlSeconds * 1000,
        logger,
      );
    case 'kubernetes': {
      const { createLeaseLockFromCluster } = await import('../k8s/lease-lock.js');
      return createLeaseLockFromCluster({
        // Without POD_NAMESPACE, the service account's own namespace.
        ...(namespace === undefined ? {} : { namespace }),
        name: lockName,
        identity: identity ?? hostname(),
        ttlSeconds: lockTtlSeconds,
        logger,
      });
    }
  }
}
