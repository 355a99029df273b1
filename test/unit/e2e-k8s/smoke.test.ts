import { expect } from 'chai';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { PollFailedError, PollTimeoutError } from '../../../scripts/e2e-k8s/poll.js';
import { runSmokeTest } from '../../../scripts/e2e-k8s/smoke.js';
import { e2eSettings } from '../../../scripts/e2e-k8s/settings.js';

interface Seen {
  readonly method: string;
  readonly path: string;
  readonly headers: http.IncomingHttpHeaders;
  readonly body: Record<string, unknown> | undefined;
}

/**
 * A fake of the chat REST API with the deployed system's eventual consistency: the route answers
 * 503 at first, a message is readable only after a few reads, and searchable after a few more.
 */
class FakeChatApi {
  readonly seen: Seen[] = [];
  unavailableFor = 2;
  readableAfterReads = 2;
  searchableAfterSearches = 2;
  /** Override the answer to a request (status and body), or undefined for the normal one. */
  override: ((seen: Seen) => { status: number; body: unknown } | undefined) | undefined;
  private readonly messages = new Map<string, string>();
  private reads = 0;
  private searches = 0;
  private readonly server = http.createServer((req, res) => {
    void this.handle(req, res);
  });

  async start(): Promise<string> {
    await new Promise<void>((resolve) => this.server.listen(0, '127.0.0.1', resolve));
    return `http://127.0.0.1:${(this.server.address() as AddressInfo).port}`;
  }

  async close(): Promise<void> {
    this.server.closeAllConnections();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }

  private async handle(req: http.IncomingMessage, res: http.ServerResponse): Promise<void> {
    const chunks: Buffer[] = [];
    for await (const chunk of req) chunks.push(chunk as Buffer);
    const text = Buffer.concat(chunks).toString('utf8');
    const url = new URL(req.url ?? '/', 'http://fake');
    const seen: Seen = {
      method: req.method ?? 'GET',
      path: url.pathname + url.search,
      headers: req.headers,
      body: text === '' ? undefined : (JSON.parse(text) as Record<string, unknown>),
    };
    this.seen.push(seen);
    const send = (status: number, body: unknown) =>
      res.writeHead(status, { 'content-type': 'application/json' }).end(JSON.stringify(body));

    const forced = this.override?.(seen);
    if (forced !== undefined) return void send(forced.status, forced.body);
    if (this.unavailableFor > 0) {
      this.unavailableFor -= 1;
      return void res.writeHead(503, { 'content-type': 'text/html' }).end('<h1>503</h1>');
    }
    const p = url.pathname;
    if (seen.method === 'GET' && p === '/api/openapi.json')
      return void send(200, { openapi: '3.1.0' });
    if (seen.method === 'POST' && p === '/api/applications') {
      return void send(201, {
        type: 'application',
        application_token: 'tok-123456789',
        application_name: seen.body?.['application_name'],
      });
    }
    if (seen.method === 'POST' && p === '/api/applications/tok-123456789/chats') {
      return void send(201, { type: 'chat', chat_number: 1 });
    }
    if (seen.method === 'POST' && p === '/api/applications/tok-123456789/chats/1/messages') {
      this.messages.set('1', String(seen.body?.['message_content']));
      return void send(201, { type: 'message', message_number: 1 });
    }
    if (seen.method === 'GET' && p === '/api/applications/tok-123456789/chats/1/messages/1') {
      this.reads += 1;
      if (this.reads <= this.readableAfterReads)
        return void send(404, { error: { code: 'not_found' } });
      return void send(200, {
        type: 'message',
        message_number: 1,
        message_content: this.messages.get('1'),
      });
    }
    if (seen.method === 'GET' && p === '/api/applications/tok-123456789/chats/1/search') {
      this.searches += 1;
      const q = (url.searchParams.get('q') ?? '').toLowerCase();
      if (this.searches <= this.searchableAfterSearches) return void send(200, []);
      const hits = [...this.messages].filter(([, content]) => content.toLowerCase().includes(q));
      return void send(
        200,
        hits.map(([number, content]) => ({ number: Number(number), content })),
      );
    }
    send(404, { error: { code: 'not_found', message: `${seen.method} ${p}` } });
  }
}

describe('runSmokeTest against a fake chat API', function () {
  this.timeout(10_000);
  let api: FakeChatApi;
  let baseUrl: string;

  beforeEach(async () => {
    api = new FakeChatApi();
    baseUrl = await api.start();
  });
  afterEach(() => api.close());

  const smoke = (timeoutMs = 3_000) =>
    runSmokeTest({ baseUrl: `${baseUrl}/`, timeoutMs, intervalMs: 10 });

  it('creates, reads back and finds a message through the eventual consistency', async () => {
    const result = await smoke();

    expect(result).to.include({
      applicationToken: 'tok-123456789',
      chatNumber: 1,
      messageNumber: 1,
    });
    const posts = api.seen.filter((s) => s.method === 'POST');
    expect(posts.map((s) => s.path)).to.deep.equal([
      '/api/applications',
      '/api/applications/tok-123456789/chats',
      '/api/applications/tok-123456789/chats/1/messages',
    ]);
    for (const post of posts) {
      expect(post.headers['content-type']).to.equal('application/json');
      expect(post.headers['idempotency-key']).to.match(/^[0-9a-f-]{36}$/);
    }
    expect(posts[0]!.body?.['application_name']).to.be.a('string').and.not.equal('');
    expect(posts[2]!.body?.['message_content']).to.equal(result.messageContent);
    // The search fragment is an infix of a word of the message, never a prefix of the content.
    const word = result.messageContent.split(' ').find((w) => w.includes(result.searchFragment))!;
    expect(word.startsWith(result.searchFragment)).to.equal(false);
    expect(word.endsWith(result.searchFragment)).to.equal(false);
    const searches = api.seen.filter((s) => s.path.includes('/search?'));
    expect(searches.length).to.equal(3);
    expect(searches[0]!.path).to.contain(`q=${encodeURIComponent(result.searchFragment)}`);
    expect(api.seen.filter((s) => s.path.endsWith('/messages/1')).length).to.equal(3);
  });

  it('retries a create answered 503 with the same Idempotency-Key', async () => {
    api.unavailableFor = 0;
    let failed = 0;
    api.override = (seen) => {
      if (seen.method === 'POST' && seen.path === '/api/applications' && failed < 2) {
        failed += 1;
        return { status: 503, body: { error: { code: 'unavailable' } } };
      }
      return undefined;
    };

    await smoke();

    const attempts = api.seen.filter((s) => s.method === 'POST' && s.path === '/api/applications');
    expect(attempts).to.have.length(3);
    expect(new Set(attempts.map((s) => s.headers['idempotency-key'])).size).to.equal(1);
  });

  it('fails at once when a create is rejected', async () => {
    api.override = (seen) =>
      seen.method === 'POST' && seen.path.endsWith('/chats')
        ? { status: 422, body: { error: { code: 'invalid', message: 'chat_name too long' } } }
        : undefined;
    const started = Date.now();

    const error = await smoke(5_000).then(
      () => undefined,
      (caught: unknown) => caught,
    );

    expect(error).to.be.instanceOf(PollFailedError);
    expect((error as Error).message)
      .to.contain('422')
      .and.contain('chat_name too long');
    expect(Date.now() - started).to.be.lessThan(2_000);
  });

  it('fails when the message read back has other content', async () => {
    api.readableAfterReads = 0;
    api.override = (seen) =>
      seen.method === 'GET' && seen.path.endsWith('/messages/1')
        ? { status: 200, body: { message_content: 'something else' } }
        : undefined;

    const error = await smoke().then(
      () => undefined,
      (caught: unknown) => caught,
    );

    expect((error as Error).message).to.contain('something else');
  });

  it('times out naming the search fragment when the message never becomes searchable', async () => {
    api.searchableAfterSearches = Number.POSITIVE_INFINITY;

    const error = await smoke(400).then(
      () => undefined,
      (caught: unknown) => caught,
    );

    expect(error).to.be.instanceOf(PollTimeoutError);
    expect((error as Error).message).to.match(/to be found by "smoke[0-9a-f]+"/);
  });
});

describe('e2eSettings', () => {
  it('defaults to the kind setup', () => {
    expect(e2eSettings([], {})).to.deep.equal({
      baseUrl: 'http://localhost',
      namespace: 'chat-system',
      release: 'chat-system',
      timeoutMs: 600_000,
      skipRollout: false,
    });
  });

  it('reads the environment, and flags win over it', () => {
    const env = {
      E2E_BASE_URL: 'http://chat.example.com',
      E2E_NAMESPACE: 'prod',
      E2E_TIMEOUT_SECONDS: '30',
    };
    expect(e2eSettings([], env)).to.include({
      baseUrl: 'http://chat.example.com',
      namespace: 'prod',
      timeoutMs: 30_000,
    });
    expect(e2eSettings(['--namespace', 'staging', '--skip-rollout'], env)).to.include({
      namespace: 'staging',
      skipRollout: true,
    });
  });

  it('rejects bad values and unknown flags', () => {
    expect(() => e2eSettings(['--timeout', '-1'], {})).to.throw(/timeout/);
    expect(() => e2eSettings(['--base-url', 'localhost:8080'], {})).to.throw(/base-url/);
    expect(() => e2eSettings(['--bogus'], {})).to.throw();
  });
});
