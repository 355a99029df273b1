import type { Redis } from 'ioredis';
import { Gauge, type Registry } from 'prom-client';

/**
 * Redis memory as the API sees it, read from INFO on each scrape. Redis runs with
 * `noeviction`: once full, every create fails, so the chart alerts well before that.
 */
export function registerRedisMemoryMetrics(registry: Registry, redis: Redis): void {
  let last: Promise<{ used: number; max: number } | null> | null = null;
  const read = () => {
    // Both gauges are collected in the same scrape: one INFO call serves them.
    last ??= redis
      .info('memory')
      .then((info) => ({
        used: Number(/used_memory:([0-9]+)/.exec(info)?.[1] ?? NaN),
        max: Number(/maxmemory:([0-9]+)/.exec(info)?.[1] ?? NaN),
      }))
      .catch(() => null)
      .finally(() => setTimeout(() => (last = null), 1_000).unref());
    return last;
  };
  new Gauge({
    name: 'redis_memory_used_bytes',
    help: 'Memory Redis uses (INFO used_memory); absent while Redis is unreachable.',
    registers: [registry],
    async collect() {
      const memory = await read();
      if (memory !== null && Number.isFinite(memory.used)) this.set(memory.used);
    },
  });
  new Gauge({
    name: 'redis_memory_max_bytes',
    help: 'Redis maxmemory (0: no limit).',
    registers: [registry],
    async collect() {
      const memory = await read();
      if (memory !== null && Number.isFinite(memory.max)) this.set(memory.max);
    },
  });
}
