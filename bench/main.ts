/**
 * `npm run bench`: prints figures for this machine; asserts nothing.
 *   1. create-message req/s and p50/p99 at 64 connections through the real API, no consumer;
 *   2. the same against two baselines in the same run, taking turns with the API: a raw
 *      node:http server doing the same hot-path work (the hot path's ceiling), and the API's
 *      own Koa app answering a constant 201 (the framework's ceiling); the API's share of each;
 *   3. envelope sizes: events per AMQP message the API wrote (group commit);
 *   4. consumer drain rate into MySQL (the backlog of the API's last run, in envelopes), with
 *      a search index configured (a stand-in accepting every document): each batch also
 *      writes search_outbox, and the indexer drains it meanwhile;
 *   5. 201→readable lag p50/p99 at a sustained rate with a consumer running;
 *   6. the API's resident memory and heap in use;
 *   7. the cost of numbering: MySQL reservations per create, and bytes per idempotency record;
 *   8. deletion (bench/purge.ts): the 204 of an application of 100,000 messages, the purge's
 *      rate, and another application's drain beside it;
 *   9. event streams (bench/live.ts): 1,000 streams over 100 chats at 1,000 creates/s;
 *  10. Redis per create (bench/redis-cost.ts): calls and Redis CPU on a private standalone
 *      Redis and on a private 3-primary cluster;
 *  11. write partitions (bench/partitions.ts): confirmed creates/s, broker confirmed msgs/s per
 *      queue and the consumer's drain with 1 and with 4 write queues.
 * The last line, `BENCH_JSON {...}`, has every figure for tools.
 * BENCH_SECONDS (default 10), BENCH_RATE (default 5000/s), BENCH_RATE_CONNECTIONS (default
 * 256), BENCH_CONSUMERS (default 1).
 */
import { availableParallelism, loadavg } from 'node:os';
import autocannon from 'autocannon';
import { connect } from 'amqplib';
import { QueryTypes } from 'sequelize';
import {
  API_NODE_FLAGS,
  removeIsolatedResources,
  startProgram,
  stopProgram,
  waitReady,
  type Program,
} from '../test/e2e/support/system.js';
import { migrateTestDatabase, testSequelize } from '../test/support/database.js';
import { TEST_RABBITMQ_URL, isolatedEnv } from '../test/support/environment.js';
import { spawn } from 'node:child_process';
import { createInterface } from 'node:readline';
import { Redis } from 'ioredis';
import { KeySpace } from '../internal/redis/keys.js';
import { startSearchStandIn } from '../test/support/search-stand-in.js';
import { benchPurge, type PurgeFigures } from './purge.js';
import { benchLive, formatLive, type LiveFigures } from './live.js';
import { benchSearchIsolated, type SearchFigures } from './search.js';
import { benchPartitions, formatPartitions, type PartitionFigures } from './partitions.js';
import { percentile, postJson as post, rssMiB } from './measure.js';
import { benchRedisCost, formatRedisCost, type RedisCostFigures } from './redis-cost.js';

const seconds = Number(process.env['BENCH_SECONDS'] ?? 10);
const rate = Number(process.env['BENCH_RATE'] ?? 5_000);
const consumerCount = Number(process.env['BENCH_CONSUMERS'] ?? 1);
// An open-loop rate needs concurrency beyond rate × latency: at 64 connections each one would
// owe a request every 12.8 ms, and any slower answer lowers the rate achieved.
const rateConnections = Number(process.env['BENCH_RATE_CONNECTIONS'] ?? 256);
// Rate limits off: the benchmark is one client creating as fast as it can.
const env = { ...isolatedEnv('bench'), RATE_LIMIT_ENABLED: 'false' };

async function load(url: string, options: Partial<autocannon.Options> = {}) {
  const result = await autocannon({
    url,
    method: 'POST',
    connections: 64,
    duration: seconds,
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ message_content: 'benchmark message with some words in it' }),
    ...options,
  });
  return {
    rps: Math.round(result.requests.average),
    p50: result.latency.p50,
    p99: result.latency.p99,
    ok: result['2xx'],
    other: result.non2xx + result.errors,
  };
}

/** A baseline server, with the API's node flags so that only the code differs. */
function startBaseline(
  name: 'baseline-server' | 'koa-ceiling-server',
): Promise<{ port: number; pid: number; stop: () => Promise<void> }> {
  const child = spawn(process.execPath, [...API_NODE_FLAGS, `dist/bench/${name}.js`], {
    env: { ...process.env, ...env },
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  return new Promise((resolve, reject) => {
    createInterface({ input: child.stdout }).once('line', (line) => {
      const { port } = JSON.parse(line) as { port: number };
      resolve({
        port,
        pid: child.pid ?? 0,
        stop: () => new Promise((r) => (child.once('exit', () => r()), child.kill('SIGTERM'))),
      });
    });
    child.once('exit', (code) => reject(new Error(`${name} exited ${code}`)));
  });
}

type Run = Awaited<ReturnType<typeof load>>;

function mean(runs: readonly Run[]): Run {
  const avg = (pick: (r: Run) => number) =>
    Math.round(runs.reduce((sum, r) => sum + pick(r), 0) / runs.length);
  return {
    rps: avg((r) => r.rps),
    p50: avg((r) => r.p50),
    p99: avg((r) => r.p99),
    ok: runs.reduce((sum, r) => sum + r.ok, 0),
    other: runs.reduce((sum, r) => sum + r.other, 0),
  };
}

async function purge(queue: string): Promise<void> {
  const connection = await connect(TEST_RABBITMQ_URL);
  const channel = await connection.createChannel();
  await channel.purgeQueue(queue);
  await connection.close();
}

async function countMessages(token: string): Promise<number> {
  const rows = await sequelize.query<{ n: number }>(
    `SELECT COUNT(*) AS n FROM messages m JOIN chats c ON c.id = m.chat_id
       JOIN applications a ON a.id = c.application_id WHERE a.token = ?`,
    { replacements: [token], type: QueryTypes.SELECT },
  );
  return Number(rows[0]?.n ?? 0);
}

async function outboxPending(token: string): Promise<number> {
  const rows = await sequelize.query<{ n: number }>(
    `SELECT COUNT(*) AS n FROM search_outbox o JOIN messages m ON m.id = o.message_id
       JOIN chats c ON c.id = m.chat_id JOIN applications a ON a.id = c.application_id
      WHERE a.token = ?`,
    { replacements: [token], type: QueryTypes.SELECT },
  );
  return Number(rows[0]?.n ?? 0);
}

async function chatId(token: string, chat: number): Promise<number> {
  const sequelize = testSequelize();
  const rows = await sequelize.query<{ id: number }>(
    'SELECT c.id FROM chats c JOIN applications a ON a.id = c.application_id WHERE a.token = ? AND c.number = ?',
    { replacements: [token, chat], type: QueryTypes.SELECT },
  );
  await sequelize.close();
  return Number(rows[0]?.id);
}

/** Sums a counter's samples (every label set) from a Prometheus text exposition. */
async function counter(metricsBase: string, name: string): Promise<number> {
  const text = await (await fetch(`${metricsBase}/metrics`)).text();
  return text
    .split('\n')
    .filter((line) => line.startsWith(`${name}{`) || line.startsWith(`${name} `))
    .reduce((sum, line) => sum + Number(line.split(' ').at(-1)), 0);
}

/**
 * Events per AMQP message from the API's histogram: the mean, and p50/p99 as the upper bound
 * of the bucket holding them (the buckets are powers of two).
 */
async function envelopeSizes(metricsBase: string) {
  const text = await (await fetch(`${metricsBase}/metrics`)).text();
  const name = 'queue_publish_envelope_events';
  const value = (line: string) => Number(line.split(' ').at(-1));
  const lines = text.split('\n');
  const sum = value(lines.find((l) => l.startsWith(`${name}_sum`)) ?? '0');
  const count = value(lines.find((l) => l.startsWith(`${name}_count`)) ?? '0');
  const buckets = lines
    .filter((l) => l.startsWith(`${name}_bucket`))
    .map((l) => ({ le: Number(/le="([^"]+)"/.exec(l)?.[1]), n: value(l) }))
    .filter((b) => Number.isFinite(b.le));
  const quantile = (q: number) => buckets.find((b) => b.n >= q * count)?.le ?? NaN;
  return {
    messages: count,
    events: sum,
    mean: count === 0 ? NaN : Number((sum / count).toFixed(1)),
    p50: quantile(0.5),
    p99: quantile(0.99),
  };
}

/** Bytes from a gauge of the API's metrics (e.g. the V8 heap in use), in MiB. */
async function gaugeMiB(metricsBase: string, name: string): Promise<number> {
  return Math.round((await counter(metricsBase, name)) / 1024 / 1024);
}

const pct = (part: number, whole: number) => Number(((100 * part) / whole).toFixed(1));

/** Every figure of a run, printed as one JSON line at the end. */
interface BenchFigures {
  readonly node: string;
  readonly seconds: number;
  readonly cores: number;
  readonly loadAverage: { readonly start: number[]; readonly end: number[] };
  readonly create: Record<string, unknown>;
  readonly envelopes: Awaited<ReturnType<typeof envelopeSizes>>;
  readonly numbering: Record<string, number>;
  readonly drain: Record<string, number>;
  readonly sustained: Record<string, unknown>;
  readonly memory: Record<string, unknown>;
  /** Deleting an application of 100,000 messages (bench/purge.ts). */
  readonly purge: PurgeFigures;
  /** Event streams under load (bench/live.ts). */
  readonly live: LiveFigures;
  /** The built-in search on a generated chat of 100,000 messages (bench/search.ts). */
  readonly search: SearchFigures;
  readonly redis: RedisCostFigures;
  /** 1 vs 4 write queues (bench/partitions.ts). */
  readonly partitions: PartitionFigures;
}

const availableCores = () => availableParallelism();
const loadAtStart = loadavg().map((l) => Number(l.toFixed(2)));

const programs: Program[] = [];
let stopSearch: () => Promise<void> = () => Promise.resolve();
const sequelize = testSequelize();
try {
  await migrateTestDatabase();
  console.log(
    `chat-system benchmark — node ${process.version}, ${seconds}s per phase, 64 connections, ${availableCores()} cores, load average ${loadAtStart.join(' ')}\n`,
  );
  const api = startProgram('api', env, [], { compiled: true });
  programs.push(api);
  const base = `http://127.0.0.1:${await api.port}`;
  await waitReady(base);
  const token = (await post(base, '/api/applications', { application_name: 'bench' }))[
    'application_token'
  ] as string;
  await post(base, `/api/applications/${token}/chats`, {});
  await post(base, `/api/applications/${token}/chats`, {});
  const path = (chat: number) => `/api/applications/${token}/chats/${chat}/messages`;

  // The broker slows down as its backlog grows, so every measured run starts from an empty
  // queue, and the three servers take turns (raw, Koa, API, raw, Koa, API) to cancel drift.
  // The API runs last in each round: its run's messages are the backlog the consumer drains.
  const raw = await startBaseline('baseline-server');
  const koa = await startBaseline('koa-ceiling-server');
  const servers = [
    { name: 'raw', url: `http://127.0.0.1:${raw.port}${path(2)}`, runs: [] as Run[] },
    { name: 'koa', url: `http://127.0.0.1:${koa.port}${path(2)}`, runs: [] as Run[] },
    { name: 'api', url: `${base}${path(1)}`, runs: [] as Run[] },
  ];
  for (const server of servers) await load(server.url, { duration: 2 });
  let backlog = 0;
  for (let round = 0; round < 2; round += 1) {
    for (const server of servers) {
      await purge(env.RABBITMQ_QUEUE);
      const run = await load(server.url);
      server.runs.push(run);
      backlog = run.ok;
    }
  }
  const baselineRss = { raw: rssMiB(raw.pid, 'VmRSS'), koa: rssMiB(koa.pid, 'VmRSS') };
  await raw.stop();
  await koa.stop();
  const apiRss = rssMiB(api.child.pid!, 'VmRSS');
  const apiPeak = rssMiB(api.child.pid!, 'VmHWM');
  const [rawRun, koaRun, apiRun] = servers.map((s) => mean(s.runs)) as [Run, Run, Run];
  const metricsBase = `http://127.0.0.1:${await api.metricsPort}`;
  const apiHeap = await gaugeMiB(metricsBase, 'nodejs_heap_size_used_bytes');
  const envelopes = await envelopeSizes(metricsBase);

  console.log(
    'create message, 64 connections, no consumer running (mean of 2 runs each, queue purged before each)',
  );
  const line = (label: string, r: Run) =>
    console.log(
      `  ${label.padEnd(22)} ${r.rps} req/s   p50 ${r.p50} ms   p99 ${r.p99} ms   (${r.ok} 201s, ${r.other} other)`,
    );
  line('API (Koa)', apiRun);
  line('Koa ceiling (const 201)', koaRun);
  line('raw node:http hot path', rawRun);
  console.log(`  API / Koa ceiling      ${pct(apiRun.rps, koaRun.rps)} %`);
  console.log(`  API / raw hot path     ${pct(apiRun.rps, rawRun.rps)} %`);
  console.log(
    `  envelopes (API)        ${envelopes.mean} events per AMQP message on average, p50 ≤ ${envelopes.p50}, p99 ≤ ${envelopes.p99} (${envelopes.events} events in ${envelopes.messages} messages)`,
  );
  console.log(
    `  API memory             RSS ${apiRss} MiB now, ${apiPeak} MiB peak; V8 heap in use ${apiHeap} MiB`,
  );
  console.log(
    `  baselines' RSS         raw ${baselineRss.raw} MiB, Koa ceiling ${baselineRss.koa} MiB\n`,
  );

  // Numbering's cost: the only MySQL writes on the create path are block reservations.
  const reservations = await counter(metricsBase, 'numbering_reservations_total');
  const creates = await counter(metricsBase, 'chat_creates_total');
  const idempotencyKey = `bench-${Date.now()}`;
  await fetch(`${base}${path(1)}`, {
    method: 'POST',
    headers: { 'Content-Type': 'application/json', 'Idempotency-Key': idempotencyKey },
    body: JSON.stringify({ message_content: 'x'.repeat(10_000) }),
  });
  const redis = new Redis(env.REDIS_URL);
  const recordKey = new KeySpace(env.REDIS_KEY_PREFIX).idempotency(
    token,
    'message:1',
    idempotencyKey,
  );
  const recordBytes = Number(await redis.memory('USAGE', recordKey));
  const valueBytes = (await redis.get(recordKey))?.length ?? 0;
  await redis.quit();
  console.log('numbering cost (API, all phases above)');
  console.log(
    `  ${reservations} MySQL block reservations for ${creates} creates = ${(reservations / Math.max(1, creates)).toFixed(5)} per create`,
  );
  console.log(
    `  idempotency record of a 10,000-character message: ${valueBytes} bytes of value, ${recordBytes} bytes in Redis (MEMORY USAGE, key included)\n`,
  );

  // Drain: the backlog the last run left in the queue, into MySQL.
  const before = await countMessages(token);
  const search = await startSearchStandIn();
  stopSearch = () => search.stop();
  const drainStart = process.hrtime.bigint();
  for (let i = 0; i < consumerCount; i += 1) {
    const consumer = startProgram('consumer', { ...env, ELASTICSEARCH_URL: search.url }, [], {
      compiled: true,
    });
    programs.push(consumer);
    await consumer.port;
  }
  let persisted = 0;
  while (persisted < backlog) {
    await new Promise((r) => setTimeout(r, 50));
    persisted = (await countMessages(token)) - before;
  }
  const drainSeconds = Number(process.hrtime.bigint() - drainStart) / 1e9;
  console.log(`consumer drain (${consumerCount} consumer(s), timed from their start)`);
  const drainRate = Math.round(persisted / drainSeconds);
  console.log(
    `  ${persisted} messages in ${drainSeconds.toFixed(1)} s = ${drainRate} msgs/s (written by the API in ${envelopes.mean}-event envelopes on average)`,
  );
  const indexedBy = search.indexed();
  const outboxLeft = await outboxPending(token);
  console.log(
    `  search indexer beside it: ${indexedBy} indexed by then (stand-in index), ${outboxLeft} pending in search_outbox\n`,
  );

  // Lag: a fixed rate with the consumer running; when did each 201'd message become readable?
  await post(base, `/api/applications/${token}/chats`, {});
  const lagChatId = await (async () => {
    for (;;) {
      const id = await chatId(token, 3).catch(() => NaN);
      if (!Number.isNaN(id)) return id;
      await new Promise((r) => setTimeout(r, 20));
    }
  })();
  const lags: number[] = [];
  const progress = { seen: 0, target: Infinity };
  const startedAt = Date.now();
  const poller = (async () => {
    const deadline = () => Date.now() > startedAt + (seconds + 30) * 1000;
    while (progress.seen < progress.target && !deadline()) {
      const rows = await sequelize.query<{ number: number; created_at: Date }>(
        'SELECT number, created_at FROM messages WHERE chat_id = ? AND number > ? ORDER BY number',
        { replacements: [lagChatId, progress.seen], type: QueryTypes.SELECT },
      );
      const now = Date.now();
      for (const row of rows) lags.push(now - row.created_at.getTime());
      progress.seen = rows.at(-1)?.number ?? progress.seen;
      await new Promise((r) => setTimeout(r, 10));
    }
  })();
  const sustained = await load(`${base}${path(3)}`, {
    overallRate: rate,
    connections: rateConnections,
  });
  progress.target = sustained.ok;
  await poller;
  const sorted = [...lags].sort((a, b) => a - b);
  const lag = {
    p50: percentile(sorted, 50),
    p99: percentile(sorted, 99),
    max: sorted.at(-1) ?? NaN,
  };
  console.log(
    `201 → readable lag at ${rate} msgs/s offered for ${seconds}s over ${rateConnections} connections, consumer running (MySQL polled every 10 ms)`,
  );
  console.log(
    `  achieved ${sustained.rps} req/s (${pct(sustained.rps, rate)} % of the rate offered), ${sustained.ok} accepted, ${sorted.length} seen persisted; create p99 ${sustained.p99} ms`,
  );
  console.log(`  lag p50 ${lag.p50} ms   p99 ${lag.p99} ms   max ${lag.max} ms`);
  const finalRss = rssMiB(api.child.pid!, 'VmRSS');
  const finalHeap = await gaugeMiB(metricsBase, 'nodejs_heap_size_used_bytes');
  console.log(
    `  API after all phases: RSS ${finalRss} MiB, ${rssMiB(api.child.pid!, 'VmHWM')} MiB peak; V8 heap in use ${finalHeap} MiB`,
  );
  const load1 = loadavg().map((l) => Number(l.toFixed(2)));
  console.log(`  load average at the end: ${load1.join(' ')} (${availableCores()} cores)\n`);

  // Deletion: its own API and consumer on the same queue (everything above is stopped first).
  await Promise.all(programs.splice(0).map((p) => stopProgram(p)));
  const deletion = await benchPurge(env, sequelize);

  // Event streams: a phase of its own (bench/live.ts), with its own API and consumer.
  const live = await benchLive({ seconds });
  console.log(formatLive(live));

  // Write partitions: 1 vs 4 queues, each run with its own API and consumer (bench/partitions.ts).
  const partitions = await benchPartitions(sequelize, { seconds });
  console.log(`${formatPartitions(partitions)}\n`);

  // Built-in MySQL search (bench/search.ts): a generated chat of 100,000 messages, in a
  // database of its own, with every program above stopped.
  await Promise.all(programs.splice(0).map((p) => stopProgram(p)));
  const searchFigures = await benchSearchIsolated();

  // Redis per create (bench/redis-cost.ts): private standalone Redis and 3-primary cluster.
  const redisCost = await benchRedisCost();
  console.log(`${formatRedisCost(redisCost)}\n`);

  const figures: BenchFigures = {
    node: process.version,
    seconds,
    cores: availableCores(),
    loadAverage: { start: loadAtStart, end: load1 },
    create: {
      connections: 64,
      api: apiRun,
      koaCeiling: koaRun,
      rawHotPath: rawRun,
      apiShareOfKoaCeilingPct: pct(apiRun.rps, koaRun.rps),
      apiShareOfRawHotPathPct: pct(apiRun.rps, rawRun.rps),
    },
    envelopes,
    numbering: {
      reservations,
      creates,
      reservationsPerCreate: Number((reservations / Math.max(1, creates)).toFixed(5)),
      idempotencyRecordBytes: recordBytes,
    },
    drain: {
      consumers: consumerCount,
      messages: persisted,
      seconds: Number(drainSeconds.toFixed(2)),
      perSecond: drainRate,
      searchIndexed: indexedBy,
      searchOutboxPending: outboxLeft,
    },
    sustained: {
      offeredPerSecond: rate,
      connections: rateConnections,
      achievedPerSecond: sustained.rps,
      accepted: sustained.ok,
      other: sustained.other,
      createP99Ms: sustained.p99,
      readableLagMs: lag,
    },
    memory: {
      apiRssMiBAfterCreates: apiRss,
      apiPeakRssMiBAfterCreates: apiPeak,
      apiHeapUsedMiBAfterCreates: apiHeap,
      apiRssMiBAtEnd: finalRss,
      apiHeapUsedMiBAtEnd: finalHeap,
      apiNodeFlags: [...API_NODE_FLAGS],
    },
    purge: deletion,
    live,
    search: searchFigures,
    redis: redisCost,
    partitions,
  };
  console.log(`BENCH_JSON ${JSON.stringify(figures)}`);
} finally {
  await Promise.all(programs.map((p) => stopProgram(p)));
  await stopSearch();
  await sequelize.close();
  await removeIsolatedResources(env);
}
