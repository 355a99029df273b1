import { createHash } from 'node:crypto';
import type { RedisClient } from './client.js';
import type { RateLimitDecision, RateLimitRule, RateLimiter } from '../domain/ports.js';

const COMMAND = 'chatSystemRateLimitTake';

// A fixed window per subject: one key, counted and expired in one atomic step, so every API
// replica sees the same count. A key that lost its expiry (never expected) gets it back.
const TAKE = `
local count = redis.call('INCR', KEYS[1])
if count == 1 then redis.call('PEXPIRE', KEYS[1], ARGV[1]) end
local ttl = redis.call('PTTL', KEYS[1])
if ttl < 0 then
  redis.call('PEXPIRE', KEYS[1], ARGV[1])
  ttl = tonumber(ARGV[1])
end
return {count, ttl}
`;

type Take = (key: string, windowMs: number) => Promise<[number, number]>;

/**
 * Rate limits kept in Redis. Each subject is one key whose hash tag holds the whole key, so
 * the script touches one slot (Redis Cluster). Subjects are hashed: no address or token is
 * stored in clear.
 */
export class RedisRateLimiter implements RateLimiter {
  constructor(
    private readonly redis: RedisClient,
    private readonly keyPrefix: string,
  ) {
    if (!(COMMAND in redis)) redis.defineCommand(COMMAND, { numberOfKeys: 1, lua: TAKE });
  }

  async take(rule: RateLimitRule, subject: string): Promise<RateLimitDecision> {
    const digest = createHash('sha256').update(subject).digest('base64url').slice(0, 22);
    const key = `${this.keyPrefix}rl:{${rule.name}:${digest}}`;
    const take = (this.redis as unknown as Record<string, Take>)[COMMAND]!.bind(this.redis);
    const [count, ttlMs] = await take(key, rule.windowSeconds * 1000);
    return {
      allowed: count <= rule.max,
      remaining: Math.max(0, rule.max - count),
      resetSeconds: Math.max(1, Math.ceil(ttlMs / 1000)),
    };
  }
}
