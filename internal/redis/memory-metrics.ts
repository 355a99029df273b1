import { Gauge, type Registry } from 'prom-client';
import { primaries, type RedisClient } from './client.js';

interface NodeMemory {
  readonly node: string;
  readonly used: number;
  readonly max: number;
}

/**
 * Redis memory as the API sees it, read from INFO on each scrape, per primary (`node` is its
 * host:port; a cluster has several, and the fullest one fails first). Redis runs with
 * `noeviction`: once full, every create on it fails, so the chart alerts well before that.
 */
export function registerRedisMemoryMetrics(registry: Registry, redis: RedisClient): void {
  let last: Promise<readonly NodeMemory[]> | null = null;
  const read = () => {
    // Both gauges are collected in the same scrape: one INFO per primary serves them.
    last ??= Promise.all(
      primaries(redis).map((node) =>
        node
          .info('memory')
          .then((info): NodeMemory => ({
            node: `${node.options.host ?? ''}:${node.options.port ?? ''}`,
            used: Number(/used_memory:([0-9]+)/.exec(info)?.[1] ?? NaN),
            max: Number(/maxmemory:([0-9]+)/.exec(info)?.[1] ?? NaN),
          }))
          .catch(() => null),
      ),
    )
      .then((nodes) => nodes.filter((n): n is NodeMemory => n !== null))
      .finally(() => setTimeout(() => (last = null), 1_000).unref());
    return last;
  };
  new Gauge({
    name: 'redis_memory_used_bytes',
    help: 'Memory a Redis primary uses (INFO used_memory); absent while it is unreachable.',
    labelNames: ['node'],
    registers: [registry],
    async collect() {
      this.reset();
      for (const { node, used } of await read())
        if (Number.isFinite(used)) this.set({ node }, used);
    },
  });
  new Gauge({
    name: 'redis_memory_max_bytes',
    help: 'A Redis primary’s maxmemory (0: no limit).',
    labelNames: ['node'],
    registers: [registry],
    async collect() {
      this.reset();
      for (const { node, max } of await read()) if (Number.isFinite(max)) this.set({ node }, max);
    },
  });
}
