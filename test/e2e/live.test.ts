import { expect } from 'chai';
import { call, createApplication, T } from './support/client.js';
import { eventually, startSystem, type System } from './support/system.js';
import { SseClient, type SseEvent } from './support/sse.js';

type Json = Record<string, unknown>;
const E = '/api/applications/{token}/chats/{chat}/events';

/** Stream ids (`ms-seq`) as numbers that order them. */
const order = (id: string) => {
  const [ms = '0', seq = '0'] = id.split('-');
  return BigInt(ms) * 1_000_000n + BigInt(seq);
};
const increasing = (events: readonly SseEvent[]) =>
  events.every((e, i) => i === 0 || order(e.id) > order(events[i - 1]!.id));
/** Waits until `condition` holds (the streams fill in the background). */
const holds = (condition: () => boolean) =>
  eventually(() => Promise.resolve(condition() ? true : undefined));
const numbers = (events: readonly SseEvent[]) =>
  events.map((e) => (JSON.parse(e.data) as { message_number: number }).message_number);

describe('e2e: live event streams and read-your-writes, with two APIs and two consumers', function () {
  this.timeout(180_000);
  let system: System;
  let a: string;
  let b: string;
  const open: SseClient[] = [];

  before(async function () {
    system = await startSystem({ apis: 2, consumers: 2 });
    [a, b] = system.apis as [string, string];
  });
  afterEach(() => {
    for (const client of open.splice(0)) client.close();
  });
  after(async function () {
    for (const consumer of system?.consumers ?? []) consumer.child.kill('SIGCONT');
    await system?.stop();
  });

  const subscribe = async (base: string, path: string, lastEventId?: string) => {
    const client = await SseClient.open(`${base}${path}/events`, lastEventId);
    open.push(client);
    expect(client.status).to.equal(200);
    expect(client.contentType).to.match(/^text\/event-stream/);
    // The stream is registered once its first bytes arrived.
    await holds(() => client.retries.length > 0);
    return client;
  };
  const newChat = async () => {
    const token = await createApplication(a);
    const chat = await call<Json>(a, 'POST', T.chats, `/api/applications/${token}/chats`, {
      body: { chat_name: 'live' },
    });
    expect(chat.status).to.equal(201);
    return `/api/applications/${token}/chats/${String(chat.body['chat_number'])}`;
  };
  const post = (base: string, path: string, content: string) =>
    call<Json>(base, 'POST', T.messages, `${path}/messages`, {
      body: { message_content: content },
    });

  it('answers an unknown application or chat with the JSON 404 before any stream', async () => {
    const path = await newChat();
    const unknownChat = await call(a, 'GET', E, `${path.replace(/\/\d+$/, '')}/99/events`);
    expect(unknownChat.status).to.equal(404);
    const unknownApp = await call(
      b,
      'GET',
      E,
      '/api/applications/00000000-0000-4000-8000-000000000000/chats/1/events',
    );
    expect(unknownApp.status).to.equal(404);
  });

  it('delivers every create, whichever replica took it, to subscribers on both replicas: in one order, without gap or duplicate, each readable on receipt', async () => {
    const path = await newChat();
    const [onA, onB] = [await subscribe(a, path), await subscribe(b, path)];
    const N = 60;
    const created: Json[] = [];
    for (let i = 0; i < N; i += 6) {
      const batch = await Promise.all(
        Array.from({ length: 6 }, (_, j) => post(j % 2 === 0 ? a : b, path, `m${i + j}`)),
      );
      for (const reply of batch) {
        expect(reply.status).to.equal(201);
        created.push(reply.body);
      }
    }
    await holds(
      () => onA.of('message.created').length >= N && onB.of('message.created').length >= N,
    );
    for (const client of [onA, onB]) {
      const events = client.of('message.created');
      expect(events).to.have.length(N);
      expect(increasing(events)).to.equal(true);
      expect([...numbers(events)].sort((x, y) => x - y)).to.deep.equal(
        Array.from({ length: N }, (_, i) => i + 1),
      );
      expect(client.retries).to.have.length(1);
    }
    // One order for everyone: the chat's log.
    expect(onB.events.map((e) => e.id)).to.deep.equal(onA.events.map((e) => e.id));
    // The data is the representation the 201 gave and GET gives, on both replicas.
    const byNumber = new Map(created.map((c) => [c['message_number'], c]));
    for (const event of onA.of('message.created').slice(0, 10)) {
      const data = JSON.parse(event.data) as Json;
      expect(data).to.deep.equal(byNumber.get(data['message_number']));
      const got = await call<Json>(
        b,
        'GET',
        T.message,
        `${path}/messages/${String(data['message_number'])}`,
      );
      expect(got.body).to.deep.equal(data);
    }
  });

  it('resumes with Last-Event-ID on the other replica with no gap and no duplicate, edits and deletes included', async () => {
    const path = await newChat();
    const first = await subscribe(a, path);
    for (let i = 1; i <= 10; i += 1)
      expect((await post(a, path, `before ${i}`)).status).to.equal(201);
    await holds(() => first.of('message.created').length >= 5);
    first.close();
    const seen = [...first.events];
    const lastId = seen.at(-1)!.id;
    // While nobody listens: more creates on both replicas, an edit and a delete.
    for (let i = 11; i <= 20; i += 1) {
      expect((await post(i % 2 === 0 ? a : b, path, `after ${i}`)).status).to.equal(201);
    }
    const edit = await call<Json>(b, 'PUT', T.message, `${path}/messages/3`, {
      body: { message_content: 'edited' },
    });
    expect(edit.status).to.equal(200);
    expect((await call(a, 'DELETE', T.message, `${path}/messages/4`)).status).to.equal(204);
    const resumed = await subscribe(b, path, lastId);
    await holds(
      () =>
        seen.filter((e) => e.event === 'message.created').length +
          resumed.of('message.created').length >=
          20 && resumed.of('message.deleted').length === 1,
    );
    const all = [...seen, ...resumed.events];
    expect(resumed.of('reset')).to.deep.equal([]);
    expect(increasing(all)).to.equal(true);
    expect(new Set(all.map((e) => e.id)).size).to.equal(all.length);
    expect(
      [...numbers(all.filter((e) => e.event === 'message.created'))].sort((x, y) => x - y),
    ).to.deep.equal(Array.from({ length: 20 }, (_, i) => i + 1));
    // Each change after the create it changes, as they were persisted.
    const at = (type: string, n: number) =>
      all.findIndex((e) => e.event === type && numbers([e])[0] === n);
    expect(at('message.updated', 3)).to.be.greaterThan(at('message.created', 3));
    expect(at('message.deleted', 4)).to.be.greaterThan(at('message.created', 4));
    expect(JSON.parse(all[at('message.updated', 3)]!.data)).to.deep.equal(edit.body);
    // The query parameter resumes the same way.
    const byQuery = await SseClient.open(`${a}${path}/events?last_event_id=${lastId}`);
    open.push(byQuery);
    await holds(() => byQuery.events.length >= resumed.events.length);
    expect(byQuery.events.map((e) => e.id)).to.deep.equal(resumed.events.map((e) => e.id));
  });

  it('reads a create at once on both replicas before it is persisted, lists and searches its chat without 404, and orders an edit after its create', async () => {
    const token = await createApplication(a);
    const base = `/api/applications/${token}`;
    // No consumer runs: nothing is persisted until they continue.
    for (const consumer of system.consumers) consumer.child.kill('SIGSTOP');
    try {
      const chat = await call<Json>(a, 'POST', T.chats, `${base}/chats`, {
        body: { chat_name: 'ryw' },
      });
      expect(chat.status).to.equal(201);
      const path = `${base}/chats/${String(chat.body['chat_number'])}`;
      const message = await post(b, path, 'read me');
      expect(message.status).to.equal(201);
      const messagePath = `${path}/messages/${String(message.body['message_number'])}`;
      for (const api of [a, b]) {
        expect((await call<Json>(api, 'GET', T.chat, path)).body).to.deep.equal(chat.body);
        expect((await call<Json>(api, 'GET', T.message, messagePath)).body).to.deep.equal(
          message.body,
        );
        const list = await call<Json[]>(api, 'GET', T.messages, `${path}/messages`);
        expect(list.status).to.equal(200);
        const search = await call<Json[]>(api, 'GET', T.search, `${path}/search?q=read`);
        expect(search.status).to.equal(200);
      }
      const stream = await subscribe(b, path);
      // An edit waits for the create's persistence: let the consumers go on meanwhile.
      const editing = call<Json>(a, 'PATCH', T.message, messagePath, {
        body: { message_content: 'read me, edited' },
      });
      await new Promise((resolve) => setTimeout(resolve, 300));
      for (const consumer of system.consumers) consumer.child.kill('SIGCONT');
      const edited = await editing;
      expect(edited.status).to.equal(200);
      await holds(() => stream.of('message.updated').length === 1);
      expect(stream.events.map((e) => e.event)).to.deep.equal([
        'message.created',
        'message.updated',
      ]);
      for (const api of [a, b]) {
        expect((await call<Json>(api, 'GET', T.message, messagePath)).body).to.deep.equal(
          edited.body,
        );
        const list = await call<Json[]>(api, 'GET', T.messages, `${path}/messages`);
        expect(list.body).to.deep.equal([edited.body]);
      }
    } finally {
      for (const consumer of system.consumers) consumer.child.kill('SIGCONT');
    }
  });

  it('never shows a deleted create again, on either replica', async () => {
    const token = await createApplication(a);
    const base = `/api/applications/${token}`;
    for (const consumer of system.consumers) consumer.child.kill('SIGSTOP');
    try {
      const chat = await call<Json>(a, 'POST', T.chats, `${base}/chats`, { body: {} });
      const path = `${base}/chats/${String(chat.body['chat_number'])}`;
      const message = await post(a, path, 'gone soon');
      const messagePath = `${path}/messages/${String(message.body['message_number'])}`;
      expect((await call(b, 'DELETE', T.message, messagePath)).status).to.equal(204);
      for (const api of [a, b])
        expect((await call(api, 'GET', T.message, messagePath)).status).to.equal(404);
      expect((await call(b, 'DELETE', T.chat, path)).status).to.equal(204);
      for (const api of [a, b]) expect((await call(api, 'GET', T.chat, path)).status).to.equal(404);
    } finally {
      for (const consumer of system.consumers) consumer.child.kill('SIGCONT');
    }
  });

  it('ends the streams of every chat of a deleted application, on both replicas', async () => {
    const path = await newChat();
    expect((await post(a, path, 'hello')).status).to.equal(201);
    const onA = await subscribe(a, path);
    const onB = await subscribe(b, path);
    const app = path.slice(0, path.indexOf('/chats/'));
    expect((await call(b, 'DELETE', T.app, app)).status).to.equal(204);
    // The consumers' purge tells each chat before its rows go.
    await holds(() => onA.ended && onB.ended);
    for (const client of [onA, onB]) expect(client.of('chat.deleted')).to.have.length(1);
    // A reconnect is answered 404, before any stream.
    const again = await SseClient.open(`${a}${path}/events`, onA.lastId);
    open.push(again);
    expect(again.status).to.equal(404);
  });
});
