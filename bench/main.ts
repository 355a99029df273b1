/**
 * `npm run bench`: prints figures for this machine; asserts nothing.
 *   1. create-message req/s and p50/p99 at 64 connections through the real API, no consumer;
 *   2. the same against a raw node:http baseline doing the same hot-path work, and the ratio;
 *   3. consumer drain rate into MySQL (the backlog of 1 and 2 drained by consumers), with a
 *      search index configured (a stand-in accepting every document): each batch also writes
 *      search_outbox, and the indexer drains it meanwhile;
 *   4. 201→readable lag p50/p99 at a sustained rate with a consumer running;
 *   5. the API's resident memory;
 *   6. the cost of numbering: MySQL reservations per create, and bytes per idempotency record.
 * BENCH_SECONDS (default 10), BENCH_RATE (default 5000/s), BENCH_CONSUMERS (default 1).
 */
import { readFileSync } from 'node:fs';
import autocannon from 'autocannon';
import { connect } from 'amqplib';
import { QueryTypes } from 'sequelize';
import {
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
import { benchSearchIsolated } from './search.js';

const seconds = Number(process.env['BENCH_SECONDS'] ?? 10);
const rate = Number(process.env['BENCH_RATE'] ?? 5_000);
const consumerCount = Number(process.env['BENCH_CONSUMERS'] ?? 1);
// Rate limits off: the benchmark is one client creating as fast as it can.
const env = { ...isolatedEnv('bench'), RATE_LIMIT_ENABLED: 'false' };

const rssMiB = (pid: number, field: 'VmRSS' | 'VmHWM') => {
  const line = readFileSync(`/proc/${pid}/status`, 'utf8')
    .split('\n')
    .find((l) => l.startsWith(field));
  return Math.round(Number(/([0-9]+)/.exec(line ?? '')?.[1] ?? 0) / 1024);
};
const percentile = (sorted: number[], p: number) =>
  sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))] ?? NaN;

async function post(base: string, path: string, body: unknown): Promise<Record<string, unknown>> {
  const res = await fetch(`${base}${path}`, {
    method: 'POST',
    headers: { 'Content-Type': 'application/json' },
    body: JSON.stringify(body),
  });
  return (await res.json()) as Record<string, unknown>;
}

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

function startBaseline(): Promise<{ port: number; stop: () => Promise<void> }> {
  const child = spawn(process.execPath, ['dist/bench/baseline-server.js'], {
    env: { ...process.env, ...env },
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  return new Promise((resolve, reject) => {
    createInterface({ input: child.stdout }).once('line', (line) => {
      const { port } = JSON.parse(line) as { port: number };
      resolve({
        port,
        stop: () => new Promise((r) => (child.once('exit', () => r()), child.kill('SIGTERM'))),
      });
    });
    child.once('exit', (code) => reject(new Error(`baseline exited ${code}`)));
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

const programs: Program[] = [];
let stopSearch: () => Promise<void> = () => Promise.resolve();
const sequelize = testSequelize();
try {
  await migrateTestDatabase();
  console.log(
    `chat-system benchmark — node ${process.version}, ${seconds}s per phase, 64 connections\n`,
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
  // queue, and the two servers take turns (API, baseline, API, baseline) to cancel drift.
  const baseline = await startBaseline();
  const baselineUrl = `http://127.0.0.1:${baseline.port}${path(2)}`;
  const apiUrl = `${base}${path(1)}`;
  await load(apiUrl, { duration: 2 });
  await load(baselineUrl, { duration: 2 });
  const apiRuns: Run[] = [];
  const baseRuns: Run[] = [];
  let backlog = 0;
  for (let round = 0; round < 2; round += 1) {
    for (const [url, runs] of [
      [apiUrl, apiRuns],
      [baselineUrl, baseRuns],
    ] as const) {
      await purge(env.RABBITMQ_QUEUE);
      const run = await load(url);
      runs.push(run);
      backlog = run.ok;
    }
  }
  await baseline.stop();
  const apiRss = rssMiB(api.child.pid!, 'VmRSS');
  const apiPeak = rssMiB(api.child.pid!, 'VmHWM');
  const apiRun = mean(apiRuns);
  const baseRun = mean(baseRuns);

  console.log(
    'create message, 64 connections, no consumer running (mean of 2 runs each, queue purged before each)',
  );
  console.log(
    `  API (Koa)        ${apiRun.rps} req/s   p50 ${apiRun.p50} ms   p99 ${apiRun.p99} ms   (${apiRun.ok} 201s, ${apiRun.other} other)`,
  );
  console.log(
    `  raw node:http    ${baseRun.rps} req/s   p50 ${baseRun.p50} ms   p99 ${baseRun.p99} ms   (${baseRun.ok} 201s, ${baseRun.other} other)`,
  );
  console.log(`  API / baseline   ${((100 * apiRun.rps) / baseRun.rps).toFixed(1)} %`);
  console.log(`  API RSS          ${apiRss} MiB now, ${apiPeak} MiB peak\n`);

  // Numbering's cost: the only MySQL writes on the create path are block reservations.
  const metricsBase = `http://127.0.0.1:${await api.metricsPort}`;
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
  console.log(
    `  ${persisted} messages in ${drainSeconds.toFixed(1)} s = ${Math.round(persisted / drainSeconds)} msgs/s`,
  );
  const indexedBy = search.indexed();
  console.log(
    `  search indexer beside it: ${indexedBy} indexed by then (stand-in index), ${await outboxPending(token)} pending in search_outbox\n`,
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
  const sustained = await load(`${base}${path(3)}`, { overallRate: rate });
  progress.target = sustained.ok;
  await poller;
  const sorted = [...lags].sort((a, b) => a - b);
  console.log(
    `201 → readable lag at ${rate} msgs/s offered for ${seconds}s, consumer running (MySQL polled every 10 ms)`,
  );
  console.log(
    `  achieved ${sustained.rps} req/s, ${sustained.ok} accepted, ${sorted.length} seen persisted`,
  );
  console.log(
    `  lag p50 ${percentile(sorted, 50)} ms   p99 ${percentile(sorted, 99)} ms   max ${sorted.at(-1)} ms`,
  );
  console.log(`  API RSS after all phases: ${rssMiB(api.child.pid!, 'VmRSS')} MiB`);
} finally {
  await Promise.all(programs.map((p) => stopProgram(p)));
  await stopSearch();
  await sequelize.close();
  await removeIsolatedResources(env);
}

// --- Built-in MySQL search (bench/search.ts): a generated chat of 100,000 messages, in a
// database of its own, after the programs above have stopped. Returns its figures.
console.log('');
await benchSearchIsolated();
