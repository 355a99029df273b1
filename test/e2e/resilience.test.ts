import { expect } from 'chai';
import { call, createApplication, T } from './support/client.js';
import { Agent, request } from 'node:http';
import {
  eventually,
  startProgram,
  startSystem,
  stopProgram,
  waitReady,
  type System,
} from './support/system.js';
import { testRedis } from '../support/redis.js';
import { testSequelize } from '../support/database.js';

type Json = Record<string, unknown>;

describe('e2e: failures lose nothing', function () {
  this.timeout(120_000);
  let system: System;
  let api: string;

  before(async function () {
    system = await startSystem({ apis: 2, consumers: 2 });
    api = system.apis[0]!;
  });
  after(async function () {
    await system?.stop();
  });

  async function persistedNumbers(token: string, chat: number): Promise<number[]> {
    const sequelize = testSequelize();
    try {
      const [rows] = await sequelize.query(
        `SELECT m.number FROM messages m JOIN chats c ON c.id = m.chat_id
           JOIN applications a ON a.id = c.application_id
          WHERE a.token = ? AND c.number = ? ORDER BY m.number`,
        { replacements: [token, chat] },
      );
      return (rows as { number: number }[]).map((r) => r.number);
    } finally {
      await sequelize.close();
    }
  }

  it('persists every acknowledged message exactly once when a consumer is SIGKILLed mid-stream', async () => {
    const token = await createApplication(api);
    const base = `/api/applications/${token}`;
    await call(api, 'POST', T.chats, `${base}/chats`);
    const total = 1_500;
    const victim = system.consumers[0]!;
    let killed = false;
    const accepted: number[] = [];
    const send = async (i: number) => {
      const r = await call<Json>(
        system.apis[i % 2]!,
        'POST',
        T.messages,
        `${base}/chats/1/messages`,
        { body: { message_content: `m ${i}` } },
      );
      expect(r.status).to.equal(201);
      accepted.push(r.body['message_number'] as number);
      if (!killed && accepted.length === 300) {
        killed = true;
        victim.child.kill('SIGKILL');
      }
    };
    for (let i = 0; i < total; i += 50) {
      await Promise.all(Array.from({ length: 50 }, (_, j) => send(i + j)));
    }
    expect(killed).to.equal(true);
    await victim.exited;
    await system.startConsumer();
    const expected = Array.from({ length: total }, (_, i) => i + 1);
    expect([...accepted].sort((a, b) => a - b)).to.deep.equal(expected);
    const persisted = await eventually(async () => {
      const numbers = await persistedNumbers(token, 1);
      return numbers.length >= total ? numbers : undefined;
    }, 30_000);
    expect(persisted).to.deep.equal(expected);
  });

  it('continues numbering above every number ever issued after Redis lost its keys', async () => {
    const token = await createApplication(api);
    const base = `/api/applications/${token}`;
    for (let i = 0; i < 3; i += 1) await call(api, 'POST', T.chats, `${base}/chats`);
    for (let i = 0; i < 4; i += 1) {
      await call(api, 'POST', T.messages, `${base}/chats/2/messages`, {
        body: { message_content: `before ${i}` },
      });
    }
    await eventually(async () =>
      (await persistedNumbers(token, 2)).length === 4 ? true : undefined,
    );
    await eventually(async () => {
      const r = await call(api, 'GET', T.chat, `${base}/chats/3`);
      return r.status === 200 ? true : undefined;
    });
    const redis = await testRedis('resilience-test');
    await redis.del(`${system.env['REDIS_KEY_PREFIX']}{${token}}`);
    await redis.quit();

    // Numbers resume above the durable ceiling: a gap of at most one block, never a reuse.
    const chat = await call<Json>(system.apis[1]!, 'POST', T.chats, `${base}/chats`);
    expect(chat.status).to.equal(201);
    const chatNumber = chat.body['chat_number'] as number;
    expect(chatNumber).to.be.above(3);
    const message = await call<Json>(api, 'POST', T.messages, `${base}/chats/2/messages`, {
      body: { message_content: 'after' },
    });
    expect(message.status).to.equal(201);
    expect(message.body['message_number']).to.be.above(4);
    const fresh = await call<Json>(
      api,
      'POST',
      T.messages,
      `${base}/chats/${chatNumber}/messages`,
      {
        body: { message_content: 'new chat' },
      },
    );
    expect(fresh.body['message_number']).to.equal(1);
    // A chat number inside the gap was never issued: never a 201 for it.
    expect(chatNumber - 1).to.be.above(3);
    const gap = await call<Json>(
      api,
      'POST',
      T.messages,
      `${base}/chats/${chatNumber - 1}/messages`,
      {
        body: { message_content: 'gap' },
      },
    );
    expect(gap.status === 404 || gap.status === 503, `gap answered ${gap.status}`).to.equal(true);
  });

  it('drains in-flight work on SIGTERM and exits cleanly', async () => {
    const consumer = await system.startConsumer();
    expect(await stopProgram(consumer, 'SIGTERM')).to.equal(0);
  });

  it('stops an API holding keep-alive connections well within its shutdown budget', async () => {
    const extra = startProgram('api', system.env);
    const base = `http://127.0.0.1:${await extra.port}`;
    await waitReady(base);
    const agent = new Agent({ keepAlive: true });
    const token = await new Promise<string>((resolve, reject) => {
      const req = request(
        `${base}/api/applications`,
        { method: 'POST', agent, headers: { 'Content-Type': 'application/json' } },
        (res) => {
          let body = '';
          res.on('data', (chunk: Buffer) => (body += chunk.toString()));
          res.on('end', () =>
            resolve((JSON.parse(body) as { application_token: string }).application_token),
          );
        },
      );
      req.on('error', reject);
      req.end(JSON.stringify({ application_name: 'keep-alive' }));
    });
    expect(token).to.be.a('string');
    const started = Date.now();
    expect(await stopProgram(extra, 'SIGTERM')).to.equal(0);
    expect(Date.now() - started).to.be.below(4_000);
    agent.destroy();
  });
});
