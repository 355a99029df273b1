import { readFileSync } from 'node:fs';
import { Cluster, Redis, type RedisOptions } from 'ioredis';
import type { RedisSettings } from '../config/config.js';
import type { Logger } from '../log/logger.js';

/** A standalone Redis or a Redis Cluster: every use in this project works on both. */
export type RedisClient = Redis | Cluster;

export interface RedisClientOptions {
  /** A command without a reply in time fails (and maps to a 503) instead of hanging. */
  readonly commandTimeoutMs?: number;
}

/**
 * One client per process (plus one for blocking reads where needed). Commands issued while
 * Redis is unreachable fail fast (no offline queue) so requests get a 503, not a hang.
 * Commands in flight when a connection drops fail at once and are never re-sent on the next
 * connection: on a standalone Redis, numbering checks which Redis it talks to per connection
 * (service/numbering.ts), and a command re-sent after a restart would skip that check. On a
 * cluster the numbering scripts check the Redis process they run in themselves (numbers.ts),
 * because a cluster client re-routes commands to whichever node holds the slot now.
 */
export function createRedis(
  settings: RedisSettings,
  logger: Logger,
  name: string,
  { commandTimeoutMs }: RedisClientOptions = {},
): RedisClient {
  const common = {
    ...(commandTimeoutMs === undefined ? {} : { commandTimeout: commandTimeoutMs }),
    connectionName: name,
    maxRetriesPerRequest: 0,
    autoResendUnfulfilledCommands: false,
    connectTimeout: 5_000,
  } satisfies RedisOptions;
  const retry = (attempt: number) => Math.min(100 * 2 ** attempt, 5_000);
  const redis = settings.cluster
    ? new Cluster(
        settings.cluster.nodes.map(({ host, port }) => ({ host, port })),
        {
          lazyConnect: true,
          enableOfflineQueue: false,
          // No auto-pipelining on a cluster: it groups commands by the slot of their first
          // argument, which for EVALSHA and XREAD is not a key (the key count, STREAMS), and
          // then fails whole batches whose keys are on other nodes ("All keys in the pipeline
          // should belong to the same slots allocation group", ioredis issue #2109).
          enableAutoPipelining: false,
          // Writes and reads both go to primaries: numbering must read what it wrote.
          scaleReads: 'master',
          clusterRetryStrategy: retry,
          // A failover takes the cluster's node timeout; meanwhile creates answer 503.
          retryDelayOnFailover: 100,
          retryDelayOnClusterDown: 100,
          retryDelayOnTryAgain: 100,
          redisOptions: {
            ...common,
            ...(settings.cluster.username === undefined
              ? {}
              : { username: settings.cluster.username }),
            ...(settings.cluster.password === undefined
              ? {}
              : { password: settings.cluster.password }),
            ...(settings.cluster.tls
              ? {
                  tls:
                    settings.cluster.tlsCaFile === undefined
                      ? {}
                      : { ca: readFileSync(settings.cluster.tlsCaFile) },
                }
              : {}),
          },
        },
      )
    : new Redis(settings.url, {
        ...common,
        lazyConnect: true,
        enableOfflineQueue: false,
        // Commands issued in the same tick share one write: fewer syscalls under concurrency.
        enableAutoPipelining: true,
        retryStrategy: retry,
      });
  redis.on('error', (err: Error) => logger.warn({ err: err.message }, 'redis connection error'));
  return redis;
}

/**
 * Runs `command` on every primary (a cluster's each, or the one standalone Redis): for what
 * is per node, such as INFO or a SCAN of keys.
 */
export function primaries(redis: RedisClient): readonly Redis[] {
  return redis instanceof Cluster ? redis.nodes('master') : [redis];
}
