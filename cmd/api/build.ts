import { loadConfig, type Config } from '../../internal/config/config.js';
import { createLogger, type Logger } from '../../internal/log/logger.js';
import {
  createApiMetrics,
  createHttpMetrics,
  createLiveMetrics,
  createRegistry,
} from '../../internal/metrics/registry.js';
import { RedisLiveLog, RedisPendingCreates } from '../../internal/redis/live.js';
import { StreamHub } from '../../internal/live/hub.js';
import type { LiveDeps } from '../../internal/service/live.js';
import { createSequelize } from '../../internal/db/sequelize.js';
import { defineModels } from '../../internal/db/models.js';
import { SqlApplicationRepository } from '../../internal/db/repositories/applications.js';
import { SqlChatRepository } from '../../internal/db/repositories/chats.js';
import { SqlMessageRepository } from '../../internal/db/repositories/messages.js';
import { SearchOutbox } from '../../internal/db/repositories/search-outbox.js';
import { SqlNumberLedger } from '../../internal/db/repositories/number-ledger.js';
import { createRedis } from '../../internal/redis/client.js';
import { registerRedisMemoryMetrics } from '../../internal/redis/memory-metrics.js';
import { KeySpace } from '../../internal/redis/keys.js';
import { RedisApplicationKeys, RedisNumberCache } from '../../internal/redis/numbers.js';
import { AmqpConnection } from '../../internal/queue/connection.js';
import { REFUSAL_REASONS } from '../../internal/queue/publisher.js';
import { PartitionedPublisher } from '../../internal/queue/partitioned-publisher.js';
import { SqlWriteQueueRegistry } from '../../internal/db/repositories/write-queues.js';
import { WriteQueueLease } from '../../internal/service/write-queue-lease.js';
import { WRITE_QUEUE_LEASE, partitionSet } from '../../internal/domain/partitions.js';
import { ApplicationService } from '../../internal/service/applications.js';
import { ChatService } from '../../internal/service/chats.js';
import { MessageService } from '../../internal/service/messages.js';
import { Numbering } from '../../internal/service/numbering.js';
import { QueuedCreates } from '../../internal/service/queued-create.js';
import { SearchService } from '../../internal/service/search.js';
import { reindexChanges } from '../../internal/service/reindex-changes.js';
import { DirtySet } from '../../internal/redis/dirty.js';
import { createApp } from '../../internal/http/app.js';
import { openapiDocument } from '../../internal/http/openapi.js';
import { Readiness } from '../../internal/ops/readiness.js';
import { createOpsServer } from '../../internal/ops/server.js';
import { closeServer, listen } from '../../internal/http/server.js';
import { createHttpServer } from '../../internal/http/http-server.js';
import { clientAddressResolver, rateLimitSubject } from '../../internal/http/client-address.js';
import { RedisRateLimiter } from '../../internal/redis/rate-limiter.js';
import { flagCheck, mysqlCheck, redisCheck } from '../../internal/ops/checks.js';
import { Deadline, sleep, stopBudgetMs, type Program } from '../../internal/runtime/program.js';
import { createSearchBackend } from '../../internal/search/backend.js';
import { CausalReads, CommitPositions, READ_ROUTES } from '../../internal/service/causal-reads.js';
import { SqlPrimaryPosition, SqlReplicaSessions } from '../../internal/db/commit-position.js';
import { RedisPositionStore } from '../../internal/redis/positions.js';

export interface ApiOverrides {
  readonly config?: Config;
  readonly logger?: Logger;
  /** Ports actually bound are reported here (tests bind port 0). */
  readonly onListening?: (ports: { http: number; metrics: number }) => void;
}

/** Composition root of the API: everything it uses is created here and closed by stop(). */
export function build(overrides: ApiOverrides = {}): Program {
  const config = overrides.config ?? loadConfig();
  const logger = overrides.logger ?? createLogger('api', config.logLevel);
  const registry = createRegistry('api');
  const httpMetrics = createHttpMetrics(registry);
  const apiMetrics = createApiMetrics(registry);

  const sequelize = createSequelize({
    ...config.mysql,
    queryTimeoutMs: config.limits.mysqlQueryTimeoutMs,
  });
  const models = defineModels(sequelize);
  const applications = new SqlApplicationRepository(sequelize, models);
  const chats = new SqlChatRepository(sequelize);
  const messages = new SqlMessageRepository(sequelize);
  const outbox = new SearchOutbox(sequelize);
  // GETs and lists on a read replica, waited for up to each application's last write.
  const replica =
    config.mysql.readUrl === null
      ? null
      : createSequelize({
          url: config.mysql.readUrl,
          poolMax: config.mysql.poolMax,
          queryTimeoutMs: config.limits.mysqlQueryTimeoutMs,
        });

  const redis = createRedis(config.redis, logger, 'chat-system-api', {
    commandTimeoutMs: config.limits.redisCommandTimeoutMs,
  });
  registerRedisMemoryMetrics(registry, redis);
  const keys = new KeySpace(config.redis.keyPrefix);
  const cache = new RedisNumberCache(redis, keys, config.idempotencyTtlSeconds);
  for (const route of READ_ROUTES) apiMetrics.mysqlReads.inc({ route }, 0);
  const search = createSearchBackend(config, sequelize, registry, logger);
  const reads = new CausalReads({
    primary: {
      applications,
      chats,
      messages,
      ...(search.name === 'mysql' ? { search: search.port } : {}),
    },
    replica:
      replica === null
        ? null
        : new SqlReplicaSessions(
            replica,
            defineModels(replica),
            config.mysql.readWaitMs,
            search.inSession,
          ),
    recording: config.mysql.recordPositions,
    positions: new CommitPositions(
      new SqlPrimaryPosition(sequelize),
      new RedisPositionStore(redis, keys),
    ),
    logger,
    onRead: (route) => apiMetrics.mysqlReads.inc({ route }),
  });

  for (const reason of REFUSAL_REASONS) apiMetrics.publishRefusals.inc({ reason }, 0);
  // Partitioned write queues: the set of this API's N, held by a lease in the registry.
  const base = config.rabbitmq.queue;
  const set = partitionSet(base, config.rabbitmq.writePartitions);
  const writeQueues = new SqlWriteQueueRegistry(sequelize);
  const lease = new WriteQueueLease({
    registry: writeQueues,
    base,
    set,
    lease: WRITE_QUEUE_LEASE,
    now: () => performance.now(),
    sleep,
    logger,
  });
  for (const queue of set.queues) apiMetrics.partitionEvents.inc({ queue }, 0);
  const publisher = new PartitionedPublisher({
    base,
    set,
    fenceTargets: async () =>
      (await writeQueues.list(base)).filter((q) => !q.drained).map((q) => q.name),
    leased: () => lease.valid(),
    observer: {
      confirmed: (seconds) => apiMetrics.publishConfirm.observe(seconds),
      failed: () => apiMetrics.publishFailures.inc(),
      refused: (reason) => apiMetrics.publishRefusals.inc({ reason }),
      republished: () => apiMetrics.republishes.inc(),
      sent: (events) => apiMetrics.publishEnvelopeEvents.observe(events),
    },
    publisher: {
      maxUnconfirmed: config.rabbitmq.maxUnconfirmed,
      maxUnconfirmedBytes: config.rabbitmq.maxUnconfirmedBytes,
      envelopeMaxEvents: config.rabbitmq.envelopeMaxEvents,
      envelopeMaxBytes: config.rabbitmq.envelopeMaxBytes,
      envelopeLingerUs: config.rabbitmq.envelopeLingerUs,
    },
    onSent: (queue, events) => apiMetrics.partitionEvents.inc({ queue }, events),
  });
  const leaseStop = new AbortController();
  let leaseLoop: Promise<void> | null = null;
  const amqp = new AmqpConnection({
    urls: config.rabbitmq.urls,
    name: 'chat-system-api',
    logger,
    onConnect: publisher.attach,
    onDisconnect: publisher.detach,
  });

  const numbering = new Numbering(
    cache,
    new SqlNumberLedger(sequelize),
    publisher,
    { ...config.numbering, fenceMarginMs: 1_000 },
    {
      reserved: (scope) => apiMetrics.reservations.inc({ scope }),
      revalidated: (level) => apiMetrics.revalidations.inc({ level }),
      epochBegan: () => apiMetrics.epochs.inc(),
      pending: () => apiMetrics.pendingChats.inc(),
    },
    logger,
  );
  // Event streams: a connection of its own for the blocking reads of the chats' logs (a
  // cluster's are polled instead: see RedisLiveLog.read).
  const liveMetrics = createLiveMetrics(registry);
  const blocking =
    config.redis.cluster === undefined
      ? createRedis(config.redis, logger, 'chat-system-api-events')
      : null;
  const liveLog = new RedisLiveLog(redis, keys, config.live, blocking);
  const pending = new RedisPendingCreates(redis, keys, config.live.pendingTtlMs);
  const live: LiveDeps = {
    pending,
    log: liveLog,
    writeWaitMs: config.live.writeWaitMs,
    pollMs: 25,
    sleep: (ms) => new Promise((resolve) => setTimeout(resolve, ms)),
    now: Date.now,
    logger,
    onAppendFailed: () => liveMetrics.appendFailures.inc(),
  };
  const hub = new StreamHub(
    liveLog,
    config.live,
    {
      open: (count) => liveMetrics.open.set(count),
      sent: (type, seconds) => {
        liveMetrics.sent.inc({ type });
        if (type !== 'reset') liveMetrics.delay.observe(seconds);
      },
      cut: (reason) => liveMetrics.cut.inc({ reason }),
    },
    logger,
  );
  const creates = new QueuedCreates({ numbering, publisher, cache, logger, pending });

  const dirty = new DirtySet(redis, keys);
  const chatService = new ChatService({
    reads,
    applications,
    chats,
    creates,
    numbering,
    dirty,
    logger,
    live,
  });
  const services = {
    adminToken: config.adminToken,
    onCreated: (type: 'application' | 'chat' | 'message', replayed: boolean) => {
      if (replayed) apiMetrics.idempotentReplays.inc({ type });
      else apiMetrics.creates.inc({ type });
    },
    onDeleted: (type: 'application' | 'chat' | 'message') => apiMetrics.deletes.inc({ type }),
    applications: new ApplicationService({
      reads,
      applications,
      numbering,
      keys: new RedisApplicationKeys(redis, keys, config.idempotencyTtlSeconds),
      logger,
    }),
    hub,
    chats: chatService,
    messages: new MessageService({
      reads,
      live,
      chatExists: (token: string, chat: number) => chatService.exists(token, chat),
      chats,
      messages,
      creates,
      numbering,
      dirty,
      logger,
      onChanged: reindexChanges(outbox, search.indexer, logger),
    }),
    search: new SearchService(search.port, applications, chats, {
      // The MySQL search reads the rows themselves; an index may still hold a deleted message.
      ...(search.name === 'mysql' ? {} : { deletions: messages }),
      pendingChat: (token, chat) => chatService.exists(token, chat),
      reads,
    }),
  };

  const limits = config.limits.rateLimit;
  const clientAddress = clientAddressResolver(config.limits.trustedProxies);
  const rule = (name: string, { max, windowSeconds }: { max: number; windowSeconds: number }) =>
    max === 0 ? null : { name, max, windowSeconds };
  const rateLimit = limits.enabled
    ? {
        limiter: new RedisRateLimiter(redis, config.redis.keyPrefix),
        applications: rule('applications', limits.applications),
        creates: rule('creates', limits.creates),
        clientAddress: (ctx: {
          req: { socket: { remoteAddress?: string | undefined } };
          get(name: string): string;
        }) =>
          rateLimitSubject(clientAddress(ctx.req.socket.remoteAddress, ctx.get('X-Forwarded-For'))),
        logger,
        onLimited: (name: string) => apiMetrics.rateLimited.inc({ rule: name }),
      }
    : undefined;

  const readiness = new Readiness([
    mysqlCheck(sequelize),
    // Not critical: while the replica is down, reads go to the primary.
    ...(replica === null
      ? []
      : [{ ...mysqlCheck(replica), name: 'mysql-replica', critical: false }]),
    redisCheck(redis),
    flagCheck('rabbitmq', () => publisher.ready),
    // Search is one feature: an Elasticsearch outage answers 503 on search, not on the API.
    ...search.checks.map((c) => ({ name: c.name, critical: false, check: () => c.check() })),
  ]);
  const app = createApp({
    logger,
    metrics: httpMetrics,
    readiness,
    services,
    openapi: openapiDocument,
    corsAllowedOrigins: config.limits.corsAllowedOrigins,
    livePage: config.live.pageEnabled,
    ...(rateLimit === undefined ? {} : { rateLimit }),
  });
  const handle = app.callback();
  const server = createHttpServer((req, res) => void handle(req, res), config.limits.http);
  const opsServer = createOpsServer(registry, null);

  return {
    async start() {
      redis.connect().catch((err: unknown) => logger.warn({ err }, 'redis not reachable yet'));
      blocking?.connect().catch(() => undefined);
      leaseLoop = lease.run(leaseStop.signal);
      void amqp.start();
      await search.start();
      const http = await listen(server, config.http.port);
      const metrics = await listen(opsServer, config.http.metricsPort);
      logger.info({ port: http, metricsPort: metrics, search: search.name }, 'api listening');
      overrides.onListening?.({ http, metrics });
    },
    async stop() {
      const deadline = new Deadline(stopBudgetMs(config.shutdownTimeoutMs));
      readiness.drain();
      // Streams end first and cleanly: their clients reconnect to another replica at once.
      await deadline.within(hub.close());
      // Both listeners at once; requests in flight get half the budget, idle sockets none.
      const grace = deadline.remaining() / 2;
      await Promise.all([closeServer(server, grace), closeServer(opsServer, grace)]);
      // Every request has answered: nothing more is published.
      if (!(await deadline.within(amqp.close()))) logger.warn('rabbitmq close timed out');
      leaseStop.abort();
      await deadline.within(leaseLoop ?? Promise.resolve());
      redis.disconnect();
      blocking?.disconnect();
      const closing = [sequelize.close(), search.close(), replica?.close() ?? Promise.resolve()];
      if (!(await deadline.within(Promise.all(closing))))
        logger.warn('mysql or search close timed out');
    },
  };
}
