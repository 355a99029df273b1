import { expect } from 'chai';
import { call, createApplication, T } from './support/client.js';
import { eventually, startSystem, type System } from './support/system.js';

type Json = Record<string, unknown>;

describe('e2e: the three programs over HTTP', function () {
  this.timeout(120_000);
  let system: System;
  let api: string;
  let other: string;

  before(async function () {
    system = await startSystem({ apis: 2, consumers: 2 });
    [api, other] = system.apis as [string, string];
  });
  after(async function () {
    await system?.stop();
  });

  // Persisted: listed (a GET answers at once after a 201, persisted or not: read-your-writes).
  const listed = async (path: string, field: string, n: number) => {
    const r = await call<Json[]>(
      api,
      'GET',
      path.includes('/messages') ? T.messages : T.chats,
      `${path}?after=${n - 1}&limit=1`,
    );
    return r.status === 200 && r.body[0]?.[field] === n;
  };
  const readMessage = (token: string, chat: number, n: number) =>
    eventually(async () => {
      if (!(await listed(`/api/applications/${token}/chats/${chat}/messages`, 'message_number', n)))
        return undefined;
      const r = await call<Json>(
        api,
        'GET',
        T.message,
        `/api/applications/${token}/chats/${chat}/messages/${n}`,
      );
      return r.status === 200 ? r.body : undefined;
    });
  const readChat = (token: string, chat: number) =>
    eventually(async () => {
      if (!(await listed(`/api/applications/${token}/chats`, 'chat_number', chat)))
        return undefined;
      const r = await call<Json>(api, 'GET', T.chat, `/api/applications/${token}/chats/${chat}`);
      return r.status === 200 ? r.body : undefined;
    });

  it('serves every route of the contract', async () => {
    const created = await call<Json>(api, 'POST', T.apps, '/api/applications', {
      body: { application_name: 'shop' },
    });
    expect(created.status).to.equal(201);
    const token = created.body['application_token'] as string;
    expect(token).to.match(/^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
    const base = `/api/applications/${token}`;

    expect((await call<Json>(other, 'GET', T.app, base)).body).to.include({
      application_name: 'shop',
      chats_count: 0,
    });
    expect(
      (await call<Json>(api, 'PUT', T.app, base, { body: { application_name: 'shop 2' } })).body,
    ).to.include({ application_name: 'shop 2' });
    expect(
      (await call<Json>(api, 'PATCH', T.app, base, { body: { application_name: 'shop 3' } })).body,
    ).to.include({ application_name: 'shop 3' });

    const chat1 = await call<Json>(api, 'POST', T.chats, `${base}/chats`, {
      body: { chat_name: 'general' },
    });
    expect(chat1.status).to.equal(201);
    expect(chat1.body).to.include({
      type: 'chat',
      chat_number: 1,
      chat_name: 'general',
      messages_count: 0,
    });
    const chat2 = await call<Json>(other, 'POST', T.chats, `${base}/chats`);
    expect(chat2.body).to.include({ chat_number: 2, chat_name: null });

    const m1 = await call<Json>(api, 'POST', T.messages, `${base}/chats/1/messages`, {
      body: { message_content: 'hello wonderful world' },
    });
    expect(m1.status).to.equal(201);
    expect(m1.body).to.include({ type: 'message', chat_number: 1, message_number: 1 });
    const m2 = await call<Json>(other, 'POST', T.chat, `${base}/chats/1`, {
      body: { message_content: 'second, via the documented alias' },
    });
    expect(m2.body).to.include({ message_number: 2 });

    expect(await readMessage(token, 1, 2)).to.include({
      message_content: 'second, via the documented alias',
    });
    expect(await readChat(token, 2)).to.include({ chat_name: null });
    expect(
      (await call<Json>(api, 'PUT', T.chat, `${base}/chats/1`, { body: { chat_name: 'renamed' } }))
        .body,
    ).to.include({ chat_name: 'renamed' });
    expect(
      (await call<Json>(api, 'PATCH', T.chat, `${base}/chats/2`, { body: { chat_name: 'named' } }))
        .body,
    ).to.include({ chat_name: 'named' });

    const chats = await call<Json[]>(api, 'GET', T.chats, `${base}/chats?limit=1`);
    expect(chats.body.map((c) => c['chat_number'])).to.deep.equal([1]);
    expect(chats.headers.get('link')).to.equal(`<${base}/chats?limit=1&after=1>; rel="next"`);
    const rest = await call<Json[]>(api, 'GET', T.chats, `${base}/chats?limit=1&after=1`);
    expect(rest.body.map((c) => c['chat_number'])).to.deep.equal([2]);
    expect(rest.headers.get('link')).to.equal(null);

    const messages = await call<Json[]>(api, 'GET', T.messages, `${base}/chats/1/messages`);
    expect(messages.body.map((m) => m['message_number'])).to.deep.equal([1, 2]);
    const put = await call<Json>(api, 'PUT', T.message, `${base}/chats/1/messages/1`, {
      body: { message_content: 'edited text' },
    });
    expect(put.body).to.include({ message_content: 'edited text' });
    const patch = await call<Json>(api, 'PATCH', T.message, `${base}/chats/1/messages/2`, {
      body: { message_content: 'patched' },
    });
    expect(patch.body).to.include({ message_content: 'patched' });

    const byQ = await call<Json[]>(api, 'GET', T.search, `${base}/chats/1/search?q=DITED`);
    expect(byQ.body).to.deep.equal([{ number: 1, content: 'edited text' }]);
    const byParam = await call<Json[]>(
      api,
      'GET',
      T.search,
      `${base}/chats/1/search?search_query=atch`,
    );
    expect(byParam.body).to.deep.equal([{ number: 2, content: 'patched' }]);
    const byBody = await call<Json[]>(api, 'GET', T.search, `${base}/chats/1/search`, {
      body: { search_query: 'text' },
    });
    expect(byBody.body).to.deep.equal([{ number: 1, content: 'edited text' }]);
    expect((await call(api, 'GET', T.search, `${base}/chats/1/search`)).status).to.equal(400);
    expect((await call(api, 'GET', T.search, `${base}/chats/9/search?q=x`)).status).to.equal(404);
  });

  it('stores and returns strings exactly', async () => {
    const name = 'Ünïcødé 🎉 "quoted" \'single\' \\ back \u0000 nul مرحبا';
    const token = await createApplication(api, name);
    expect(
      (await call<Json>(api, 'GET', T.app, `/api/applications/${token}`)).body['application_name'],
    ).to.equal(name);
    const content = "שלום 👩‍👩‍👧 你好 \u0000 <script>alert(1)</script> %_ ' OR 1=1 --";
    await call(api, 'POST', T.chats, `/api/applications/${token}/chats`, {
      body: { chat_name: name },
    });
    await call(api, 'POST', T.messages, `/api/applications/${token}/chats/1/messages`, {
      body: { message_content: content },
    });
    expect((await readMessage(token, 1, 1))['message_content']).to.equal(content);
    expect((await readChat(token, 1))['chat_name']).to.equal(name);
  });

  it('answers bad input with clear 4xx errors and never burns a number', async () => {
    const token = await createApplication(api);
    const base = `/api/applications/${token}`;
    await call(api, 'POST', T.chats, `${base}/chats`);
    const post = (body: Partial<Parameters<typeof call>[4]> & object) =>
      call<Json>(api, 'POST', T.messages, `${base}/chats/1/messages`, body);
    const cases: [Promise<{ status: number; body: Json }>, number, string][] = [
      [post({ body: { message_content: '' } }), 422, 'validation_failed'],
      [post({ body: { message_content: 5 } }), 422, 'validation_failed'],
      [post({ body: {} }), 422, 'validation_failed'],
      [post({ body: { message_content: 'x'.repeat(10_001) } }), 422, 'validation_failed'],
      [
        post({ rawBody: '{"message_content":', headers: { 'Content-Type': 'application/json' } }),
        400,
        'malformed_request',
      ],
      [
        post({
          rawBody: 'message_content=hi',
          headers: { 'Content-Type': 'application/x-www-form-urlencoded' },
        }),
        415,
        'unsupported_media_type',
      ],
      [post({ body: { message_content: 'x'.repeat(1_100_000) } }), 413, 'payload_too_large'],
      [post({ body: ['not', 'an', 'object'] }), 422, 'validation_failed'],
    ];
    for (const [reply, status, code] of cases) {
      const r = await reply;
      expect(r.status).to.equal(status);
      expect((r.body['error'] as Json)['code']).to.equal(code);
    }
    for (const bad of ['abc', '0', '-1', '1.5', '01', '99999999999999999999']) {
      const r = await call(api, 'POST', T.messages, `${base}/chats/${bad}/messages`, {
        body: { message_content: 'x' },
      });
      expect(r.status, bad).to.equal(400);
      expect((await call(api, 'GET', T.chat, `${base}/chats/${bad}`)).status).to.equal(400);
    }
    expect(
      (
        await call(api, 'POST', T.messages, `${base}/chats/7/messages`, {
          body: { message_content: 'x' },
        })
      ).status,
    ).to.equal(404);
    expect(
      (
        await call(api, 'POST', T.messages, `/api/applications/not-a-token/chats/1/messages`, {
          body: { message_content: 'x' },
        })
      ).status,
    ).to.equal(404);
    const ok = await call<Json>(api, 'POST', T.messages, `${base}/chats/1/messages`, {
      body: { message_content: 'first real one' },
    });
    expect(ok.body['message_number']).to.equal(1);
    expect(
      (await call(api, 'POST', T.chats, `${base}/chats`, { body: { chat_name: 7 } })).status,
    ).to.equal(422);
    expect((await call<Json>(api, 'POST', T.chats, `${base}/chats`)).body['chat_number']).to.equal(
      2,
    );
  });

  it('answers 404 for updates of numbers not persisted, unknown ids and unknown routes', async () => {
    const token = await createApplication(api);
    const base = `/api/applications/${token}`;
    expect(
      (await call(api, 'PUT', T.chat, `${base}/chats/5`, { body: { chat_name: 'x' } })).status,
    ).to.equal(404);
    expect(
      (
        await call(api, 'PATCH', T.message, `${base}/chats/1/messages/1`, {
          body: { message_content: 'x' },
        })
      ).status,
    ).to.equal(404);
    expect(
      (await call(api, 'GET', T.app, '/api/applications/2a7b3bbd-45e2-4eff-b7cd-0123456789ab'))
        .status,
    ).to.equal(404);
    const unknown = await fetch(`${api}/api/nothing-here`);
    expect(unknown.status).to.equal(404);
    expect(await unknown.json()).to.deep.equal({
      error: { code: 'route_not_found', message: 'No such route.' },
    });
  });

  it('numbers 200 concurrent chat creates 1..200 across two API processes', async () => {
    const token = await createApplication(api);
    const replies = await Promise.all(
      Array.from({ length: 200 }, (_, i) =>
        call<Json>(system.apis[i % 2]!, 'POST', T.chats, `/api/applications/${token}/chats`, {
          body: { chat_name: `c${i}` },
        }),
      ),
    );
    expect(replies.every((r) => r.status === 201)).to.equal(true);
    const numbers = replies.map((r) => r.body['chat_number'] as number).sort((a, b) => a - b);
    expect(numbers).to.deep.equal(Array.from({ length: 200 }, (_, i) => i + 1));
  });

  it('numbers 500 concurrent message creates 1..500 and persists each with its content', async () => {
    const token = await createApplication(api);
    const base = `/api/applications/${token}`;
    await call(api, 'POST', T.chats, `${base}/chats`);
    const replies = await Promise.all(
      Array.from({ length: 500 }, (_, i) =>
        call<Json>(system.apis[i % 2]!, 'POST', T.messages, `${base}/chats/1/messages`, {
          body: { message_content: `payload ${i}` },
        }),
      ),
    );
    expect(replies.every((r) => r.status === 201)).to.equal(true);
    const numbers = replies.map((r) => r.body['message_number'] as number).sort((a, b) => a - b);
    expect(numbers).to.deep.equal(Array.from({ length: 500 }, (_, i) => i + 1));
    const expected = new Map(
      replies.map((r) => [r.body['message_number'], r.body['message_content']]),
    );
    const persisted = await eventually(async () => {
      const all: Json[] = [];
      let path: string | null = `${base}/chats/1/messages?limit=100`;
      while (path !== null) {
        const page: { body: Json[]; headers: Headers } = await call<Json[]>(
          api,
          'GET',
          T.messages,
          path,
        );
        all.push(...page.body);
        path = /<([^>]+)>; rel="next"/.exec(page.headers.get('link') ?? '')?.[1] ?? null;
      }
      return all.length === 500 ? all : undefined;
    });
    for (const message of persisted)
      expect(message['message_content']).to.equal(expected.get(message['message_number']));
  });

  it('keeps chats_count and messages_count right after a flusher run', async () => {
    const token = await createApplication(api);
    const base = `/api/applications/${token}`;
    for (let i = 0; i < 3; i += 1) await call(api, 'POST', T.chats, `${base}/chats`);
    await Promise.all(
      Array.from({ length: 7 }, () =>
        call(api, 'POST', T.messages, `${base}/chats/2/messages`, {
          body: { message_content: 'hi' },
        }),
      ),
    );
    await readMessage(token, 2, 7);
    await readChat(token, 3);
    expect(await system.runFlusher()).to.equal(0);
    expect((await call<Json>(api, 'GET', T.app, base)).body['chats_count']).to.equal(3);
    expect(
      (await call<Json>(api, 'GET', T.chat, `${base}/chats/2`)).body['messages_count'],
    ).to.equal(7);
    expect(
      (await call<Json>(api, 'GET', T.chat, `${base}/chats/1`)).body['messages_count'],
    ).to.equal(0);
  });

  it('lists applications to the admin only', async () => {
    await createApplication(api);
    await createApplication(api);
    const path = '/api/applications';
    expect((await call(api, 'GET', T.apps, path)).status).to.equal(401);
    expect(
      (await call(api, 'GET', T.apps, path, { headers: { Authorization: 'Bearer wrong' } })).status,
    ).to.equal(401);
    const disabled = await call<Json>(other, 'GET', T.apps, path, {
      headers: { Authorization: `Bearer ${system.adminToken}` },
    });
    expect(disabled.status).to.equal(403);
    expect(JSON.stringify(disabled.body)).to.include('ADMIN_TOKEN');
    const page = await call<Json[]>(api, 'GET', T.apps, `${path}?limit=1`, {
      headers: { Authorization: `Bearer ${system.adminToken}` },
    });
    expect(page.status).to.equal(200);
    expect(page.body).to.have.lengthOf(1);
    expect(page.headers.get('link')).to.match(
      /^<\/api\/applications\?limit=1&after=[^>]+>; rel="next"$/,
    );
  });

  it('replays an Idempotency-Key without publishing again, and refuses it for another body', async () => {
    const token = await createApplication(api);
    const base = `/api/applications/${token}`;
    const key = { 'Idempotency-Key': 'create-chat-1' };
    const first = await call<Json>(api, 'POST', T.chats, `${base}/chats`, {
      body: { chat_name: 'a' },
      headers: key,
    });
    const again = await call<Json>(other, 'POST', T.chats, `${base}/chats`, {
      body: { chat_name: 'a' },
      headers: key,
    });
    expect(again.status).to.equal(201);
    expect(again.body).to.deep.equal(first.body);
    expect(again.headers.get('idempotent-replayed')).to.equal('true');
    const conflict = await call<Json>(api, 'POST', T.chats, `${base}/chats`, {
      body: { chat_name: 'b' },
      headers: key,
    });
    expect(conflict.status).to.equal(422);
    expect((conflict.body['error'] as Json)['code']).to.equal('idempotency_key_reused');

    const msgKey = { 'Idempotency-Key': 'm-1' };
    const m = await call<Json>(api, 'POST', T.messages, `${base}/chats/1/messages`, {
      body: { message_content: 'once' },
      headers: msgKey,
    });
    const m2 = await call<Json>(api, 'POST', T.messages, `${base}/chats/1/messages`, {
      body: { message_content: 'once' },
      headers: msgKey,
    });
    expect(m2.body).to.deep.equal(m.body);
    const short = await call<Json>(api, 'POST', T.apps, '/api/applications', {
      body: { application_name: 'x' },
      headers: { 'Idempotency-Key': 'guessable' },
    });
    expect(short.status).to.equal(400);
    const appKey = { 'Idempotency-Key': `app-${token}` };
    const a1 = await call<Json>(api, 'POST', T.apps, '/api/applications', {
      body: { application_name: 'x' },
      headers: appKey,
    });
    const a2 = await call<Json>(other, 'POST', T.apps, '/api/applications', {
      body: { application_name: 'x' },
      headers: appKey,
    });
    expect(a2.body['application_token']).to.equal(a1.body['application_token']);

    await readMessage(token, 1, 1);
    const next = await call<Json>(api, 'POST', T.messages, `${base}/chats/1/messages`, {
      body: { message_content: 'next' },
    });
    expect(next.body['message_number']).to.equal(2);
    expect((await call<Json>(api, 'POST', T.chats, `${base}/chats`)).body['chat_number']).to.equal(
      2,
    );
    await readMessage(token, 1, 2);
    const listed = await call<Json[]>(api, 'GET', T.messages, `${base}/chats/1/messages`);
    expect(listed.body.map((x) => x['message_content'])).to.deep.equal(['once', 'next']);
  });

  it('counts creates and replays on the separate metrics port, by route template only', async () => {
    const token = await createApplication(api);
    const key = { 'Idempotency-Key': `metrics-${token}` };
    await call(api, 'POST', T.chats, `/api/applications/${token}/chats`, {
      headers: key,
      body: {},
    });
    await call(api, 'POST', T.chats, `/api/applications/${token}/chats`, {
      headers: key,
      body: {},
    });
    const text = await (await fetch(system.apiMetrics[0]!)).text();
    const value = (pattern: RegExp) => Number(pattern.exec(text)?.[1] ?? NaN);
    expect(value(/^chat_creates_total\{type="chat",program="api"\} (\d+)/m)).to.be.at.least(1);
    expect(value(/^idempotent_replays_total\{type="chat",program="api"\} (\d+)/m)).to.be.at.least(
      1,
    );
    expect(text).to.match(
      /http_requests_total\{method="POST",route="\/api\/applications\/:token\/chats",status="201"/,
    );
    expect(text).not.to.include(token);
    // Redis memory for the alert before it is full; the shared test Redis has no limit (0).
    expect(value(/^redis_memory_used_bytes\{node="[^"]+",program="api"\} (\d+)/m)).to.be.above(0);
    expect(value(/^redis_memory_max_bytes\{node="[^"]+",program="api"\} (\d+)/m)).to.be.at.least(0);
    expect(
      value(/^numbering_reservations_total\{scope="chats",program="api"\} (\d+)/m),
    ).to.be.at.least(1);
    expect((await fetch(`${api}/metrics`)).status).to.equal(404);
  });

  it('echoes X-Request-Id and serves its OpenAPI document', async () => {
    const res = await fetch(`${api}/api/openapi.json`, {
      headers: { 'X-Request-Id': 'trace-123' },
    });
    expect(res.headers.get('x-request-id')).to.equal('trace-123');
    expect(((await res.json()) as Json)['openapi']).to.equal('3.1.0');
    const generated = await fetch(`${api}/livez`);
    expect(generated.headers.get('x-request-id')).to.match(/^[0-9a-f-]{36}$/);
  });
});
