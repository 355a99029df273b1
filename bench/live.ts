/**
 * The live phase of `npm run bench`: event streams under load. One API and one consumer
 * (compiled, as the images run them), `streams` open event streams spread evenly over
 * `chats` chats, and creates at `rate` per second spread over the chats for `seconds`.
 * Measures, in this process's clock, the delay from each 201 to each stream receiving that
 * message's `message.created` (an event may arrive before its 201: counted as 0), the events
 * lost (every stream of a chat must get every create of its chat, exactly once), and the
 * API's RSS. Asserts nothing. Run alone: `node --import tsx bench/live.ts` (after
 * `tsc -p tsconfig.bench.json`).
 */
import { Agent, request } from 'node:http';
import { pathToFileURL } from 'node:url';
import {
  removeIsolatedResources,
  startProgram,
  stopProgram,
  waitReady,
  type Program,
} from '../test/e2e/support/system.js';
import { SseClient } from '../test/e2e/support/sse.js';
import { isolatedEnv } from '../test/support/environment.js';
import { percentile, rssMiB } from './measure.js';

export interface LiveOptions {
  readonly streams?: number;
  readonly chats?: number;
  readonly rate?: number;
  readonly seconds?: number;
}

export interface LiveFigures {
  readonly streams: number;
  readonly chats: number;
  readonly rate: number;
  readonly seconds: number;
  readonly accepted: number;
  readonly refused: number;
  readonly achievedRate: number;
  /** Deliveries expected (each create × the streams of its chat) and received. */
  readonly expected: number;
  readonly received: number;
  readonly lost: number;
  readonly duplicated: number;
  readonly p50Ms: number;
  readonly p99Ms: number;
  readonly maxMs: number;
  readonly apiRssMiB: number;
  readonly apiPeakRssMiB: number;
}

function post(
  agent: Agent,
  base: string,
  path: string,
  body: unknown,
): Promise<{ status: number; body: Record<string, unknown> }> {
  const payload = JSON.stringify(body);
  return new Promise((resolve, reject) => {
    const req = request(
      `${base}${path}`,
      {
        method: 'POST',
        agent,
        headers: {
          'Content-Type': 'application/json',
          'Content-Length': String(Buffer.byteLength(payload)),
        },
      },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () => {
          const text = Buffer.concat(chunks).toString('utf8');
          resolve({
            status: res.statusCode ?? 0,
            body: text === '' ? {} : (JSON.parse(text) as Record<string, unknown>),
          });
        });
        res.on('error', reject);
      },
    );
    req.on('error', reject);
    req.end(payload);
  });
}

export async function benchLive(options: LiveOptions = {}): Promise<LiveFigures> {
  const streams = options.streams ?? 1_000;
  const chats = options.chats ?? 100;
  const rate = options.rate ?? 1_000;
  const seconds = options.seconds ?? 10;
  const env = {
    ...isolatedEnv('bench-live'),
    RATE_LIMIT_ENABLED: 'false',
    LOG_LEVEL: 'info',
  };
  const programs: Program[] = [];
  const clients: SseClient[] = [];
  const agent = new Agent({ keepAlive: true, maxSockets: 64 });
  try {
    const api = startProgram('api', env, [], { compiled: true });
    const consumer = startProgram('consumer', env, [], { compiled: true });
    programs.push(api, consumer);
    const base = `http://127.0.0.1:${await api.port}`;
    await consumer.port;
    await waitReady(base);
    const token = (await post(agent, base, '/api/applications', { application_name: 'live' })).body[
      'application_token'
    ] as string;
    const paths: string[] = [];
    for (let c = 0; c < chats; c += 1) {
      const chat = await post(agent, base, `/api/applications/${token}/chats`, {});
      paths.push(`/api/applications/${token}/chats/${String(chat.body['chat_number'])}`);
    }
    // Streams: `streams / chats` per chat, opened a few at a time.
    const byChat = new Map<string, SseClient[]>(paths.map((p) => [p, []]));
    for (let i = 0; i < streams; i += 50) {
      await Promise.all(
        Array.from({ length: Math.min(50, streams - i) }, async (_, j) => {
          const path = paths[(i + j) % chats]!;
          const client = await SseClient.open(`${base}${path}/events`);
          clients.push(client);
          byChat.get(path)!.push(client);
        }),
      );
    }
    await new Promise((resolve) => setTimeout(resolve, 500));

    // Creates at a fixed rate, round-robin over the chats; when was each answered 201?
    const answeredAt = new Map<string, number>();
    let refused = 0;
    const inFlight: Promise<void>[] = [];
    const started = Date.now();
    const total = rate * seconds;
    const tickMs = 10;
    for (let sent = 0; sent < total;) {
      const due = Math.min(total, Math.floor(((Date.now() - started) / 1000) * rate) + 1);
      for (; sent < due; sent += 1) {
        const path = paths[sent % chats]!;
        inFlight.push(
          post(agent, base, `${path}/messages`, { message_content: `live ${sent}` }).then(
            (reply) => {
              if (reply.status !== 201) refused += 1;
              else answeredAt.set(`${path}#${String(reply.body['message_number'])}`, Date.now());
            },
            () => {
              refused += 1;
            },
          ),
        );
      }
      await new Promise((resolve) => setTimeout(resolve, tickMs));
    }
    await Promise.all(inFlight);
    const elapsed = (Date.now() - started) / 1000;

    // Every stream must see every create of its chat: wait for them (bounded).
    const accepted = answeredAt.size;
    const createsOf = new Map<string, number>();
    for (const key of answeredAt.keys()) {
      const path = key.slice(0, key.indexOf('#'));
      createsOf.set(path, (createsOf.get(path) ?? 0) + 1);
    }
    const expected = [...byChat].reduce(
      (sum, [path, list]) => sum + (createsOf.get(path) ?? 0) * list.length,
      0,
    );
    const receivedNow = () => clients.reduce((sum, c) => sum + c.of('message.created').length, 0);
    const waitUntil = Date.now() + 30_000;
    while (receivedNow() < expected && Date.now() < waitUntil) {
      await new Promise((resolve) => setTimeout(resolve, 100));
    }

    const delays: number[] = [];
    let received = 0;
    let duplicated = 0;
    for (const [path, list] of byChat) {
      for (const client of list) {
        const seen = new Set<number>();
        for (let i = 0; i < client.events.length; i += 1) {
          const event = client.events[i]!;
          if (event.event !== 'message.created') continue;
          const n = (JSON.parse(event.data) as { message_number: number }).message_number;
          if (seen.has(n)) duplicated += 1;
          seen.add(n);
          const at = answeredAt.get(`${path}#${n}`);
          const arrived = client.arrivals[i];
          if (at !== undefined && arrived !== undefined) delays.push(Math.max(0, arrived - at));
        }
        received += seen.size;
      }
    }
    delays.sort((x, y) => x - y);
    return {
      streams,
      chats,
      rate,
      seconds,
      accepted,
      refused,
      achievedRate: Math.round(accepted / elapsed),
      expected,
      received,
      lost: expected - received,
      duplicated,
      p50Ms: percentile(delays, 50),
      p99Ms: percentile(delays, 99),
      maxMs: delays.at(-1) ?? NaN,
      apiRssMiB: rssMiB(api.child.pid!, 'VmRSS'),
      apiPeakRssMiB: rssMiB(api.child.pid!, 'VmHWM'),
    };
  } finally {
    for (const client of clients) client.close();
    agent.destroy();
    await Promise.all(programs.map((p) => stopProgram(p)));
    await removeIsolatedResources(env);
  }
}

export function formatLive(f: LiveFigures): string {
  return [
    `event streams: ${f.streams} open over ${f.chats} chats, ${f.rate} creates/s offered for ${f.seconds}s (1 API, 1 consumer)`,
    `  achieved ${f.achievedRate} creates/s, ${f.accepted} accepted, ${f.refused} other answers`,
    `  201 → event at the client p50 ${f.p50Ms} ms   p99 ${f.p99Ms} ms   max ${f.maxMs} ms`,
    `  deliveries ${f.received} of ${f.expected} expected: ${f.lost} lost, ${f.duplicated} duplicated`,
    `  API RSS ${f.apiRssMiB} MiB now, ${f.apiPeakRssMiB} MiB peak`,
  ].join('\n');
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  const { migrateTestDatabase } = await import('../test/support/database.js');
  await migrateTestDatabase();
  console.log(formatLive(await benchLive({ seconds: Number(process.env['BENCH_SECONDS'] ?? 10) })));
}
