import { expect } from 'chai';
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Redis } from 'ioredis';
import { isolatedEnv, uniqueSuffix } from '../support/environment.js';
import { rawExchange, jsonRequest } from '../support/raw-http.js';
import {
  eventually,
  removeIsolatedResources,
  startProgram,
  stopProgram,
  waitReady,
  type Program,
} from './support/system.js';

type Json = Record<string, unknown>;

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      server.close(() => resolve(typeof address === 'object' && address ? address.port : 0));
    });
  });
}

/** A Redis of this test's own (own port and directory): this test breaks it on purpose. */
async function startPrivateRedis(): Promise<{
  url: string;
  admin: Redis;
  child: ChildProcess;
  dir: string;
}> {
  const port = await freePort();
  const dir = mkdtempSync(join(tmpdir(), 'chat-log-redis-'));
  const child = spawn(
    'redis-server',
    [
      '--port',
      String(port),
      '--bind',
      '127.0.0.1',
      '--save',
      '',
      '--appendonly',
      'no',
      '--dir',
      dir,
    ],
    { stdio: 'ignore' },
  );
  const admin = new Redis({
    port,
    host: '127.0.0.1',
    lazyConnect: true,
    maxRetriesPerRequest: 1,
    retryStrategy: () => null,
  });
  admin.on('error', () => undefined);
  await eventually(
    async () =>
      (await admin
        .connect()
        .then(() => admin.ping())
        .catch(() => null)) === 'PONG'
        ? true
        : undefined,
    10_000,
  );
  return { url: `redis://127.0.0.1:${port}`, admin, child, dir };
}

/**
 * Runs the failure scenarios of the e2e suite (Redis read-only, out of memory, gone; a consumer
 * killed mid-stream; hostile input) against the real programs, then reads every log line of
 * every program for every application token and message content created.
 */
describe('e2e: logs never hold a whole token or a message content', function () {
  this.timeout(120_000);
  const tokens: string[] = [];
  const contents: string[] = [];
  let redis: Awaited<ReturnType<typeof startPrivateRedis>>;
  let env: Record<string, string>;
  const programs: Program[] = [];
  let api = '';
  let apiPort = 0;

  before(async () => {
    redis = await startPrivateRedis();
    env = {
      ...isolatedEnv('logs', uniqueSuffix()),
      REDIS_URL: redis.url,
      LOG_LEVEL: 'debug',
      CONSUMER_BATCH_WAIT_MS: '5',
      SHUTDOWN_TIMEOUT_MS: '3000',
      REDIS_COMMAND_TIMEOUT_MS: '1000',
      RATE_LIMIT_APPLICATIONS_MAX: '1000000',
    };
    programs.push(startProgram('api', env), startProgram('consumer', env));
    apiPort = await programs[0]!.port;
    await programs[1]!.port;
    api = `http://127.0.0.1:${apiPort}`;
    await waitReady(api);
  });
  after(async () => {
    for (const program of programs) await stopProgram(program);
    redis?.admin.disconnect();
    redis?.child.kill('SIGKILL');
    if (redis) rmSync(redis.dir, { recursive: true, force: true });
    if (env) {
      const { RABBITMQ_QUEUE = '', REDIS_KEY_PREFIX = '' } = env;
      await removeIsolatedResources({ RABBITMQ_QUEUE, REDIS_KEY_PREFIX }).catch(() => undefined);
    }
  });

  const post = async (path: string, body: unknown): Promise<{ status: number; body: Json }> => {
    const res = await fetch(`${api}${path}`, {
      method: 'POST',
      headers: { 'Content-Type': 'application/json' },
      body: JSON.stringify(body),
    });
    return { status: res.status, body: (await res.json()) as Json };
  };
  const newApp = async () => {
    const created = await post('/api/applications', { application_name: 'logged' });
    expect(created.status).to.equal(201);
    const token = String(created.body['application_token']);
    tokens.push(token);
    return token;
  };
  const secret = (label: string) => {
    const content = `secret-${label}-${uniqueSuffix()}-${uniqueSuffix()}`;
    contents.push(content);
    return content;
  };

  it('runs the failure scenarios', async () => {
    // Normal traffic, persisted by the consumer.
    const token = await newApp();
    expect((await post(`/api/applications/${token}/chats`, {})).status).to.equal(201);
    for (let i = 0; i < 20; i += 1) {
      const r = await post(`/api/applications/${token}/chats/1/messages`, {
        message_content: secret('ok'),
      });
      expect(r.status).to.equal(201);
    }
    await eventually(async () => {
      const r = await fetch(`${api}/api/applications/${token}/chats/1/messages/20`);
      return r.status === 200 ? true : undefined;
    });

    // Hostile input naming the token.
    for (const body of ['{"message_content":"a\\ud800"}', '{"message_content":', '[]']) {
      const exchange = await rawExchange(
        apiPort,
        jsonRequest('POST', `/api/applications/${token}/chats/1/messages`, body),
      );
      expect(exchange.response?.status).to.be.oneOf([400, 422]);
      exchange.socket.destroy();
    }

    // A consumer killed mid-stream, then replaced.
    const victim = programs[1]!;
    const sends = Array.from({ length: 30 }, (_, i) =>
      post(`/api/applications/${token}/chats/1/messages`, { message_content: secret(`kill-${i}`) }),
    );
    victim.child.kill('SIGKILL');
    await Promise.all(sends);
    const replacement = startProgram('consumer', env);
    programs.push(replacement);
    await replacement.port;

    // Redis refuses writes: read-only replica, then out of memory. Creates answer 503.
    const other = await newApp();
    await redis.admin.call('REPLICAOF', '127.0.0.1', String(await freePort()));
    const readOnly = [
      await post(`/api/applications/${other}/chats`, {}),
      await post(`/api/applications/${token}/chats/1/messages`, {
        message_content: secret('readonly'),
      }),
    ];
    await redis.admin.call('REPLICAOF', 'NO', 'ONE');
    await redis.admin.config('SET', 'maxmemory', '1');
    await redis.admin.config('SET', 'maxmemory-policy', 'noeviction');
    const oom = [
      await post(`/api/applications/${other}/chats`, {}),
      await post(`/api/applications/${token}/chats/1/messages`, { message_content: secret('oom') }),
    ];
    await redis.admin.config('SET', 'maxmemory', '0');
    for (const r of [...readOnly, ...oom]) {
      expect(r.status, JSON.stringify(r.body)).to.equal(503);
    }

    // Redis gone.
    await redis.admin.call('SHUTDOWN', 'NOSAVE').catch(() => undefined);
    const gone = await post(`/api/applications/${token}/chats/1/messages`, {
      message_content: secret('gone'),
    });
    expect(gone.status).to.equal(503);
    await newApp(); // MySQL alone still creates applications
  });

  it('finds no token and no content in any log line of any program', async () => {
    for (const program of programs) await stopProgram(program);
    const lines = programs.flatMap((p) => p.logs.map((line) => `${p.name}: ${line}`));
    // The scenarios did fail, and were logged with their driver errors.
    const failures = lines.filter((line) => line.includes('request failed'));
    expect(failures.length, 'no failure was logged').to.be.greaterThan(0);
    expect(
      lines.some((line) => /READONLY|OOM/.test(line)),
      'no Redis reply error logged',
    ).to.equal(true);
    expect(tokens.length).to.be.greaterThan(1);
    for (const line of lines) {
      for (const token of tokens) expect(line, 'a whole token in the logs').not.to.include(token);
      for (const content of contents)
        expect(line, 'a message content in the logs').not.to.include(content);
    }
  });
});
