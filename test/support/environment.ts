import { randomUUID } from 'node:crypto';
import { pino } from 'pino';
import { loadConfig, type Config } from '../../internal/config/config.js';
import type { Logger } from '../../internal/log/logger.js';

/** Tests get their own database; every suite also gets its own Redis prefix and queue. */
export const TEST_MYSQL_URL =
  process.env['TEST_MYSQL_URL'] ?? 'mysql://root@127.0.0.1:3306/chat_system_test';
export const TEST_REDIS_URL = process.env['TEST_REDIS_URL'] ?? 'redis://127.0.0.1:6379';
export const TEST_RABBITMQ_URL =
  process.env['TEST_RABBITMQ_URL'] ?? 'amqp://guest:guest@127.0.0.1:5672';
/** Every node of the test broker (one, or a cluster's: `npm run test:rabbitmq-cluster`). */
export const TEST_RABBITMQ_URLS = TEST_RABBITMQ_URL.split(',').map((url) => url.trim());
/** One node, for a test's own amqplib connection (queue set-up, inspection, clean-up). */
export const TEST_RABBITMQ_ADMIN_URL = TEST_RABBITMQ_URLS[0]!;

export const silentLogger: Logger = pino({ level: process.env['TEST_LOG_LEVEL'] ?? 'silent' });

export function uniqueSuffix(): string {
  return randomUUID().slice(0, 8);
}

/** Where the programs under test find their data services. */
export interface ServiceUrls {
  readonly mysql: string;
  readonly redis: string;
  readonly rabbitmq: string;
}

export const TEST_SERVICES: ServiceUrls = {
  mysql: TEST_MYSQL_URL,
  redis: TEST_REDIS_URL,
  rabbitmq: TEST_RABBITMQ_URL,
};

/**
 * Environment of programs isolated from every other run: their own queue and Redis key prefix,
 * free ports (the start-up log line carries the bound port, so LOG_LEVEL is info). `services`
 * defaults to the shared test services; the fault suite passes its private instances.
 */
export function isolatedEnv(
  label: string,
  suffix = uniqueSuffix(),
  services: ServiceUrls = TEST_SERVICES,
) {
  return {
    MYSQL_URL: services.mysql,
    ...redisEnv(services.redis),
    RABBITMQ_URL: services.rabbitmq,
    RABBITMQ_QUEUE: `chat-system-${label}-${suffix}`,
    REDIS_KEY_PREFIX: `cs-${label}-${suffix}:`,
    PORT: '0',
    METRICS_PORT: '0',
    CONSUMER_HTTP_PORT: '0',
    FLUSHER_HTTP_PORT: '0',
    LOG_LEVEL: 'info',
  };
}

/** The same isolation as a parsed configuration, for in-process tests. */
export function testConfig(overrides: Record<string, string> = {}): Config {
  return loadConfig({ ...isolatedEnv('test'), LOG_LEVEL: 'silent', ...overrides });
}

/**
 * The test Redis: the shared standalone one, or the private cluster whose seed nodes
 * `TEST_REDIS_CLUSTER_NODES` names (`npm run test:redis-cluster` starts one and sets it).
 */
export const TEST_REDIS_CLUSTER_NODES = process.env['TEST_REDIS_CLUSTER_NODES'] ?? '';

/** Environment naming the test Redis, for loadConfig and for programs under test. */
export function redisEnv(url = TEST_REDIS_URL): {
  REDIS_URL: string;
  REDIS_CLUSTER_NODES?: string;
} {
  return TEST_REDIS_CLUSTER_NODES === ''
    ? { REDIS_URL: url }
    : { REDIS_URL: url, REDIS_CLUSTER_NODES: TEST_REDIS_CLUSTER_NODES };
}
