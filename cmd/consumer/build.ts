import { loadConfig, type Config } from '../../internal/config/config.js';
import { createLogger, type Logger } from '../../internal/log/logger.js';
import {
  createConsumerMetrics,
  createPurgeMetrics,
  createRegistry,
  createSearchIndexMetrics,
} from '../../internal/metrics/registry.js';
import { createSequelize } from '../../internal/db/sequelize.js';
import { persistWriteBatch } from '../../internal/db/write-batch.js';
import { isTransientDatabaseError } from '../../internal/db/errors.js';
import { createRedis } from '../../internal/redis/client.js';
import { KeySpace } from '../../internal/redis/keys.js';
import { DirtySet } from '../../internal/redis/dirty.js';
import { RedisLiveLog } from '../../internal/redis/live.js';
import { RedisLock } from '../../internal/redis/lock.js';
import { SearchOutbox } from '../../internal/db/repositories/search-outbox.js';
import { AmqpConnection } from '../../internal/queue/connection.js';
import { WriteConsumer } from '../../internal/queue/consumer.js';
import { WatchWriteQueues } from '../../internal/jobs/watch-write-queues.js';
import { SqlWriteQueueRegistry } from '../../internal/db/repositories/write-queues.js';
import { WRITE_QUEUE_LEASE, retiredAfterMs } from '../../internal/domain/partitions.js';
import { encodeWriteEvent } from '../../internal/domain/events.js';
import { PersistBatch } from '../../internal/jobs/persist-batch.js';
import { CommitPositions } from '../../internal/service/causal-reads.js';
import { SqlPrimaryPosition } from '../../internal/db/commit-position.js';
import { RedisPositionStore } from '../../internal/redis/positions.js';
import { IndexSearch } from '../../internal/jobs/index-search.js';
import { PurgeDeleted } from '../../internal/jobs/purge-deleted.js';
import { SqlPurgeStore } from '../../internal/db/repositories/purge.js';
import { BusyWindow } from '../../internal/jobs/busy-window.js';
import { Readiness } from '../../internal/ops/readiness.js';
import { createOpsServer } from '../../internal/ops/server.js';
import { closeServer, listen } from '../../internal/http/server.js';
import { flagCheck, mysqlCheck, redisCheck } from '../../internal/ops/checks.js';
import { Deadline, sleep, stopBudgetMs, type Program } from '../../internal/runtime/program.js';
import { createSearchBackend } from '../../internal/search/backend.js';
import { TRIGRAM_INDEXER_YIELD } from '../../internal/search/mysql-trigrams.js';

const SEARCH_INDEXER_LOCK_TTL_MS = 30_000;
const PURGE_LOCK_TTL_MS = 30_000;

export interface ConsumerOverrides {
  readonly config?: Config;
  readonly logger?: Logger;
  readonly onListening?: (ports: { http: number }) => void;
}

/**
 * Composition root of the consumer: queue → MySQL (batched, with search_outbox) → dirty marks
 * → ack; beside it, the search indexer drains search_outbox into the index, and the purge
 * removes the rows of deleted chats and applications.
 */
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
  const redis = createRedis(config.redis, logger, 'chat-system-consumer', {
    commandTimeoutMs: config.limits.redisCommandTimeoutMs,
  });
  const keys = new KeySpace(config.redis.keyPrefix);
  const dirty = new DirtySet(redis, keys);
  const search = createSearchBackend(config, sequelize, registry, logger);
  const outbox = new SearchOutbox(sequelize);
  const persisting = new BusyWindow(
    TRIGRAM_INDEXER_YIELD.windowMs,
    TRIGRAM_INDEXER_YIELD.busyShare,
  );
  const indexMetrics = createSearchIndexMetrics(registry, () => outbox.lag());
  const indexSearch = new IndexSearch({
    outbox,
    indexer: search.indexer,
    backfill: search.backfill,
    ...(search.name === 'mysql'
      ? {
          yieldTo: {
            busy: () => persisting.busy(),
            factor: TRIGRAM_INDEXER_YIELD.factor,
          },
        }
      : {}),
    lock: new RedisLock(
      redis,
      `${config.redis.keyPrefix}lock:search-indexer`,
      SEARCH_INDEXER_LOCK_TTL_MS,
      logger,
    ),
    batchSize: config.searchIndex.batchSize,
    intervalMs: config.searchIndex.intervalMs,
    metrics: indexMetrics,
    logger,
  });

  const purgeStore = new SqlPurgeStore(sequelize);
  const purgeMetrics = createPurgeMetrics(registry, () => purgeStore.backlog());
  for (const kind of ['application', 'chat']) {
    purgeMetrics.rows.inc({ kind }, 0);
    purgeMetrics.tasks.inc({ kind }, 0);
  }
  // The chats' event logs: the consumer announces persisted creates, the purge ends streams.
  const liveLog = new RedisLiveLog(redis, keys, config.live);
  const purgeDeleted = new PurgeDeleted({
    store: purgeStore,
    live: liveLog,
    indexer: search.indexer,
    lock: new RedisLock(redis, `${config.redis.keyPrefix}lock:purge`, PURGE_LOCK_TTL_MS, logger),
    ...config.purge,
    metrics: purgeMetrics,
    logger,
  });

  const consumer = new WriteConsumer({
    ...config.consumer,
    queue: config.rabbitmq.queue,
    logger,
    handler: new PersistBatch({
      persist: (events) =>
        persistWriteBatch(sequelize, events, {
          queueForIndexing: true,
          baseQueue: config.rabbitmq.queue,
        }),
      dirty,
      // After the commit: announce the creates on their chats' logs (event streams).
      announcer: liveLog,
      // While APIs read from a replica: what this batch persisted is waited for there.
      ...(!config.mysql.recordPositions
        ? {}
        : {
            positions: new CommitPositions(
              new SqlPrimaryPosition(sequelize),
              new RedisPositionStore(redis, keys),
            ),
          }),
      isTransient: isTransientDatabaseError,
      signal: shutdown.signal,
      metrics,
      logger,
    }),
    observer: {
      batch: (size, seconds) => {
        persisting.record(seconds * 1_000);
        metrics.batchSize.observe(size);
        metrics.batchDuration.observe(seconds);
      },
      lag: (queue, seconds) => metrics.queueLag.set({ queue }, seconds),
      redelivered: () => metrics.redeliveries.inc(),
      deadLettered: (code) => metrics.deadLetters.inc({ reason: code }),
    },
  });
  // Partitioned write queues: consume every set's queues until drained (see partitions.ts).
  const watchQueues = new WatchWriteQueues({
    registry: new SqlWriteQueueRegistry(sequelize),
    queues: {
      depth: (queue) => consumer.depth(queue),
      consume: (queues) => consumer.consume(queues),
      sendMark: (queue, mark) =>
        consumer.sendMark(queue, encodeWriteEvent(mark), mark.eventId, mark.kind),
    },
    base: config.rabbitmq.queue,
    retiredAfterMs: retiredAfterMs(WRITE_QUEUE_LEASE, config.numbering.createDeadlineMs),
    intervalMs: WRITE_QUEUE_LEASE.heartbeatMs,
    markRepeatMs: 30_000,
    onDepth: (queue, depth) => {
      if (depth === null) metrics.queueDepth.remove({ queue });
      else metrics.queueDepth.set({ queue }, depth);
    },
    logger,
  });
  const amqp = new AmqpConnection({
    urls: config.rabbitmq.urls,
    name: 'chat-system-consumer',
    logger,
    onConnect: consumer.attach,
    onDisconnect: consumer.detach,
  });

  const readiness = new Readiness([
    mysqlCheck(sequelize),
    redisCheck(redis),
    flagCheck('rabbitmq', () => consumer.consuming),
    // Reported only: an index outage delays search, never persistence.
    ...search.checks.map((c) => ({ name: c.name, critical: false, check: () => c.check() })),
  ]);
  const opsServer = createOpsServer(registry, readiness);
  let indexLoop: Promise<void> | null = null;
  let purgeLoop: Promise<void> | null = null;
  let depthLoop: Promise<void> | null = null;
  let queuesLoop: Promise<void> | null = null;

  /** Reads the dead-letter queue's depth for its gauge until shutdown. */
  async function watchDeadLetters(): Promise<void> {
    while (!shutdown.signal.aborted) {
      await consumer.deadLetterDepth().then(
        (depth) => {
          if (depth !== null) metrics.deadLetterDepth.set(depth);
        },
        (err: unknown) => logger.warn({ err }, 'could not read the dead-letter queue depth'),
      );
      await sleep(config.consumer.deadLetterCheckMs, shutdown.signal).catch(() => undefined);
    }
  }

  return {
    async start() {
      const http = await listen(opsServer, config.consumerHttpPort);
      overrides.onListening?.({ http });
      redis.connect().catch((err: unknown) => logger.warn({ err }, 'redis not reachable yet'));
      await search.start();
      void amqp.start();
      indexLoop = indexSearch.run(shutdown.signal);
      purgeLoop = purgeDeleted.run(shutdown.signal);
      depthLoop = watchDeadLetters();
      queuesLoop = watchQueues.run(shutdown.signal);
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
      shutdown.abort(new Error('shutting down'));
      if (!(await deadline.within(Promise.all([indexLoop, purgeLoop, depthLoop, queuesLoop]))))
        logger.warn('search indexer, purge or dead-letter watch did not stop in time');
      if (!(await deadline.within(amqp.close()))) logger.warn('rabbitmq close timed out');
      redis.disconnect();
      if (!(await deadline.within(Promise.all([sequelize.close(), search.close()]))))
        logger.warn('mysql or search close timed out');
      await opsClosed;
    },
  };
}
