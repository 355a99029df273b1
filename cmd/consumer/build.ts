import { loadConfig, type Config } from '../../internal/config/config.js';
import { createLogger, type Logger } from '../../internal/log/logger.js';
import { createConsumerMetrics, createRegistry } from '../../internal/metrics/registry.js';
import { createSequelize } from '../../internal/db/sequelize.js';
import { persistWriteBatch } from '../../internal/db/write-batch.js';
import { createRedis } from '../../internal/redis/client.js';
import { KeySpace } from '../../internal/counters/keys.js';
import { DirtySet } from '../../internal/counters/dirty.js';
import { AmqpConnection } from '../../internal/queue/connection.js';
import { WriteConsumer } from '../../internal/queue/consumer.js';
import { PersistWrites } from '../../internal/jobs/persist-writes.js';
import { Readiness } from '../../internal/http/health.js';
import { createOpsServer } from '../../internal/http/ops-server.js';
import { closeServer, listen } from '../../internal/http/server.js';
import { flagCheck, mysqlCheck, redisCheck } from '../../internal/runtime/checks.js';
import { Deadline, stopBudgetMs, type Program } from '../../internal/runtime/program.js';
import { createSearchBackend } from '../../internal/search/backend.js';

export interface ConsumerOverrides {
  readonly config?: Config;
  readonly logger?: Logger;
  readonly onListening?: (ports: { http: number }) => void;
}

/** Composition root of the consumer: queue → MySQL (batched) → dirty marks → search index. */
export function build(overrides: ConsumerOverrides = {}): Program {
  const config = overrides.config ?? loadConfig();
  const logger = overrides.logger ?? createLogger('consumer', config.logLevel);
  const registry = createRegistry('consumer');
  const metrics = createConsumerMetrics(registry);
  const shutdown = new AbortController();

  const sequelize = createSequelize({
    ...config.mysql,
    queryTimeoutMs: config.limits.mysqlQueryTimeoutMs,
  });
  const redis = createRedis(config.redis.url, logger, 'chat-system-consumer', {
    commandTimeoutMs: config.limits.redisCommandTimeoutMs,
  });
  const dirty = new DirtySet(redis, new KeySpace(config.redis.keyPrefix));
  const search = createSearchBackend(config, sequelize, registry, logger);

  const consumer = new WriteConsumer({
    ...config.consumer,
    queue: config.rabbitmq.queue,
    logger,
    handler: new PersistWrites({
      persist: (events) => persistWriteBatch(sequelize, events),
      dirty,
      indexer: search.indexer,
      signal: shutdown.signal,
      metrics,
      logger,
    }),
    observer: {
      batch: (size, seconds) => {
        metrics.batchSize.observe(size);
        metrics.batchDuration.observe(seconds);
      },
      redelivered: () => metrics.redeliveries.inc(),
      deadLettered: (reason) => metrics.deadLetters.inc({ reason }),
    },
  });
  const amqp = new AmqpConnection({
    url: config.rabbitmq.url,
    name: 'chat-system-consumer',
    logger,
    onConnect: consumer.attach,
    onDisconnect: consumer.detach,
  });

  const readiness = new Readiness([
    mysqlCheck(sequelize),
    redisCheck(redis),
    flagCheck('rabbitmq', () => consumer.consuming),
    ...search.checks,
  ]);
  const opsServer = createOpsServer(registry, readiness);

  return {
    async start() {
      const http = await listen(opsServer, config.consumerHttpPort);
      overrides.onListening?.({ http });
      redis
        .connect()
        .catch((err: unknown) =>
          logger.warn({ err: (err as Error).message }, 'redis not reachable yet'),
        );
      await search.start();
      void amqp.start();
      logger.info(
        { port: http, queue: config.rabbitmq.queue, search: search.name },
        'consumer started',
      );
    },
    async stop() {
      const deadline = new Deadline(stopBudgetMs(config.shutdownTimeoutMs));
      readiness.drain();
      // The ops listener closes alongside the drain (idle scrapers' sockets at once).
      const opsClosed = closeServer(opsServer, deadline.remaining() / 2);
      const drained = consumer.stop();
      // Past half the budget, stop retrying: the unacked batch is redelivered elsewhere.
      const giveUp = setTimeout(
        () => shutdown.abort(new Error('shutting down')),
        deadline.remaining() / 2,
      );
      const inTime = await deadline.within(drained);
      clearTimeout(giveUp);
      if (!inTime) logger.warn('consumer drain timed out: unacked messages are redelivered');
      if (!(await deadline.within(amqp.close()))) logger.warn('rabbitmq close timed out');
      redis.disconnect();
      if (!(await deadline.within(Promise.all([sequelize.close(), search.close()]))))
        logger.warn('mysql or search close timed out');
      await opsClosed;
    },
  };
}
