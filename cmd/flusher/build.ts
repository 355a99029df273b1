import { hostname } from 'node:os';
import { Pushgateway } from 'prom-client';
import { loadConfig, type Config } from '../../internal/config/config.js';
import { createLogger, type Logger } from '../../internal/log/logger.js';
import { createFlusherMetrics, createRegistry } from '../../internal/metrics/registry.js';
import { createSequelize } from '../../internal/db/sequelize.js';
import { CounterRepository } from '../../internal/db/repositories/counters.js';
import { createRedis } from '../../internal/redis/client.js';
import { KeySpace } from '../../internal/redis/keys.js';
import { DirtySet } from '../../internal/redis/dirty.js';
import { CounterFlusher } from '../../internal/jobs/flush-counters.js';
import { FlushLoop } from '../../internal/jobs/flush-loop.js';
import { chooseLock } from '../../internal/flusher/choose-lock.js';
import { Readiness } from '../../internal/ops/readiness.js';
import { createOpsServer } from '../../internal/ops/server.js';
import { closeServer, listen } from '../../internal/http/server.js';
import { mysqlCheck, redisCheck } from '../../internal/ops/checks.js';
import { Deadline, stopBudgetMs, type Program } from '../../internal/runtime/program.js';
import type { LeaderLock } from '../../internal/domain/ports.js';

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
  const redis = createRedis(config.redis, logger, 'chat-system-flusher', {
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
  const readiness = new Readiness([mysqlCheck(sequelize), redisCheck(redis)]);
  const opsServer = createOpsServer(registry, readiness);
  const runs = new FlushLoop({
    flush: (signal) => flusher.run(signal),
    chooseLock: () =>
      overrides.lock === undefined
        ? chooseLock(config, redis, logger)
        : Promise.resolve(overrides.lock),
    intervalMs: config.flusher.intervalMs,
    metrics,
    logger,
  });

  async function pushMetrics(): Promise<void> {
    if (config.flusher.pushgatewayUrl === undefined) return;
    const gateway = new Pushgateway(config.flusher.pushgatewayUrl, {}, registry);
    await gateway
      .pushAdd({ jobName: 'chat-system-flusher', groupings: { instance: hostname() } })
      .catch((err: unknown) => logger.warn({ err }, 'metrics push failed'));
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
        const ok = await runs.runOnce(stopping.signal);
        await pushMetrics();
        resolveDone(ok);
        return;
      }
      // Looping: a Redis outage fails runs, not the program; ioredis keeps reconnecting.
      await redis
        .connect()
        .catch((err: unknown) => logger.warn({ err }, 'redis not reachable yet'));
      logger.info({ intervalMs: config.flusher.intervalMs }, 'flusher looping');
      loop = runs.loop(stopping.signal);
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
