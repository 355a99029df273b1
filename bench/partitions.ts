/**
 * The partitions phase of `npm run bench`: the same create load against one write queue and
 * against four (RABBITMQ_WRITE_PARTITIONS=1 and 4), taking turns (1, 4, 1, 4) so drift on a
 * shared box hits both alike. First the broker alone: the API's publisher in this process, one
 * event per message, as many confirmed messages/s as it takes into 1 and into 4 queues. Then
 * through the API, each run: a fresh API, 64 connections posting messages over 64
 * chats (so every partition gets its share) for BENCH_SECONDS with no consumer running, then a
 * consumer started to drain the backlog into MySQL. Prints and returns, per N: confirmed
 * creates/s, the broker's confirmed AMQP messages/s and events/s per queue (read from the
 * queues' depths, nothing consuming), the consumer's drain rate, and the broker's CPU per
 * 1,000 creates when its process can be read. Alone: `tsc -p tsconfig.bench.json && node
 * --import tsx bench/partitions.ts`.
 */
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { pathToFileURL } from 'node:url';
import autocannon from 'autocannon';
import { connect } from 'amqplib';
import { QueryTypes, type Sequelize } from 'sequelize';
import {
  removeIsolatedResources,
  startProgram,
  stopProgram,
  waitReady,
  type Program,
} from '../test/e2e/support/system.js';
import { isolatedEnv, TEST_RABBITMQ_URL } from '../test/support/environment.js';
import { randomUUID } from 'node:crypto';
import { pino } from 'pino';
import { partitionSet } from '../internal/domain/partitions.js';
import { PartitionedPublisher } from '../internal/queue/partitioned-publisher.js';
import { AmqpConnection } from '../internal/queue/connection.js';
import { deadLetterQueueOf } from '../internal/queue/topology.js';
import { postJson as post } from './measure.js';

const CHATS = 64;

export interface PartitionRun {
  readonly partitions: number;
  readonly createsPerSecond: number;
  readonly createP99Ms: number;
  readonly other: number;
  /** Per queue: AMQP messages and events the broker confirmed, per second of load. */
  readonly queues: readonly { queue: string; messagesPerSecond: number; eventsPerSecond: number }[];
  readonly drainPerSecond: number;
  /** The broker's CPU (user + system) per 1,000 confirmed creates; null when not readable. */
  readonly brokerCpuMsPer1000: number | null;
}

/** The broker alone: the API's publisher in this process, one event per message. */
export interface BrokerRun {
  readonly partitions: number;
  readonly confirmedPerSecond: number;
  readonly perQueue: readonly number[];
  readonly brokerCpuMsPer1000: number | null;
}

export interface PartitionFigures {
  readonly seconds: number;
  readonly runs: readonly PartitionRun[];
  readonly broker: readonly BrokerRun[];
  /** Means per N over its runs. */
  readonly byPartitions: Record<
    string,
    { createsPerSecond: number; drainPerSecond: number; brokerMsgsPerSecondPerQueue: number }
  >;
}

/** The local RabbitMQ node's Erlang VM (the distribution package runs it as `rabbitmq`). */
function brokerPid(): number | null {
  try {
    const out = execFileSync('pgrep', ['-o', '-u', 'rabbitmq', 'beam.smp'], {
      encoding: 'utf8',
    }).trim();
    return out === '' ? null : Number(out);
  } catch {
    return null;
  }
}

/** CPU time of a process in milliseconds (utime + stime from /proc). */
function cpuMs(pid: number | null): number | null {
  if (pid === null) return null;
  try {
    const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]!.split(' ');
    return ((Number(fields[11]) + Number(fields[12])) * 1000) / 100;
  } catch {
    return null;
  }
}

async function countMessages(sequelize: Sequelize, token: string): Promise<number> {
  const rows = await sequelize.query<{ n: number }>(
    `SELECT COUNT(*) AS n FROM messages m JOIN chats c ON c.id = m.chat_id
       JOIN applications a ON a.id = c.application_id WHERE a.token = ?`,
    { replacements: [token], type: QueryTypes.SELECT },
  );
  return Number(rows[0]?.n ?? 0);
}

/** Sums a counter's samples by its `queue` label, from the API's metrics. */
async function eventsByQueue(metricsBase: string): Promise<Map<string, number>> {
  const text = await (await fetch(`${metricsBase}/metrics`)).text();
  const byQueue = new Map<string, number>();
  for (const line of text.split('\n')) {
    if (!line.startsWith('queue_partition_events_total{')) continue;
    const queue = /queue="([^"]+)"/.exec(line)?.[1];
    if (queue !== undefined) byQueue.set(queue, Number(line.split(' ').at(-1)));
  }
  return byQueue;
}

async function runOnce(
  partitions: number,
  seconds: number,
  sequelize: Sequelize,
): Promise<PartitionRun> {
  const env = {
    ...isolatedEnv('bench-partitions'),
    RATE_LIMIT_ENABLED: 'false',
    RABBITMQ_WRITE_PARTITIONS: String(partitions),
  };
  const programs: Program[] = [];
  const set = partitionSet(env.RABBITMQ_QUEUE, partitions);
  try {
    const api = startProgram('api', env, [], { compiled: true });
    programs.push(api);
    const base = `http://127.0.0.1:${await api.port}`;
    await waitReady(base);
    const token = String(
      (await post(base, '/api/applications', { application_name: 'bench partitions' }))[
        'application_token'
      ],
    );
    for (let i = 0; i < CHATS; i += 1) await post(base, `/api/applications/${token}/chats`, {});
    const body = JSON.stringify({ message_content: 'benchmark message with some words in it' });
    // Warm-up, then the measured run from empty queues.
    const requests = Array.from({ length: CHATS }, (_, i) => ({
      method: 'POST' as const,
      path: `/api/applications/${token}/chats/${i + 1}/messages`,
      headers: { 'content-type': 'application/json' },
      body,
    }));
    await autocannon({ url: base, connections: 64, duration: 2, requests });
    const connection = await connect(TEST_RABBITMQ_URL);
    const channel = await connection.createChannel();
    for (const queue of set.queues) await channel.purgeQueue(queue);
    const metricsBase = `http://127.0.0.1:${await api.metricsPort}`;
    const eventsBefore = await eventsByQueue(metricsBase);
    const persistedBefore = await countMessages(sequelize, token);
    const broker = brokerPid();
    const cpuBefore = cpuMs(broker);
    const result = await autocannon({ url: base, connections: 64, duration: seconds, requests });
    const cpuAfter = cpuMs(broker);
    const eventsAfter = await eventsByQueue(metricsBase);
    const queues = [];
    for (const queue of set.queues) {
      const { messageCount } = await channel.checkQueue(queue);
      const events = (eventsAfter.get(queue) ?? 0) - (eventsBefore.get(queue) ?? 0);
      queues.push({
        queue,
        messagesPerSecond: Math.round(messageCount / seconds),
        eventsPerSecond: Math.round(events / seconds),
      });
    }
    await connection.close();
    const created = result['2xx'];

    // Drain the run's backlog (every partition) into MySQL.
    const started = process.hrtime.bigint();
    const consumer = startProgram('consumer', env, [], { compiled: true });
    programs.push(consumer);
    await consumer.port;
    const deadline = Date.now() + 300_000;
    let persisted = 0;
    while (persisted < created && Date.now() < deadline) {
      await new Promise((r) => setTimeout(r, 50));
      persisted = (await countMessages(sequelize, token)) - persistedBefore;
    }
    const drainSeconds = Number(process.hrtime.bigint() - started) / 1e9;
    return {
      partitions,
      createsPerSecond: Math.round(created / seconds),
      createP99Ms: result.latency.p99,
      other: result.non2xx + result.errors,
      queues,
      drainPerSecond: Math.round(persisted / drainSeconds),
      brokerCpuMsPer1000:
        cpuBefore === null || cpuAfter === null || created === 0
          ? null
          : Math.round(((cpuAfter - cpuBefore) * 1000) / created),
    };
  } finally {
    await Promise.all(programs.map((p) => stopProgram(p)));
    await removeIsolatedResources(env, [partitions]);
    await sequelize.query('DELETE FROM write_queues WHERE base_queue = ?', {
      replacements: [env.RABBITMQ_QUEUE],
    });
  }
}

/**
 * Confirmed messages/s the broker takes into N queues with nothing else in the way: the API's
 * partitioned publisher in this process, envelopes off (one event per AMQP message), 512
 * publishes kept in flight for `seconds`, nothing consuming.
 */
async function brokerAlone(partitions: number, seconds: number): Promise<BrokerRun> {
  const base = `chat-system-bench-broker-${randomUUID().slice(0, 8)}`;
  const set = partitionSet(base, partitions);
  const publisher = new PartitionedPublisher({
    base,
    set,
    fenceTargets: () => Promise.resolve([]),
    leased: () => true,
    observer: {
      confirmed: () => undefined,
      failed: () => undefined,
      refused: () => undefined,
      republished: () => undefined,
      sent: () => undefined,
    },
    publisher: { envelopeMaxEvents: 1, maxUnconfirmed: 4_096 },
  });
  const connection = new AmqpConnection({
    urls: [TEST_RABBITMQ_URL],
    name: 'bench-broker',
    logger: pino({ level: 'silent' }),
    onConnect: publisher.attach,
    onDisconnect: publisher.detach,
  });
  await connection.start();
  const admin = await connect(TEST_RABBITMQ_URL);
  const channel = await admin.createChannel();
  try {
    const token = randomUUID();
    let confirmed = 0;
    let chat = 0;
    const broker = brokerPid();
    const cpuBefore = cpuMs(broker);
    const until = Date.now() + seconds * 1_000;
    const worker = async () => {
      while (Date.now() < until) {
        chat += 1;
        await publisher
          .publish(
            {
              kind: 'message.created',
              eventId: randomUUID(),
              applicationToken: token,
              chatNumber: 1 + (chat % 1_000),
              messageNumber: chat,
              content: 'benchmark message with some words in it',
              createdAt: new Date().toISOString(),
            },
            { sendBy: Date.now() + 5_000 },
          )
          .then(
            () => void (confirmed += 1),
            () => undefined,
          );
      }
    };
    await Promise.all(Array.from({ length: 512 }, worker));
    const cpuAfter = cpuMs(broker);
    const perQueue = [];
    for (const queue of set.queues) {
      perQueue.push(Math.round((await channel.checkQueue(queue)).messageCount / seconds));
    }
    return {
      partitions,
      confirmedPerSecond: Math.round(confirmed / seconds),
      perQueue,
      brokerCpuMsPer1000:
        cpuBefore === null || cpuAfter === null || confirmed === 0
          ? null
          : Math.round(((cpuAfter - cpuBefore) * 1000) / confirmed),
    };
  } finally {
    await connection.close();
    for (const queue of set.queues) await channel.deleteQueue(queue);
    await channel.deleteQueue(deadLetterQueueOf(base));
    await admin.close();
  }
}

export async function benchPartitions(
  sequelize: Sequelize,
  { seconds = 10, rounds = 2 } = {},
): Promise<PartitionFigures> {
  const runs: PartitionRun[] = [];
  const broker: BrokerRun[] = [];
  for (let round = 0; round < rounds; round += 1) {
    for (const partitions of [1, 4]) broker.push(await brokerAlone(partitions, seconds));
  }
  for (let round = 0; round < rounds; round += 1) {
    for (const partitions of [1, 4]) runs.push(await runOnce(partitions, seconds, sequelize));
  }
  const byPartitions: PartitionFigures['byPartitions'] = {};
  for (const partitions of [1, 4]) {
    const mine = runs.filter((r) => r.partitions === partitions);
    const mean = (pick: (r: PartitionRun) => number) =>
      Math.round(mine.reduce((sum, r) => sum + pick(r), 0) / mine.length);
    byPartitions[String(partitions)] = {
      createsPerSecond: mean((r) => r.createsPerSecond),
      drainPerSecond: mean((r) => r.drainPerSecond),
      brokerMsgsPerSecondPerQueue: mean(
        (r) => r.queues.reduce((sum, q) => sum + q.messagesPerSecond, 0) / r.queues.length,
      ),
    };
  }
  return { seconds, runs, broker, byPartitions };
}

export function formatPartitions(f: PartitionFigures): string {
  const lines = [
    `write partitions: 1 vs 4 queues, 64 connections over ${CHATS} chats, ${f.seconds}s per run, no consumer during the run, then one consumer drains (runs alternate 1, 4, 1, 4)`,
  ];
  for (const run of f.broker) {
    lines.push(
      `  broker alone, N=${run.partitions}: ${run.confirmedPerSecond} confirmed msgs/s (one event each; per queue ${run.perQueue.join(', ')})   broker ${run.brokerCpuMsPer1000 ?? '?'} CPU-ms per 1,000`,
    );
  }
  for (const run of f.runs) {
    const perQueue = run.queues
      .map((q) => `${q.messagesPerSecond} msgs/s (${q.eventsPerSecond} events/s)`)
      .join(', ');
    lines.push(
      `  N=${run.partitions}  ${run.createsPerSecond} confirmed creates/s (p99 ${run.createP99Ms} ms, ${run.other} other)   drain ${run.drainPerSecond} msgs/s   broker ${run.brokerCpuMsPer1000 ?? '?'} CPU-ms per 1,000 creates`,
      `        per queue: ${perQueue}`,
    );
  }
  for (const [n, m] of Object.entries(f.byPartitions)) {
    lines.push(
      `  mean N=${n}: ${m.createsPerSecond} creates/s, drain ${m.drainPerSecond} msgs/s, ${m.brokerMsgsPerSecondPerQueue} confirmed msgs/s per queue`,
    );
  }
  return lines.join('\n');
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  const { migrateTestDatabase, testSequelize } = await import('../test/support/database.js');
  await migrateTestDatabase();
  const sequelize = testSequelize();
  try {
    const figures = await benchPartitions(sequelize, {
      seconds: Number(process.env['BENCH_SECONDS'] ?? 10),
    });
    console.log(formatPartitions(figures));
    console.log(`BENCH_PARTITIONS_JSON ${JSON.stringify(figures)}`);
  } finally {
    await sequelize.close();
  }
}
