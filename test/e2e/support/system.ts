import { spawn, type ChildProcess } from 'node:child_process';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { connect } from 'amqplib';
import { removeKeys, testRedis } from '../../support/redis.js';
import { partitionSet } from '../../../internal/domain/partitions.js';
import { deadLetterQueueOf } from '../../../internal/queue/topology.js';
import { TEST_RABBITMQ_ADMIN_URL, isolatedEnv, uniqueSuffix } from '../../support/environment.js';

const root = fileURLToPath(new URL('../../../', import.meta.url));

/**
 * V8 heap bounds of the API, as its image (Dockerfile CMD), the chart and `npm start` run it.
 * V8 sizes its young generation and grows its old one from the machine's memory, not from
 * what the program keeps: the API's live heap is ~40 MiB (its unconfirmed publishes are
 * bounded), yet after a burst it held 128 MiB of semi-spaces and an old space grown to 100 MiB
 * of garbage not yet collected. 16 MiB semi-spaces (48 MiB young generation at most) and an
 * old-space ceiling bring RSS after a burst from ~350 to ~170 MiB (ceilings from 256 to 1024
 * MiB alike: V8 then collects the old space before growing it far). The price is garbage
 * collection: 20-40 % more CPU per create in alternated runs (the semi-space bound alone costs
 * nothing measurable). 384 MiB is 75 % of the chart's memory limit, far above the live heap,
 * which the publisher's unconfirmed bounds cap.
 */
export const API_NODE_FLAGS = ['--max-semi-space-size=16', '--max-old-space-size=384'] as const;

export interface Program {
  readonly name: string;
  readonly child: ChildProcess;
  /** Resolves with the port named in the program's "listening"/"started" log line. */
  readonly port: Promise<number>;
  /** The API's separate metrics port, from the same log line. */
  readonly metricsPort: Promise<number>;
  readonly exited: Promise<number | null>;
  readonly logs: string[];
}

/** Starts one of the three programs as a real, separate Node process. */
export function startProgram(
  name: 'api' | 'consumer' | 'flusher',
  env: Record<string, string>,
  args: string[] = [],
  { compiled = false }: { compiled?: boolean } = {},
): Program {
  // compiled: run dist/ as the images do (the benchmark); otherwise the sources through tsx.
  const entry = compiled
    ? [`dist/cmd/${name}/main.js`]
    : ['--import', 'tsx', `cmd/${name}/main.ts`];
  if (name === 'api') entry.unshift(...API_NODE_FLAGS);
  const child = spawn(process.execPath, [...entry, ...args], {
    cwd: root,
    env: { ...process.env, ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  // Never leave a program behind when the test run (or the benchmark) itself ends.
  const reap = () => child.kill('SIGKILL');
  process.once('exit', reap);
  child.once('exit', () => process.off('exit', reap));
  const logs: string[] = [];
  let resolveMetrics: (port: number) => void = () => undefined;
  const metricsPort = new Promise<number>((resolve) => (resolveMetrics = resolve));
  const port = new Promise<number>((resolve, reject) => {
    const lines = createInterface({ input: child.stdout });
    lines.on('line', (line) => {
      logs.push(line);
      try {
        const entry = JSON.parse(line) as { port?: number; metricsPort?: number };
        if (typeof entry.metricsPort === 'number') resolveMetrics(entry.metricsPort);
        if (typeof entry.port === 'number') resolve(entry.port);
      } catch {
        // not JSON: keep it in the logs
      }
    });
    child.once('exit', (code) =>
      reject(new Error(`${name} exited with ${code} before listening:\n${logs.join('\n')}`)),
    );
  });
  port.catch(() => undefined);
  createInterface({ input: child.stderr }).on('line', (line) => logs.push(line));
  const exited = new Promise<number | null>((resolve) =>
    child.once('exit', (code) => resolve(code)),
  );
  return { name, child, port, metricsPort, exited, logs };
}

export async function stopProgram(
  program: Program,
  signal: NodeJS.Signals = 'SIGTERM',
): Promise<number | null> {
  if (program.child.exitCode !== null || program.child.signalCode !== null)
    return program.child.exitCode;
  program.child.kill(signal);
  return program.exited;
}

export interface System {
  readonly env: Record<string, string>;
  readonly apis: string[];
  /** The metrics endpoint of each API, in the same order. */
  readonly apiMetrics: string[];
  readonly consumers: Program[];
  readonly adminToken: string;
  startConsumer(): Promise<Program>;
  runFlusher(): Promise<number | null>;
  stop(): Promise<void>;
}

/**
 * The whole system for one e2e suite: API processes, consumers, and a flusher run on demand,
 * isolated by their own queue and Redis key prefix. The first API has ADMIN_TOKEN set,
 * the others have none (so both admin rules can be checked).
 */
export async function startSystem({ apis = 2, consumers = 2 } = {}): Promise<System> {
  const suffix = uniqueSuffix();
  const adminToken = `admin-${suffix}-0123456789abcdef`;
  const env = {
    ...isolatedEnv('e2e', suffix),
    CONSUMER_BATCH_WAIT_MS: '5',
    SHUTDOWN_TIMEOUT_MS: '5000',
    // Every suite creates applications from one address: the limiter runs, but never refuses.
    RATE_LIMIT_APPLICATIONS_MAX: '1000000',
    RATE_LIMIT_CREATES_MAX: '1000000',
  };
  const running: Program[] = [];
  const launch = (name: 'api' | 'consumer', extra: Record<string, string> = {}) => {
    const program = startProgram(name, { ...env, ...extra });
    running.push(program);
    return program;
  };
  const apiPrograms = Array.from({ length: apis }, (_, i) =>
    launch('api', i === 0 ? { ADMIN_TOKEN: adminToken } : {}),
  );
  const consumerPrograms = Array.from({ length: consumers }, () => launch('consumer'));
  const apiUrls = (await Promise.all(apiPrograms.map((p) => p.port))).map(
    (port) => `http://127.0.0.1:${port}`,
  );
  await Promise.all(consumerPrograms.map((p) => p.port));
  for (const url of apiUrls) await waitReady(url);

  return {
    env,
    apis: apiUrls,
    apiMetrics: (await Promise.all(apiPrograms.map((p) => p.metricsPort))).map(
      (port) => `http://127.0.0.1:${port}/metrics`,
    ),
    consumers: consumerPrograms,
    adminToken,
    async startConsumer() {
      const program = launch('consumer');
      await program.port;
      return program;
    },
    async runFlusher() {
      const program = startProgram('flusher', { ...env, FLUSHER_LOCK: 'redis' }, ['--once']);
      return program.exited;
    },
    async stop() {
      await Promise.all(running.map((p) => stopProgram(p)));
      await removeIsolatedResources(env);
    },
  };
}

/**
 * Deletes what an isolated environment created: its queues (those of the partition sets named
 * too) and its Redis keys.
 */
export async function removeIsolatedResources(
  env: { RABBITMQ_QUEUE: string; REDIS_KEY_PREFIX: string },
  partitionSets: readonly number[] = [],
): Promise<void> {
  const connection = await connect(TEST_RABBITMQ_ADMIN_URL);
  const channel = await connection.createChannel();
  for (const n of partitionSets) {
    for (const queue of partitionSet(env.RABBITMQ_QUEUE, n).queues)
      await channel.deleteQueue(queue);
  }
  await channel.deleteQueue(env.RABBITMQ_QUEUE);
  await channel.deleteQueue(deadLetterQueueOf(env.RABBITMQ_QUEUE));
  await connection.close();
  const redis = await testRedis('e2e-cleanup');
  await removeKeys(redis, `${env.REDIS_KEY_PREFIX}*`);
  await redis.quit();
}

export async function waitReady(baseUrl: string, timeoutMs = 20_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const res = await fetch(`${baseUrl}/readyz`).catch(() => null);
    if (res?.status === 200) return;
    if (Date.now() > deadline)
      throw new Error(`${baseUrl} not ready: ${res ? await res.text() : 'unreachable'}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

export async function eventually<T>(
  probe: () => Promise<T | undefined>,
  timeoutMs = 15_000,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await probe();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error('condition not met in time');
    await new Promise((r) => setTimeout(r, 100));
  }
}
