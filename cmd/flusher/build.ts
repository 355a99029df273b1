import { hostname } from 'node:os';
import { Pushgateway } from 'prom-client';
import { loadConfig, type Config } from '../../internal/config/config.js';
import { createLogger, type Logger } from '../../internal/log/logger.js';
import { createFlusherMetrics, createRegistry } from '../../internal/metrics/registry.js';
import { createSequelize } from '../../internal/db/sequelize.js';
import { CounterRepository } from '../../internal/db/repositories/counters.js';
import { createRedis } from '../../internal/redis/client.js';
import { KeySpace } from '../../internal/counters/keys.js';
import { DirtySet } from '../../internal/counters/dirty.js';
import { RedisLock, noLock } from '../../internal/counters/redis-lock.js';
import { CounterFlusher } from '../../internal/jobs/flush-counters.js';
import { Readiness } from '../../internal/http/health.js';
import { createOpsServer } from '../../internal/http/ops-server.js';
import { closeServer, listen } from '../../internal/http/server.js';
import { mysqlCheck, redisCheck } from '../../internal/runtime/checks.js';
import { Deadline, sleep, stopBudgetMs, type Program } from '../../internal/runtime/program.js';
import type { LeaderLock, LockHandle } from '../../internal/domain/ports.js';

export interface FlusherOverrides {
  readonly config?: Config;
  readonly logger?: Logger;
  /** Run one pass and resolve `done` (the CronJob mode), instead of looping. */
  readonly once?: boolean;
  readonly lock?: LeaderLock;
  readonly onListening?: (ports: { http: number }) => void;
}

export interface FlusherProgram extends Program {
  /** Settles when a --once run finished: true on success. */
  readonly done: Promise<boolean>;
}

/** Composition root of the counters flusher (CronJob with --once, or a loop locally). */
export function build(overrides: FlusherOverrides = {}): FlusherProgram {
  const config = overrides.config ?? loadConfig();
  const logger = overrides.logger ?? createLogger('flusher', config.logLevel);
  const registry = createRegistry('flusher');
  const metrics = createFlusherMetrics(registry);
  const stopping = new AbortController();

  const sequelize = createSequelize({
    ...config.mysql,
    queryTimeoutMs: config.limits.mysqlQueryTimeoutMs,
  });
  const redis = createRedis(config.redis.url, logger, 'chat-system-flusher', {
    commandTimeoutMs: config.limits.redisCommandTimeoutMs,
  });
  const keys = new KeySpace(config.redis.keyPrefix);
  const flusher = new CounterFlusher({
    dirty: new DirtySet(redis, keys),
    counters: new CounterRepository(sequelize),
    chunkSize: config.flusher.chunkSize,
    metrics,
    logger,
  });
  let lock: Promise<LeaderLock> | null = null;
  const readiness = new Readiness([mysqlCheck(sequelize), redisCheck(redis)]);
  const opsServer = createOpsServer(registry, readiness);

  async function runOnce(): Promise<boolean> {
    const end = metrics.runDuration.startTimer();
    let handle: LockHandle | null = null;
    try {
      lock ??=
        overrides.lock === undefined
          ? chooseLock(config, redis, logger)
          : Promise.resolve(overrides.lock);
      handle = await (await lock).tryAcquire();
      if (handle === null) {
        metrics.runs.inc({ outcome: 'skipped' });
        logger.info('another flusher holds the lock; skipping this run');
        return true;
      }
      const signal = AbortSignal.any([handle.signal, stopping.signal]);
      const result = await flusher.run(signal);
      metrics.runs.inc({ outcome: 'success' });
      metrics.lastSuccess.setToCurrentTime();
      logger.info({ ...result, seconds: end() }, 'flush finished');
      return true;
    } catch (err) {
      // Redis or the API server down: this run fails, the next one tries again.
      if (handle === null) lock = null;
      metrics.runs.inc({ outcome: 'failure' });
      logger.error({ err }, 'flush failed');
      return false;
    } finally {
      await handle?.release().catch(() => undefined);
    }
  }

  async function pushMetrics(): Promise<void> {
    if (config.flusher.pushgatewayUrl === undefined) return;
    const gateway = new Pushgateway(config.flusher.pushgatewayUrl, {}, registry);
    await gateway
      .pushAdd({ jobName: 'chat-system-flusher', groupings: { instance: hostname() } })
      .catch((err: unknown) => logger.warn({ err: (err as Error).message }, 'metrics push failed'));
  }

  let resolveDone: (ok: boolean) => void = () => undefined;
  const done = new Promise<boolean>((resolve) => (resolveDone = resolve));
  let loop: Promise<void> | null = null;

  return {
    done,
    async start() {
      const http = await listen(opsServer, config.flusherHttpPort);
      overrides.onListening?.({ http });
      if (overrides.once === true) {
        await redis.connect();
        const ok = await runOnce();
        await pushMetrics();
        resolveDone(ok);
        return;
      }
      // Looping: a Redis outage fails runs, not the program; ioredis keeps reconnecting.
      await redis
        .connect()
        .catch((err: unknown) =>
          logger.warn({ err: (err as Error).message }, 'redis not reachable yet'),
        );
      logger.info({ intervalMs: config.flusher.intervalMs }, 'flusher looping');
      loop = (async () => {
        while (!stopping.signal.aborted) {
          await runOnce();
          await sleep(config.flusher.intervalMs, stopping.signal).catch(() => undefined);
        }
      })();
    },
    async stop() {
      const deadline = new Deadline(stopBudgetMs(config.shutdownTimeoutMs));
      readiness.drain();
      const opsClosed = closeServer(opsServer, deadline.remaining() / 2);
      stopping.abort(new Error('shutting down'));
      if (!(await deadline.within(loop ?? Promise.resolve())))
        logger.warn('flush run did not stop in time');
      resolveDone(false);
      redis.disconnect();
      if (!(await deadline.within(sequelize.close()))) logger.warn('mysql close timed out');
      await opsClosed;
    },
  };
}

/** A Lease in a cluster, Redis elsewhere; the Kubernetes client is loaded only when used. */
async function chooseLock(
  config: Config,
  redis: ReturnType<typeof createRedis>,
  logger: Logger,
): Promise<LeaderLock> {
  const { lock, inCluster, lockName, lockTtlSeconds, namespace, identity } = config.flusher;
  const kind = lock === 'auto' ? (inCluster ? 'kubernetes' : 'redis') : lock;
  switch (kind) {
    case 'none':
      return noLock;
    case 'redis':
      return new RedisLock(
        redis,
        `${config.redis.keyPrefix}lock:${lockName}`,
        lockTtlSeconds * 1000,
        logger,
      );
    case 'kubernetes': {
      const { createLeaseLockFromCluster } = await import('../../internal/k8s/lease-lock.js');
      return createLeaseLockFromCluster({
        // Without POD_NAMESPACE, the service account's own namespace.
        ...(namespace === undefined ? {} : { namespace }),
        name: lockName,
        identity: identity ?? hostname(),
        ttlSeconds: lockTtlSeconds,
        logger,
      });
    }
  }
}
