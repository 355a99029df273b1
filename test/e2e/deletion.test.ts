import { expect } from 'chai';
import { QueryTypes, type Sequelize } from 'sequelize';
import { call, createApplication, T } from './support/client.js';
import {
  eventually,
  startSystem,
  stopProgram,
  type Program,
  type System,
} from './support/system.js';
import { testSequelize } from '../support/database.js';

type Json = Record<string, unknown>;

describe('e2e: deleting, with two APIs and two consumers', function () {
  this.timeout(180_000);
  let system: System;
  let api: string;
  let other: string;
  let sequelize: Sequelize;
  /** The consumers running now (the suite stops, kills and starts them). */
  let consumers: Program[];

  before(async function () {
    system = await startSystem({ apis: 2, consumers: 2 });
    [api, other] = system.apis as [string, string];
    consumers = [...system.consumers];
    sequelize = testSequelize();
  });
  after(async function () {
    await system?.stop();
    await sequelize?.close();
  });

  const status = async (base: string, method: string, template: string, path: string) =>
    (await call(base, method, template, path)).status;
  /**
   * Waits until the record is persisted: listed (a GET answers 200 at once after a 201,
   * persisted or not: read-your-writes). `template` names what `path` is.
   */
  const persisted = (base: string, template: string, path: string) =>
    eventually(async () => {
      const [, parent, n] = /^(.*)\/([0-9]+)$/.exec(path) ?? [];
      const list = await call<Json[]>(
        base,
        'GET',
        template === T.message ? T.messages : T.chats,
        `${parent}?after=${Number(n) - 1}&limit=1`,
      );
      const field = template === T.message ? 'message_number' : 'chat_number';
      return list.status === 200 && list.body[0]?.[field] === Number(n) ? true : undefined;
    });
  const postMessage = (base: string, path: string, content: string) =>
    call<Json>(base, 'POST', T.messages, `${path}/messages`, {
      body: { message_content: content },
    });
  /** What MySQL holds for an application: rows of live messages, and whether rows remain at all. */
  const rows = async (token: string) => {
    const [row] = await sequelize.query<{ live: number | string; all: number | string }>(
      `SELECT COALESCE(SUM(m.deleted_at IS NULL AND c.deleted_at IS NULL), 0) AS live,
              COUNT(m.id) AS \`all\`
         FROM applications a JOIN chats c ON c.application_id = a.id
         JOIN messages m ON m.chat_id = c.id WHERE a.token = ?`,
      { replacements: [token], type: QueryTypes.SELECT },
    );
    return { live: Number(row?.live), all: Number(row?.all) };
  };

  it('makes a deleted message, chat and application vanish from every read on both replicas at once', async () => {
    const token = await createApplication(api);
    const base = `/api/applications/${token}`;
    await call(api, 'POST', T.chats, `${base}/chats`, { body: { chat_name: 'one' } });
    await call(api, 'POST', T.chats, `${base}/chats`, { body: { chat_name: 'two' } });
    for (const n of [1, 2, 3]) await postMessage(api, `${base}/chats/1`, `hello ${n}`);
    await postMessage(api, `${base}/chats/2`, 'hello there');
    await persisted(other, T.message, `${base}/chats/1/messages/3`);
    await persisted(other, T.message, `${base}/chats/2/messages/1`);

    expect(await status(api, 'DELETE', T.message, `${base}/chats/1/messages/2`)).to.equal(204);
    expect(await status(other, 'GET', T.message, `${base}/chats/1/messages/2`)).to.equal(404);
    const list = await call<Json[]>(other, 'GET', T.messages, `${base}/chats/1/messages`);
    expect(list.body.map((m) => m['message_number'])).to.deep.equal([1, 3]);
    const hits = await call<Json[]>(other, 'GET', T.search, `${base}/chats/1/search?q=hello`);
    expect(hits.body.map((m) => m['number']).sort()).to.deep.equal([1, 3]);
    expect(
      (
        await call(other, 'PUT', T.message, `${base}/chats/1/messages/2`, {
          body: { message_content: 'back' },
        })
      ).status,
    ).to.equal(404);
    // Repeating a delete (no Idempotency-Key needed) answers 404.
    expect(await status(other, 'DELETE', T.message, `${base}/chats/1/messages/2`)).to.equal(404);

    expect(await status(other, 'DELETE', T.chat, `${base}/chats/2`)).to.equal(204);
    expect(await status(api, 'GET', T.chat, `${base}/chats/2`)).to.equal(404);
    expect(await status(api, 'GET', T.messages, `${base}/chats/2/messages`)).to.equal(404);
    expect(await status(api, 'GET', T.search, `${base}/chats/2/search?q=hello`)).to.equal(404);
    expect((await postMessage(api, `${base}/chats/2`, 'late')).status).to.equal(404);
    const chats = await call<Json[]>(api, 'GET', T.chats, `${base}/chats`);
    expect(chats.body.map((c) => c['chat_number'])).to.deep.equal([1]);

    // Counters follow at the next flush; numbers are never issued again.
    expect(await system.runFlusher()).to.equal(0);
    expect((await call<Json>(api, 'GET', T.app, base)).body['chats_count']).to.equal(1);
    expect(
      (await call<Json>(api, 'GET', T.chat, `${base}/chats/1`)).body['messages_count'],
    ).to.equal(2);
    const chat3 = await call<Json>(other, 'POST', T.chats, `${base}/chats`);
    expect(chat3.body['chat_number']).to.equal(3);
    expect((await postMessage(other, `${base}/chats/1`, 'next')).body['message_number']).to.equal(
      4,
    );

    expect(await status(other, 'DELETE', T.app, base)).to.equal(204);
    for (const url of [api, other]) {
      expect(await status(url, 'GET', T.app, base)).to.equal(404);
      expect(await status(url, 'GET', T.chat, `${base}/chats/1`)).to.equal(404);
      expect(await status(url, 'GET', T.chats, `${base}/chats`)).to.equal(404);
      expect(await status(url, 'POST', T.chats, `${base}/chats`)).to.equal(404);
      expect(await status(url, 'DELETE', T.app, base)).to.equal(404);
    }
    // The purge removes every row in the background, the tombstone stays.
    await eventually(async () => ((await rows(token)).all === 0 ? true : undefined), 30_000);
  });

  it('deletes what was answered 201 but not persisted yet: it never appears', async () => {
    const token = await createApplication(api);
    const base = `/api/applications/${token}`;
    await call(api, 'POST', T.chats, `${base}/chats`);
    await persisted(other, T.chat, `${base}/chats/1`);
    // No consumer runs: everything below stays queued.
    await Promise.all(consumers.splice(0).map((c) => stopProgram(c)));
    expect((await call<Json>(api, 'POST', T.chats, `${base}/chats`)).body['chat_number']).to.equal(
      2,
    );
    for (const n of [1, 2]) await postMessage(other, `${base}/chats/2`, `queued ${n}`);
    for (const n of [1, 2]) await postMessage(other, `${base}/chats/1`, `queued ${n}`);
    expect(await status(api, 'DELETE', T.chat, `${base}/chats/2`)).to.equal(204);
    expect(await status(other, 'DELETE', T.message, `${base}/chats/1/messages/1`)).to.equal(204);
    // Numbers never issued are not "queued": 404.
    expect(await status(api, 'DELETE', T.chat, `${base}/chats/3`)).to.equal(404);
    expect(await status(api, 'DELETE', T.message, `${base}/chats/1/messages/3`)).to.equal(404);
    consumers.push(await system.startConsumer(), await system.startConsumer());
    await persisted(other, T.message, `${base}/chats/1/messages/2`);
    await postMessage(api, `${base}/chats/1`, 'after');
    await persisted(other, T.message, `${base}/chats/1/messages/3`);
    expect(await status(api, 'GET', T.chat, `${base}/chats/2`)).to.equal(404);
    expect(await status(api, 'GET', T.message, `${base}/chats/1/messages/1`)).to.equal(404);
    expect(await rows(token)).to.deep.include({ live: 2 });
  });

  for (const parent of ['chat', 'application'] as const) {
    it(`lets no create survive or resurrect when its ${parent} is deleted with hundreds in flight`, async () => {
      const token = await createApplication(api);
      const base = `/api/applications/${token}`;
      await call(api, 'POST', T.chats, `${base}/chats`);
      await persisted(other, T.chat, `${base}/chats/1`);
      const answers: number[] = [];
      const created = new Set<number>();
      const creates = Array.from({ length: 400 }, async (_, i) => {
        const reply = await postMessage(i % 2 === 0 ? api : other, `${base}/chats/1`, `m${i}`);
        answers.push(reply.status);
        if (reply.status === 201) {
          const n = reply.body['message_number'] as number;
          expect(created.has(n), `message number ${n} issued twice`).to.equal(false);
          created.add(n);
        }
      });
      // Delete once some creates were answered, with the rest still in flight; one consumer is
      // killed meanwhile, so its unacked deliveries come again.
      await eventually(() => Promise.resolve(answers.length >= 50 ? true : undefined));
      consumers.shift()?.child.kill('SIGKILL');
      const path = parent === 'chat' ? `${base}/chats/1` : base;
      expect(await status(other, 'DELETE', parent === 'chat' ? T.chat : T.app, path)).to.equal(204);
      await Promise.all(creates);
      consumers.push(await system.startConsumer());
      expect(answers.filter((s) => s !== 201 && s !== 404)).to.deep.equal([]);
      expect(answers.filter((s) => s === 201).length).to.be.above(0);
      // Everything still queued reaches the consumers and is dropped; the purge removes the rest.
      await eventually(async () => ((await rows(token)).all === 0 ? true : undefined), 60_000);
      expect(await status(api, 'GET', T.chat, `${base}/chats/1`)).to.equal(404);
      expect(await status(other, 'GET', T.messages, `${base}/chats/1/messages`)).to.equal(404);
      if (parent === 'chat') {
        // The application lives on: no chat number is reused, none of the chat's messages comes back.
        expect(
          (await call<Json>(api, 'POST', T.chats, `${base}/chats`)).body['chat_number'],
        ).to.equal(2);
        expect((await postMessage(api, `${base}/chats/1`, 'again')).status).to.equal(404);
      }
      expect((await rows(token)).live).to.equal(0);
    });
  }
});
