/**
 * One scenario end to end: fresh programs against the private services, a fresh application
 * with a few persisted chats, steady load while the scenario's fault plays out, a wait for the
 * consumer to drain, and the verdict on everything that was answered.
 */
import { execFile } from 'node:child_process';
import { mkdir, writeFile } from 'node:fs/promises';
import { promisify } from 'node:util';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { startProgram, stopProgram, waitReady, type Program } from '../../e2e/support/system.js';
import { isolatedEnv, uniqueSuffix } from '../../support/environment.js';
import { migrateDatabase } from '../../support/database.js';
import { deadLetterQueueOf } from '../../../internal/queue/topology.js';
import { Load } from './load.js';
import type { PrivateBroker, PrivateServices } from './services.js';
import { StandInElasticsearch } from './stand-in-elasticsearch.js';
import { PrivateRedisCluster } from './redis-cluster.js';
import { judge, persistedRows, summaryLine, type Verdict } from './verify.js';

export const DATABASE = 'chat_system_faults';
const ROOT = fileURLToPath(new URL('../../../', import.meta.url));
const LOG_DIR = join(ROOT, '.cache', 'faults');
const TSC = join(ROOT, 'node_modules', 'typescript', 'bin', 'tsc');
const run = promisify(execFile);

export const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

export interface FaultContext {
  readonly services: PrivateServices;
  /** The broker the programs use: the single node, or the cluster (Scenario.broker). */
  readonly broker: PrivateBroker;
  readonly load: Load;
  readonly token: string;
  readonly apis: readonly string[];
  readonly es: StandInElasticsearch | undefined;
  /** The scenario's Redis Cluster (redisCluster), else undefined. */
  readonly redisCluster: PrivateRedisCluster | undefined;
  readonly env: Record<string, string>;
  /** The current consumer; replaced by restartConsumer(). */
  readonly consumer: () => Program;
  readonly restartConsumer: () => Promise<void>;
  /** Starts another API replica with extra variables; resolves with its URL once ready. */
  readonly launchApi: (extra: Record<string, string>) => Promise<string>;
  /** Stops (SIGTERM) the API replica at this URL. */
  readonly stopApi: (url: string) => Promise<void>;
  /** Adds `name=value` to the scenario's line. */
  readonly note: (name: string, value: string | number) => void;
}

export interface Scenario {
  readonly id: number;
  readonly name: string;
  /** Creates sent at least; more when the fault lasts longer than planned. */
  readonly total: number;
  readonly perSecond: number;
  /** Serve search from the stand-in Elasticsearch instead of MySQL. */
  readonly elasticsearch?: boolean;
  /** Numbers from a private Redis Cluster (3 primaries, 3 replicas) started for the scenario. */
  readonly redisCluster?: boolean;
  /** Run against the private 3-node RabbitMQ cluster instead of the single node. */
  readonly broker?: 'cluster';
  /** Variables added to every program's environment (e.g. RABBITMQ_WRITE_PARTITIONS). */
  readonly env?: Record<string, string>;
  /** Plays the fault while the load runs; the load starts just before. */
  fault(ctx: FaultContext): Promise<void>;
  /** Further checks once the consumer drained; problems go into the returned list. */
  afterDrain?(ctx: FaultContext, verdict: Verdict): Promise<string[]>;
}

export interface Result {
  readonly line: string;
  readonly verdict: Verdict;
  readonly sent: number;
  readonly truncated: boolean;
  readonly drained: boolean;
  /** At least half of the load's last second, sent after the fault ended, was answered 201. */
  readonly recovered: boolean;
  /** Load was still being sent when the fault ended (else the verdict misses the recovery). */
  readonly loadOutlastedFault: boolean;
  /** Scenario-specific failures (afterDrain). */
  readonly problems: string[];
}

export async function prepareDatabase(services: PrivateServices): Promise<void> {
  await migrateDatabase(services.mariadb.url(DATABASE));
}

/** Compiles the programs into dist/ as the images do, so the run never starts stale code. */
export async function buildPrograms(): Promise<void> {
  await run(process.execPath, [TSC, '-p', 'tsconfig.build.json'], { cwd: ROOT });
}

export async function runScenario(services: PrivateServices, scenario: Scenario): Promise<Result> {
  await services.ensureHealthy();
  const broker: PrivateBroker = scenario.broker === 'cluster' ? services.cluster! : services.rabbit;
  const es = scenario.elasticsearch === true ? new StandInElasticsearch() : undefined;
  const esUrl = es === undefined ? undefined : await es.listen();
  const redisCluster =
    scenario.redisCluster === true ? await PrivateRedisCluster.start() : undefined;
  const suffix = uniqueSuffix();
  const label = `faults${scenario.id}`;
  const env: Record<string, string> = {
    ...isolatedEnv(label, suffix, {
      mysql: services.mariadb.url(DATABASE),
      redis: services.redis.url,
      rabbitmq: broker.url,
    }),
    SHUTDOWN_TIMEOUT_MS: '5000',
    // The load is far above the per-application create limit; rate limits are not under test.
    RATE_LIMIT_ENABLED: 'false',
    FLUSHER_LOCK: 'redis',
    FLUSH_INTERVAL_MS: '2000',
    MYSQL_POOL_MAX: '10',
    ...scenario.env,
    ...(esUrl === undefined
      ? {}
      : { ELASTICSEARCH_URL: esUrl, ELASTICSEARCH_INDEX: `${label}-${suffix}` }),
    ...(redisCluster === undefined ? {} : { REDIS_CLUSTER_NODES: redisCluster.seeds }),
  };
  const programs: Program[] = [];
  const launch = (name: 'api' | 'consumer' | 'flusher', extra: Record<string, string> = {}) => {
    // Compiled (see buildPrograms): tsx would spend seconds per start, on every restart too.
    const program = startProgram(name, { ...env, ...extra }, [], { compiled: true });
    programs.push(program);
    return program;
  };
  const notes: Record<string, string | number> = {};
  const begun = Date.now();
  try {
    const apiPrograms = [launch('api'), launch('api')];
    const apiByUrl = new Map<string, Program>();
    let consumer = launch('consumer');
    launch('flusher');
    const apis = (await Promise.all(apiPrograms.map((p) => p.port))).map(
      (port) => `http://127.0.0.1:${port}`,
    );
    for (const [i, api] of apis.entries()) apiByUrl.set(api, apiPrograms[i]!);
    for (const api of apis) await waitReady(api, 60_000);
    await waitReady(`http://127.0.0.1:${await consumer.port}`, 60_000);

    const tag = `f${scenario.id}-${suffix}`;
    const { token, chats } = await seed(apis[0]!, tag, services, 8);
    const load = new Load({
      apis,
      token,
      chats,
      tag,
      total: scenario.total,
      // Recovery is judged at the end of 12 s of load after the fault ended: longer than the
      // programs' longest reconnect backoff (10 s), so a legitimate wait is not a failure.
      tail: scenario.perSecond * 12,
      // A fault whose commands are slow (rabbitmqctl under load) must still end inside it.
      maxTotal: scenario.total * 8,
      perSecond: scenario.perSecond,
      // Bounded in time as in count, generously: rabbitmqctl alone can take seconds per call.
      maxDurationMs: (scenario.total / scenario.perSecond) * 8_000 + 60_000,
    });
    const ctx: FaultContext = {
      services,
      broker,
      load,
      token,
      apis,
      es,
      redisCluster,
      env,
      consumer: () => consumer,
      restartConsumer: async () => {
        await stopProgram(consumer, 'SIGKILL');
        consumer = launch('consumer');
        await consumer.port;
      },
      launchApi: async (extra) => {
        const program = launch('api', extra);
        const url = `http://127.0.0.1:${await program.port}`;
        apiByUrl.set(url, program);
        await waitReady(url, 60_000);
        return url;
      },
      stopApi: async (url) => {
        const program = apiByUrl.get(url);
        if (program !== undefined) await stopProgram(program);
      },
      note: (name, value) => (notes[name] = value),
    };

    const started = Date.now();
    notes['setupSeconds'] = ((started - begun) / 1000).toFixed(1);
    const loading = load.run();
    // However long the fault's commands take, it plays out under load and the load goes on.
    const fault = scenario.fault(ctx).finally(() => load.faultOver());
    const [loaded, faulted] = await Promise.allSettled([loading, fault]);
    if (loaded.status === 'rejected') throw loaded.reason;
    if (faulted.status === 'rejected') throw faulted.reason;

    notes['loadSeconds'] = ((Date.now() - started) / 1000).toFixed(1);
    const drained = await drain(services, broker, env['RABBITMQ_QUEUE']!, token);
    const seconds = (Date.now() - started) / 1000;
    const rows = await persistedRows(services.mariadb.port, DATABASE, token);
    const verdict = judge(load.outcomes, rows);
    const problems = (await scenario.afterDrain?.(ctx, verdict)) ?? [];
    notes['deadLettered'] = (await broker.depth(deadLetterQueueOf(env['RABBITMQ_QUEUE']!))) ?? 0;
    if (!drained) notes['drained'] = 'no';
    if (load.truncated) notes['truncated'] = 'yes';
    // Reported, never asserted (tests don't time things): how long the slowest answer took.
    notes['slowestAnswerMs'] = Math.max(0, ...load.outcomes.map((o) => o.doneAt - o.sentAt));
    // The last second of the load after the fault: the system must have come back by then.
    const after = load.outcomes.slice(load.sentWhenFaultOver ?? load.sent);
    const tail = after.slice(Math.max(0, after.length - scenario.perSecond));
    const tailCreated = tail.filter((o) => o.status === 201).length;
    notes['sent'] = `${load.sent}(${after.length} after the fault)`;
    notes['lastSecond201'] = `${tailCreated}/${tail.length}`;
    return {
      recovered: tail.length > 0 && tailCreated * 2 >= tail.length,
      loadOutlastedFault: after.length > 0,
      line: summaryLine(scenario.id, scenario.name, verdict, seconds, notes),
      verdict,
      sent: load.sent,
      truncated: load.truncated,
      drained,
      problems,
    };
  } finally {
    for (const program of programs) program.child.kill('SIGCONT');
    await Promise.all(
      programs.map((p) =>
        Promise.race([stopProgram(p), sleep(3_000)]).then(() => stopProgram(p, 'SIGKILL')),
      ),
    );
    await saveLogs(label, programs);
    await es?.close();
    await redisCluster?.stop();
  }
}

/** The application and its first chats, created through the API and persisted before load. */
async function seed(api: string, tag: string, services: PrivateServices, count: number) {
  const post = async (path: string, body: unknown) => {
    const res = await fetch(`${api}${path}`, {
      method: 'POST',
      headers: { 'Content-Type': 'application/json' },
      body: JSON.stringify(body),
    });
    const json = (await res.json()) as Record<string, unknown>;
    if (res.status !== 201) throw new Error(`seed ${path}: ${res.status} ${JSON.stringify(json)}`);
    return json;
  };
  const app = await post('/api/applications', { application_name: tag });
  const token = String(app['application_token']);
  const chats: number[] = [];
  for (let i = 0; i < count; i++) {
    const chat = await post(`/api/applications/${token}/chats`, { chat_name: `${tag}-seed${i}` });
    chats.push(Number(chat['chat_number']));
  }
  const deadline = Date.now() + 60_000;
  for (;;) {
    const rows = await persistedRows(services.mariadb.port, DATABASE, token);
    if (rows.filter((r) => r.kind === 'chat' && r.content !== null).length === count) break;
    if (Date.now() > deadline) throw new Error('seed chats were not persisted within 60 s');
    await sleep(200);
  }
  return { token, chats };
}

/** Messages in the base write queue and every partition of it; null when it cannot be read. */
export async function writeQueueDepth(broker: PrivateBroker, base: string): Promise<number | null> {
  const depths = await broker.depths().catch(() => null);
  if (depths === null || !depths.has(base)) return null;
  let sum = 0;
  for (const [name, messages] of depths) {
    if (name === base || name.startsWith(`${base}.p`)) sum += messages;
  }
  return sum;
}

/**
 * Waits until the write queues (every partition) stay empty and MySQL stops changing for a
 * few polls; false when that does not happen within the bound (what is missing then shows as
 * lost).
 */
async function drain(
  services: PrivateServices,
  broker: PrivateBroker,
  queue: string,
  token: string,
): Promise<boolean> {
  const deadline = Date.now() + 120_000;
  let quiet = 0;
  let last = -1;
  while (Date.now() < deadline) {
    const depth = await writeQueueDepth(broker, queue);
    const rows = (await persistedRows(services.mariadb.port, DATABASE, token).catch(() => null))
      ?.length;
    if (depth === 0 && rows !== undefined && rows === last) quiet++;
    else quiet = 0;
    last = rows ?? -1;
    if (quiet >= 2) return true;
    await sleep(1_000);
  }
  return false;
}

async function saveLogs(label: string, programs: readonly Program[]): Promise<void> {
  await mkdir(LOG_DIR, { recursive: true });
  await Promise.all(
    programs.map((p, i) =>
      writeFile(join(LOG_DIR, `${label}-${i}-${p.name}.log`), `${p.logs.join('\n')}\n`),
    ),
  );
}
