import { loadConfig } from '../../internal/config/config.js';
import { createRedis, primaries, type RedisClient } from '../../internal/redis/client.js';
import { redisEnv, silentLogger } from './environment.js';

/**
 * A connected client of the test Redis (standalone or cluster, see TEST_REDIS_CLUSTER_NODES),
 * made by the programs' own factory.
 */
export async function testRedis(
  name: string,
  options: { commandTimeoutMs?: number; connect?: boolean } = {},
): Promise<RedisClient> {
  const { redis: settings } = loadConfig({ ...redisEnv(), LOG_LEVEL: 'silent' });
  const redis = createRedis(
    settings,
    silentLogger,
    name,
    options.commandTimeoutMs === undefined ? {} : { commandTimeoutMs: options.commandTimeoutMs },
  );
  if (options.connect !== false) await redis.connect();
  return redis;
}

/** Every key matching `pattern`, on every primary (KEYS and SCAN see one node of a cluster). */
export async function keysMatching(redis: RedisClient, pattern: string): Promise<string[]> {
  const found: string[] = [];
  for (const node of primaries(redis)) {
    for await (const batch of node.scanStream({ match: pattern, count: 500 })) {
      found.push(...(batch as string[]));
    }
  }
  return found;
}

/** Deletes every key matching `pattern`, one key per command (a cluster refuses cross-slot DEL). */
export async function removeKeys(redis: RedisClient, pattern: string): Promise<void> {
  const found = await keysMatching(redis, pattern);
  await Promise.all(found.map((key) => redis.del(key)));
}
