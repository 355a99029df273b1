import { expect } from 'chai';
import { connect, type Socket } from 'node:net';
import { openapiDocument } from '../../internal/http/openapi.js';
import { startInProcessApi, type InProcessApi } from '../support/in-process-api.js';
import {
  connectionStillHealthy,
  jsonRequest,
  rawExchange,
  type RawResponse,
} from '../support/raw-http.js';

type Json = Record<string, unknown>;

function expectErrorShape(response: RawResponse | null, status: number, code?: string): void {
  expect(response, 'no answer').to.not.equal(null);
  expect(response!.status, response!.body).to.equal(status);
  expect(response!.headers['content-type']).to.match(/^application\/json/);
  const body = JSON.parse(response!.body) as { error?: { code?: unknown; message?: unknown } };
  expect(body.error?.code).to.be.a('string');
  expect(body.error?.message).to.be.a('string');
  if (code !== undefined) expect(body.error?.code).to.equal(code);
}

async function createApp(api: InProcessApi, name = 'edges'): Promise<string> {
  const res = await fetch(`${api.base}/api/applications`, {
    method: 'POST',
    headers: { 'Content-Type': 'application/json' },
    body: JSON.stringify({ application_name: name }),
  });
  expect(res.status).to.equal(201);
  return ((await res.json()) as { application_token: string }).application_token;
}

async function createChat(api: InProcessApi, token: string): Promise<Response> {
  return fetch(`${api.base}/api/applications/${token}/chats`, {
    method: 'POST',
    headers: { 'Content-Type': 'application/json' },
    body: '{}',
  });
}

describe('http edges over real sockets', function () {
  this.timeout(60_000);
  let api: InProcessApi;

  before(async () => {
    api = await startInProcessApi({
      HTTP_HEADERS_TIMEOUT_MS: '1500',
      HTTP_REQUEST_TIMEOUT_MS: '3000',
      HTTP_KEEP_ALIVE_TIMEOUT_MS: '1000',
      RATE_LIMIT_APPLICATIONS_MAX: '100000',
    });
  });
  after(async () => {
    await api?.stop();
  });

  describe('defect 1: a refused body never poisons its connection', () => {
    it('answers 413 to a chunked body over 1 MiB and then closes, never hangs', async () => {
      const chunk = Buffer.alloc(64 * 1024, 'a');
      const pieces: Buffer[] = [
        Buffer.from(
          'POST /api/applications HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n',
        ),
        Buffer.from(`${chunk.length.toString(16)}\r\n`),
      ];
      const body: Buffer[] = [];
      for (let i = 0; i < 32; i += 1) {
        body.push(Buffer.from(`${chunk.length.toString(16)}\r\n`), chunk, Buffer.from('\r\n'));
      }
      pieces.splice(1, 1, ...body, Buffer.from('0\r\n\r\n'));
      // Then a second request on the same connection, as curl --next does.
      pieces.push(Buffer.from('GET /livez HTTP/1.1\r\nHost: x\r\n\r\n'));
      const exchange = await rawExchange(api.port, pieces);
      expect(exchange.hung, 'the connection hung').to.equal(false);
      expectErrorShape(exchange.response, 413, 'payload_too_large');
      expect(exchange.response!.headers['connection']).to.equal('close');
      expect(await connectionStillHealthy(exchange)).to.equal(true);
    });

    it('answers 413 at once to a declared Content-Length over 1 MiB and closes', async () => {
      const exchange = await rawExchange(
        api.port,
        'POST /api/applications HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 2000000\r\n\r\n{"a":',
      );
      expectErrorShape(exchange.response, 413, 'payload_too_large');
      expect(await connectionStillHealthy(exchange)).to.equal(true);
    });

    it('keeps the connection for the next request after a body it read in full', async () => {
      const exchange = await rawExchange(
        api.port,
        jsonRequest('POST', '/api/applications', '{"application_name":'),
      );
      expectErrorShape(exchange.response, 400, 'malformed_request');
      expect(exchange.closed).to.equal(false);
      expect(await connectionStillHealthy(exchange)).to.equal(true);
    });
  });

  describe('defect 2: text is stored exactly or refused', () => {
    it('refuses a lone surrogate with 422 naming the field, on every field', async () => {
      const token = await createApp(api);
      const cases: [string, string, string][] = [
        ['POST', '/api/applications', '{"application_name":"a\\ud800b"}'],
        ['PUT', `/api/applications/${token}`, '{"application_name":"\\udfffx"}'],
        ['POST', `/api/applications/${token}/chats`, '{"chat_name":"a\\ud800"}'],
        ['POST', `/api/applications/${token}/chats/1/messages`, '{"message_content":"a\\ud800b"}'],
        ['GET', `/api/applications/${token}/chats/1/search`, '{"search_query":"\\ud800"}'],
      ];
      const fields = [
        'application_name',
        'application_name',
        'chat_name',
        'message_content',
        'search_query',
      ];
      for (const [i, [method, path, body]] of cases.entries()) {
        const exchange = await rawExchange(api.port, jsonRequest(method, path, body));
        expectErrorShape(exchange.response, 422, 'validation_failed');
        expect(exchange.response!.body).to.include(fields[i]);
        exchange.socket.destroy();
      }
    });

    it('echoes and returns a valid surrogate pair exactly', async () => {
      const name = 'a\u{1F600}b\u05D0';
      const created = await fetch(`${api.base}/api/applications`, {
        method: 'POST',
        headers: { 'Content-Type': 'application/json' },
        body: JSON.stringify({ application_name: name }),
      });
      const view = (await created.json()) as Json;
      expect(view['application_name']).to.equal(name);
      const read = await fetch(`${api.base}/api/applications/${String(view['application_token'])}`);
      expect(((await read.json()) as Json)['application_name']).to.equal(name);
    });

    it('refuses bytes that are not UTF-8 with 400, and another charset with 415', async () => {
      const invalid = Buffer.concat([
        Buffer.from('{"application_name":"a'),
        Buffer.from([0xff, 0xfe]),
        Buffer.from('"}'),
      ]);
      const bytes = await rawExchange(api.port, jsonRequest('POST', '/api/applications', invalid));
      expectErrorShape(bytes.response, 400, 'invalid_encoding');
      bytes.socket.destroy();
      const cesu = Buffer.concat([
        Buffer.from('{"application_name":"a'),
        Buffer.from([0xed, 0xa0, 0x80]),
        Buffer.from('"}'),
      ]);
      const surrogateBytes = await rawExchange(
        api.port,
        jsonRequest('POST', '/api/applications', cesu),
      );
      expectErrorShape(surrogateBytes.response, 400, 'invalid_encoding');
      surrogateBytes.socket.destroy();
      const latin1 = Buffer.concat([
        Buffer.from(
          'POST /api/applications HTTP/1.1\r\nHost: x\r\nContent-Type: application/json; charset=latin1\r\nContent-Length: 25\r\n\r\n',
        ),
        Buffer.from('{"application_name":"\xe9"}', 'latin1'),
      ]);
      const charset = await rawExchange(api.port, latin1);
      expectErrorShape(charset.response, 415, 'unsupported_media_type');
      charset.socket.destroy();
      const utf8 = await fetch(`${api.base}/api/applications`, {
        method: 'POST',
        headers: { 'Content-Type': 'application/json; charset=UTF-8' },
        body: JSON.stringify({ application_name: 'é' }),
      });
      expect(utf8.status).to.equal(201);
    });

    it('refuses a query that is not UTF-8 percent-encoding with 400', async () => {
      const token = await createApp(api);
      const res = await fetch(`${api.base}/api/applications/${token}/chats/1/search?q=%ED%A0%80`);
      expect(res.status).to.equal(400);
      expect(((await res.json()) as { error: Json }).error['code']).to.equal('invalid_url');
    });
  });

  describe('defect 3: an empty Idempotency-Key', () => {
    it('is a 400 on every create, and takes no number', async () => {
      const token = await createApp(api);
      const paths = [
        ['/api/applications', '{"application_name":"x"}'],
        [`/api/applications/${token}/chats`, '{}'],
      ] as const;
      for (const [path, body] of paths) {
        const exchange = await rawExchange(
          api.port,
          jsonRequest('POST', path, body, { 'Idempotency-Key': '' }),
        );
        expectErrorShape(exchange.response, 400, 'invalid_idempotency_key');
        exchange.socket.destroy();
      }
      const chat = await createChat(api, token);
      expect(((await chat.json()) as Json)['chat_number']).to.equal(1);
    });
  });

  describe('defect 4: every method on every path answers in the error shape', () => {
    it('answers TRACE, DELETE and unknown methods with 405 and Allow on known paths', async () => {
      for (const method of ['TRACE', 'DELETE', 'PROPFIND', 'LOCK']) {
        const exchange = await rawExchange(
          api.port,
          `${method} /api/applications HTTP/1.1\r\nHost: x\r\n\r\n`,
        );
        expectErrorShape(exchange.response, 405, 'method_not_allowed');
        expect(exchange.response!.headers['allow']).to.include('POST');
        exchange.socket.destroy();
      }
    });

    it('answers CONNECT with 405 in the error shape', async () => {
      const exchange = await rawExchange(
        api.port,
        'CONNECT example.com:443 HTTP/1.1\r\nHost: x\r\n\r\n',
      );
      expectErrorShape(exchange.response, 405, 'method_not_allowed');
    });

    it('answers unknown paths with 404 whatever the method', async () => {
      for (const method of ['GET', 'POST', 'TRACE', 'OPTIONS', 'DELETE']) {
        const exchange = await rawExchange(api.port, `${method} /nope HTTP/1.1\r\nHost: x\r\n\r\n`);
        expectErrorShape(exchange.response, 404, 'route_not_found');
        exchange.socket.destroy();
      }
    });

    it('answers OPTIONS with 204 and Allow', async () => {
      const res = await fetch(`${api.base}/api/applications`, { method: 'OPTIONS' });
      expect(res.status).to.equal(204);
      expect(res.headers.get('allow')).to.equal('GET, HEAD, POST, OPTIONS');
      expect(await res.text()).to.equal('');
    });

    it('documents every status it sends, 405 included, in the OpenAPI document', () => {
      const doc = openapiDocument as {
        components: { responses: Record<string, unknown> };
        paths: Record<string, Record<string, { responses: Record<string, unknown> }>>;
      };
      expect(doc.components.responses).to.have.property('MethodNotAllowed');
      for (const [path, item] of Object.entries(doc.paths)) {
        for (const [method, op] of Object.entries(item)) {
          if (!['get', 'put', 'post', 'patch'].includes(method)) continue;
          for (const status of ['400', '408', '413', '415', '431', '500']) {
            expect(op.responses, `${method} ${path}`).to.have.property(status);
          }
        }
        expect(item, path).to.have.property('options');
      }
      for (const path of [
        '/api/applications',
        '/api/applications/{token}/chats',
        '/api/applications/{token}/chats/{chat}',
        '/api/applications/{token}/chats/{chat}/messages',
      ]) {
        expect(doc.paths[path]!['post']!.responses).to.have.property('429');
      }
    });
  });

  describe('defect 5: an empty token or number segment', () => {
    it('is a 404 route_not_found for every method', async () => {
      const paths = [
        '/api/applications/',
        '/api/applications//chats',
        '/api/applications//chats/1/messages',
        '/api/applications/x/chats//messages',
      ];
      for (const path of paths) {
        for (const method of ['GET', 'POST', 'PUT', 'PATCH']) {
          const exchange = await rawExchange(
            api.port,
            jsonRequest(method, path, '{"application_name":"x","message_content":"y"}'),
          );
          expectErrorShape(exchange.response, 404, 'route_not_found');
          exchange.socket.destroy();
        }
      }
    });
  });

  describe('timeouts on real connections', () => {
    it('cuts off a slowloris client (one header byte a second) with 408 within the headers timeout', async () => {
      const request = 'GET /livez HTTP/1.1\r\nHost: x\r\nX-Slow: aaaaaaaaaaaaaaaaaaaaa\r\n\r\n';
      const exchange = await rawExchange(api.port, [...request], {
        delayMs: 1_000,
        timeoutMs: 1_500 + 1_000 + 2_000,
      });
      expect(exchange.hung, 'still open after the headers timeout').to.equal(false);
      expectErrorShape(exchange.response, 408, 'request_timeout');
      expect(exchange.closed).to.equal(true);
    });

    it('keeps serving normal requests while 500 slowloris clients are connected, then cuts them all off', async () => {
      const slow: Socket[] = [];
      const closed = new Set<Socket>();
      for (let i = 0; i < 500; i += 1) {
        const socket = connect(api.port, '127.0.0.1');
        socket.on('error', () => undefined);
        socket.on('close', () => closed.add(socket));
        socket.write('GET /livez HTTP/1.1\r\nHost: x\r\n');
        slow.push(socket);
      }
      const trickle = setInterval(() => {
        for (const socket of slow) if (!socket.destroyed) socket.write('X');
      }, 1_000);
      try {
        await new Promise((r) => setTimeout(r, 200));
        for (let i = 0; i < 10; i += 1) {
          const res = await fetch(`${api.base}/livez`);
          expect(res.status).to.equal(200);
        }
        const token = await createApp(api, 'during slowloris');
        expect((await createChat(api, token)).status).to.equal(201);
        const deadline = Date.now() + 1_500 + 1_000 + 3_000;
        while (closed.size < slow.length && Date.now() < deadline) {
          await new Promise((r) => setTimeout(r, 100));
        }
        expect(closed.size, 'slow connections still open').to.equal(slow.length);
      } finally {
        clearInterval(trickle);
        for (const socket of slow) socket.destroy();
      }
    });

    it('answers 408 to a body that trickles in for longer than the request timeout', async () => {
      const head =
        'POST /api/applications HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 40\r\n\r\n';
      const exchange = await rawExchange(api.port, [head, ...'{"application_name":"slow body"'], {
        delayMs: 400,
        timeoutMs: 3_000 + 1_000 + 3_000,
      });
      expect(exchange.hung).to.equal(false);
      expectErrorShape(exchange.response, 408, 'request_timeout');
    });

    it('closes an idle keep-alive connection after the keep-alive timeout', async () => {
      const exchange = await rawExchange(api.port, 'GET /livez HTTP/1.1\r\nHost: x\r\n\r\n');
      expect(exchange.response?.status).to.equal(200);
      expect(exchange.closed).to.equal(false);
      const closed = await new Promise<boolean>((resolve) => {
        const timer = setTimeout(() => resolve(false), 1_000 + 1_000 + 2_000);
        exchange.socket.once('close', () => {
          clearTimeout(timer);
          resolve(true);
        });
      });
      expect(closed).to.equal(true);
    });
  });

  describe('security headers', () => {
    it('sends nosniff on every answer and no-store on every token-bearing one', async () => {
      const token = await createApp(api);
      for (const path of ['/livez', '/nope', `/api/applications/${token}`, '/api/openapi.json']) {
        const res = await fetch(`${api.base}${path}`);
        expect(res.headers.get('x-content-type-options'), path).to.equal('nosniff');
      }
      const created = await fetch(`${api.base}/api/applications`, {
        method: 'POST',
        headers: { 'Content-Type': 'application/json' },
        body: '{"application_name":"x"}',
      });
      expect(created.headers.get('cache-control')).to.equal('no-store');
      const read = await fetch(`${api.base}/api/applications/${token}`);
      expect(read.headers.get('cache-control')).to.equal('no-store');
      const parserError = await rawExchange(api.port, 'GARBAGE\r\n\r\n');
      expectErrorShape(parserError.response, 400);
      expect(parserError.response!.headers['x-content-type-options']).to.equal('nosniff');
    });

    it('grants no cross-origin access by default', async () => {
      const res = await fetch(`${api.base}/api/applications`, {
        method: 'OPTIONS',
        headers: { Origin: 'https://evil.example', 'Access-Control-Request-Method': 'POST' },
      });
      expect(res.status).to.equal(204);
      expect(res.headers.get('access-control-allow-origin')).to.equal(null);
      expect(res.headers.get('access-control-allow-methods')).to.equal(null);
    });
  });
});

describe('http edges: connection cap and idle sockets', function () {
  this.timeout(60_000);
  let api: InProcessApi;

  before(async () => {
    api = await startInProcessApi({
      HTTP_MAX_CONNECTIONS: '5',
      HTTP_SOCKET_TIMEOUT_MS: '1000',
      HTTP_HEADERS_TIMEOUT_MS: '20000',
      HTTP_REQUEST_TIMEOUT_MS: '30000',
    });
  });
  after(async () => {
    await api?.stop();
  });

  it('closes connections beyond the cap at once, and serves again when some close', async () => {
    const held: Socket[] = [];
    for (let i = 0; i < 5; i += 1) {
      const socket = connect(api.port, '127.0.0.1');
      socket.on('error', () => undefined);
      await new Promise((r) => socket.once('connect', r));
      socket.write('GET /livez HTTP/1.1\r\n'); // headers never finished
      held.push(socket);
    }
    await new Promise((r) => setTimeout(r, 100));
    const refused = await rawExchange(api.port, 'GET /livez HTTP/1.1\r\nHost: x\r\n\r\n');
    expect(refused.response).to.equal(null);
    expect(refused.closed).to.equal(true);
    for (const socket of held) socket.destroy();
    await new Promise((r) => setTimeout(r, 100));
    const served = await rawExchange(api.port, 'GET /livez HTTP/1.1\r\nHost: x\r\n\r\n');
    expect(served.response?.status).to.equal(200);
    served.socket.destroy();
  });

  it('closes a socket that goes silent mid-request after the socket timeout', async () => {
    const exchange = await rawExchange(
      api.port,
      'POST /api/applications HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 30\r\n\r\n{"app',
      { timeoutMs: 1_000 + 1_000 + 2_000 },
    );
    expect(exchange.hung).to.equal(false);
    expect(exchange.closed).to.equal(true);
  });
});

describe('http edges: CORS allow-list', function () {
  this.timeout(60_000);
  let api: InProcessApi;

  before(async () => {
    api = await startInProcessApi({ CORS_ALLOWED_ORIGINS: 'https://app.example.com' });
  });
  after(async () => {
    await api?.stop();
  });

  it('answers a preflight from an allowed origin, and grants nothing to others', async () => {
    const preflight = await fetch(`${api.base}/api/applications`, {
      method: 'OPTIONS',
      headers: {
        Origin: 'https://app.example.com',
        'Access-Control-Request-Method': 'POST',
        'Access-Control-Request-Headers': 'content-type, idempotency-key',
      },
    });
    expect(preflight.status).to.equal(204);
    expect(preflight.headers.get('access-control-allow-origin')).to.equal(
      'https://app.example.com',
    );
    expect(preflight.headers.get('access-control-allow-methods')).to.include('POST');
    expect(preflight.headers.get('access-control-allow-headers')).to.include('Idempotency-Key');
    expect(preflight.headers.get('access-control-max-age')).to.equal('600');
    expect(preflight.headers.get('vary')).to.include('Origin');

    const wrongMethod = await fetch(`${api.base}/api/applications`, {
      method: 'OPTIONS',
      headers: { Origin: 'https://app.example.com', 'Access-Control-Request-Method': 'DELETE' },
    });
    expect(wrongMethod.status).to.equal(204);
    expect(wrongMethod.headers.get('access-control-allow-methods')).to.equal(null);

    const other = await fetch(`${api.base}/api/applications`, {
      method: 'OPTIONS',
      headers: { Origin: 'https://evil.example', 'Access-Control-Request-Method': 'POST' },
    });
    expect(other.headers.get('access-control-allow-origin')).to.equal(null);

    const simple = await fetch(`${api.base}/livez`, {
      headers: { Origin: 'https://app.example.com' },
    });
    expect(simple.headers.get('access-control-allow-origin')).to.equal('https://app.example.com');
    expect(simple.headers.get('access-control-expose-headers')).to.include('RateLimit');
  });
});
