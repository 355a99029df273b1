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

export const silentLogger: Logger = pino({ level: process.env['TEST_LOG_LEVEL'] ?? 'silent' });

export function uniqueSuffix(): string {
  return randomUUID().slice(0, 8);
}

/** A configuration isolated from every other test run: own key prefix, own queue. */
export function testConfig(overrides: Record<string, string> = {}): Config {
  const suffix = uniqueSuffix();
  return loadConfig({
    MYSQL_URL: TEST_MYSQL_URL,
    REDIS_URL: TEST_REDIS_URL,
    RABBITMQ_URL: TEST_RABBITMQ_URL,
    REDIS_KEY_PREFIX: `cs-test-${suffix}:`,
    RABBITMQ_QUEUE: `chat-system-test-${suffix}`,
    LOG_LEVEL: 'silent',
    PORT: '0',
    METRICS_PORT: '0',
    CONSUMER_HTTP_PORT: '0',
    FLUSHER_HTTP_PORT: '0',
    ...overrides,
  });
}
