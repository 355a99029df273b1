import { expect } from 'chai';
import { startInProcessApi, type InProcessApi } from '../support/in-process-api.js';
import { removeIsolatedResources } from '../e2e/support/system.js';
import { uniqueSuffix } from '../support/environment.js';

type Json = Record<string, unknown>;

const createApp = (api: InProcessApi, headers: Record<string, string> = {}) =>
  fetch(`${api.base}/api/applications`, {
    method: 'POST',
    headers: { 'Content-Type': 'application/json', ...headers },
    body: '{"application_name":"limited"}',
  });

async function expectLimited(res: Response, rule: string, max: number, window: number) {
  expect(res.status).to.equal(429);
  const body = (await res.json()) as { error: Json };
  expect(body.error['code']).to.equal('rate_limited');
  expect(body.error['message']).to.be.a('string');
  const retryAfter = Number(res.headers.get('retry-after'));
  expect(retryAfter).to.be.within(1, window);
  expect(res.headers.get('ratelimit-policy')).to.equal(`"${rule}";q=${max};w=${window}`);
  expect(res.headers.get('ratelimit')).to.equal(`"${rule}";r=0;t=${retryAfter}`);
}

describe('rate limits on real connections, shared by replicas in Redis', function () {
  this.timeout(60_000);
  const suffix = uniqueSuffix();
  const shared = {
    RABBITMQ_QUEUE: `chat-system-ratelimit-${suffix}`,
    REDIS_KEY_PREFIX: `cs-ratelimit-${suffix}:`,
    RATE_LIMIT_APPLICATIONS_MAX: '3',
    RATE_LIMIT_APPLICATIONS_WINDOW_SECONDS: '60',
    RATE_LIMIT_CREATES_MAX: '2',
    RATE_LIMIT_CREATES_WINDOW_SECONDS: '3',
  };
  let a: InProcessApi;
  let b: InProcessApi;

  before(async () => {
    a = await startInProcessApi(shared);
    b = await startInProcessApi(shared);
  });
  after(async () => {
    await a?.stop();
    await b?.stop();
    await removeIsolatedResources(shared);
  });

  it('limits application creates per client address across both replicas, with the IETF headers', async () => {
    const first = await createApp(a);
    expect(first.status).to.equal(201);
    expect(first.headers.get('ratelimit-policy')).to.equal('"applications";q=3;w=60');
    expect(first.headers.get('ratelimit')).to.match(/^"applications";r=2;t=\d+$/);
    expect((await createApp(b)).status).to.equal(201);
    expect((await createApp(a)).status).to.equal(201);
    await expectLimited(await createApp(b), 'applications', 3, 60);
    // X-Forwarded-For from a peer that is not a trusted proxy changes nothing.
    await expectLimited(
      await createApp(a, { 'X-Forwarded-For': '198.51.100.77' }),
      'applications',
      3,
      60,
    );
  });

  it('limits chat and message creates per application without taking a number', async () => {
    const app = await fetch(`${a.base}/api/applications`, {
      method: 'POST',
      headers: { 'Content-Type': 'application/json', 'X-Forwarded-For': '1.1.1.1' },
      body: '{"application_name":"limited"}',
    }).catch(() => null);
    // The address limit of this suite is spent: make the application on a fresh replica set.
    expect(app?.status).to.equal(429);
    const own = await startInProcessApi({
      RATE_LIMIT_CREATES_MAX: '2',
      RATE_LIMIT_CREATES_WINDOW_SECONDS: '3',
    });
    try {
      const created = (await (await createApp(own)).json()) as { application_token: string };
      const token = created.application_token;
      const chat = () =>
        fetch(`${own.base}/api/applications/${token}/chats`, {
          method: 'POST',
          headers: { 'Content-Type': 'application/json' },
          body: '{}',
        });
      const one = await chat();
      expect(one.status).to.equal(201);
      expect(one.headers.get('ratelimit-policy')).to.equal('"creates";q=2;w=3');
      const message = await fetch(`${own.base}/api/applications/${token}/chats/1/messages`, {
        method: 'POST',
        headers: { 'Content-Type': 'application/json' },
        body: '{"message_content":"counted"}',
      });
      expect(message.status).to.equal(201);
      await expectLimited(await chat(), 'creates', 2, 3);
      // Another application is not affected.
      const other = (await (await createApp(own)).json()) as { application_token: string };
      const otherChat = await fetch(
        `${own.base}/api/applications/${other.application_token}/chats`,
        {
          method: 'POST',
          headers: { 'Content-Type': 'application/json' },
          body: '{}',
        },
      );
      expect(otherChat.status).to.equal(201);
      // Once the window has passed, the next chat gets the next number: the 429 burnt none.
      const retryAfter = 3;
      await new Promise((r) => setTimeout(r, retryAfter * 1000 + 200));
      const next = await chat();
      expect(next.status).to.equal(201);
      expect(((await next.json()) as Json)['chat_number']).to.equal(2);
    } finally {
      await own.stop();
    }
  });
});

describe('rate limits behind a trusted proxy', function () {
  this.timeout(60_000);
  let api: InProcessApi;

  before(async () => {
    api = await startInProcessApi({
      TRUSTED_PROXIES: '127.0.0.1/32,::1',
      RATE_LIMIT_APPLICATIONS_MAX: '1',
    });
  });
  after(async () => {
    await api?.stop();
  });

  it('counts per forwarded client address, reading X-Forwarded-For from the right', async () => {
    expect((await createApp(api, { 'X-Forwarded-For': '203.0.113.1' })).status).to.equal(201);
    await expectLimited(
      await createApp(api, { 'X-Forwarded-For': '203.0.113.1' }),
      'applications',
      1,
      60,
    );
    // A spoofed entry on the left does not make a new client.
    await expectLimited(
      await createApp(api, { 'X-Forwarded-For': '9.9.9.9, 203.0.113.1' }),
      'applications',
      1,
      60,
    );
    expect((await createApp(api, { 'X-Forwarded-For': '203.0.113.2' })).status).to.equal(201);
  });
});

describe('rate limits switched off', function () {
  this.timeout(60_000);
  let api: InProcessApi;

  before(async () => {
    api = await startInProcessApi({
      RATE_LIMIT_ENABLED: 'false',
      RATE_LIMIT_APPLICATIONS_MAX: '1',
    });
  });
  after(async () => {
    await api?.stop();
  });

  it('never refuses and sends no RateLimit headers', async () => {
    for (let i = 0; i < 3; i += 1) {
      const res = await createApp(api);
      expect(res.status).to.equal(201);
      expect(res.headers.get('ratelimit')).to.equal(null);
    }
  });
});
