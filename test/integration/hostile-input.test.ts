import { expect } from 'chai';
import { expectMatchesOpenApi } from '../e2e/support/openapi.js';
import { startInProcessApi, type InProcessApi } from '../support/in-process-api.js';
import { connectionStillHealthy, jsonRequest, rawExchange } from '../support/raw-http.js';
import { T } from '../e2e/support/client.js';

type Json = Record<string, unknown>;

interface Case {
  readonly name: string;
  readonly payload: string | Buffer | readonly (string | Buffer)[];
  /** The documented answer. */
  readonly status: number;
  /** The documented operation, when the request names one: its answer is checked against it. */
  readonly operation?: { method: string; template: string };
  readonly delayMs?: number;
  readonly head?: boolean;
}

const HEADERS_TIMEOUT_MS = 1_500;
const REQUEST_TIMEOUT_MS = 3_000;
/** Answers to requests no operation describes (components.responses of the document). */
const GENERIC = new Set([400, 404, 405, 408, 413, 431]);

function raw(method: string, target: string, headers: string[] = [], body = ''): string {
  return [`${method} ${target} HTTP/1.1`, 'Host: localhost', ...headers, '', body].join('\r\n');
}

function withHeaders(
  method: string,
  path: string,
  body: Buffer | string,
  headers: Record<string, string>,
): Buffer {
  const bytes = typeof body === 'string' ? Buffer.from(body) : body;
  const lines = [
    `${method} ${path} HTTP/1.1`,
    'Host: localhost',
    ...Object.entries(headers).map(([k, v]) => `${k}: ${v}`),
    `Content-Length: ${bytes.length}`,
    '',
    '',
  ];
  return Buffer.concat([Buffer.from(lines.join('\r\n'), 'latin1'), bytes]);
}

function chunked(path: string, totalBytes: number): Buffer[] {
  const chunk = Buffer.alloc(64 * 1024, ' ');
  const pieces = [
    Buffer.from(
      `POST ${path} HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n`,
    ),
  ];
  for (let sent = 0; sent < totalBytes; sent += chunk.length) {
    pieces.push(Buffer.from(`${chunk.length.toString(16)}\r\n`), chunk, Buffer.from('\r\n'));
  }
  pieces.push(Buffer.from('0\r\n\r\n'));
  return pieces;
}

/** At least 300 malformed or adversarial requests against one application with one chat. */
function hostileCases(token: string): Case[] {
  const cases: Case[] = [];
  const app = `/api/applications/${token}`;
  const creates = [
    { path: '/api/applications', template: T.apps, field: 'application_name' },
    { path: `${app}/chats`, template: T.chats, field: 'chat_name' },
    { path: `${app}/chats/1/messages`, template: T.messages, field: 'message_content' },
    { path: `${app}/chats/1`, template: T.chat, field: 'message_content' },
  ];
  const updates = [
    { path: app, template: T.app, field: 'application_name', method: 'PUT' },
    { path: `${app}/chats/1`, template: T.chat, field: 'chat_name', method: 'PATCH' },
    {
      path: `${app}/chats/1/messages/1`,
      template: T.message,
      field: 'message_content',
      method: 'PUT',
    },
  ];

  // Bodies: malformed JSON is a 400.
  const malformed = [
    '{',
    '}',
    '{"a":}',
    'nul',
    '[1,',
    "{'a':1}",
    '{"a":1}{"b":2}',
    '{"a":1,}',
    'NaN',
    '"open',
    '{"a":"\\x"}',
    '{"a":"\\u12"}',
    '\u0000',
    '{"a":01}',
    '[]]',
  ];
  for (const target of creates) {
    for (const body of malformed) {
      cases.push({
        name: `malformed ${JSON.stringify(body)} on ${target.template}`,
        payload: jsonRequest('POST', target.path, body),
        status: 400,
        operation: { method: 'POST', template: target.template },
      });
    }
  }
  // Bodies: well-formed JSON of the wrong shape is a 422 naming the field.
  for (const target of [...creates, ...updates]) {
    const method: string = 'method' in target ? String(target.method) : 'POST';
    const f = target.field;
    const shapes = [
      '[]',
      '123',
      '"text"',
      'true',
      `{"${f}":123}`,
      `{"${f}":[]}`,
      `{"${f}":{}}`,
      `{"${f}":""}`,
      `{"${f}":"${'x'.repeat(10_001)}"}`,
      `{"${f}":"a\\ud800b"}`,
      `{"${f}":"\\udfff"}`,
      `{"${f}":"x\\ud83d"}`,
    ];
    for (const body of shapes) {
      cases.push({
        name: `wrong shape ${body.slice(0, 40)} on ${method} ${target.template}`,
        payload: jsonRequest(method, target.path, body),
        status: 422,
        operation: { method, template: target.template },
      });
    }
  }
  // Bodies: bytes that are not UTF-8 are a 400, whatever the route.
  const invalidUtf8 = [
    [0xff],
    [0xc0, 0x80],
    [0xed, 0xa0, 0x80],
    [0xe2, 0x82],
    [0xf4, 0x90, 0x80, 0x80],
    [0xf8, 0x88, 0x80, 0x80, 0x80],
  ];
  for (const target of creates) {
    for (const bytes of invalidUtf8) {
      const body = Buffer.concat([
        Buffer.from(`{"${target.field}":"a`),
        Buffer.from(bytes),
        Buffer.from('"}'),
      ]);
      cases.push({
        name: `invalid UTF-8 ${bytes.join(',')} on ${target.template}`,
        payload: jsonRequest('POST', target.path, body),
        status: 400,
        operation: { method: 'POST', template: target.template },
      });
    }
  }
  // Encodings: another charset, another media type, a content coding: 415.
  const contentTypes = [
    'application/json; charset=latin1',
    'application/json; charset=iso-8859-1',
    'application/json; charset=utf-16',
    'application/json; charset="us-ascii"',
    'application/json; charset=',
    'text/plain',
    'application/x-www-form-urlencoded',
    'multipart/form-data; boundary=x',
    'application/xml',
    'application/jsonx',
  ];
  for (const target of creates) {
    for (const type of contentTypes) {
      cases.push({
        name: `Content-Type ${type} on ${target.template}`,
        payload: withHeaders('POST', target.path, `{"${target.field}":"x"}`, {
          'Content-Type': type,
        }),
        status: 415,
        operation: { method: 'POST', template: target.template },
      });
    }
    for (const coding of ['gzip', 'deflate', 'br']) {
      cases.push({
        name: `Content-Encoding ${coding} on ${target.template}`,
        payload: withHeaders('POST', target.path, `{"${target.field}":"x"}`, {
          'Content-Type': 'application/json',
          'Content-Encoding': coding,
        }),
        status: 415,
        operation: { method: 'POST', template: target.template },
      });
    }
    cases.push({
      name: `body without Content-Type on ${target.template}`,
      payload: withHeaders('POST', target.path, `{"${target.field}":"x"}`, {}),
      status: 415,
      operation: { method: 'POST', template: target.template },
    });
  }
  // Sizes.
  for (const target of creates) {
    cases.push({
      name: `declared 2 MB on ${target.template}`,
      payload: withHeaders('POST', target.path, '', { 'Content-Type': 'application/json' })
        .toString()
        .replace('Content-Length: 0', 'Content-Length: 2000000'),
      status: 413,
      operation: { method: 'POST', template: target.template },
    });
    cases.push({
      name: `chunked 1.1 MiB on ${target.template}`,
      payload: chunked(target.path, 1_150_000),
      status: 413,
      operation: { method: 'POST', template: target.template },
    });
    const padded = `{"${target.field}":""}`;
    cases.push({
      name: `1 MiB of whitespace then an empty field on ${target.template}`,
      payload: jsonRequest('POST', target.path, ' '.repeat(1024 * 1024 - padded.length) + padded),
      status: 422,
      operation: { method: 'POST', template: target.template },
    });
    cases.push({
      name: `one byte over 1 MiB on ${target.template}`,
      payload: jsonRequest(
        'POST',
        target.path,
        ' '.repeat(1024 * 1024 + 1 - padded.length) + padded,
      ),
      status: 413,
      operation: { method: 'POST', template: target.template },
    });
  }
  // Headers.
  const keys = ['', ' ', 'a b', 'k'.repeat(256), 'caf\xe9', 'tab\there'];
  for (const target of creates.slice(1)) {
    for (const key of keys) {
      cases.push({
        name: `Idempotency-Key ${JSON.stringify(key.slice(0, 12))} on ${target.template}`,
        payload: withHeaders(
          'POST',
          target.path,
          target.field === 'chat_name' ? '{}' : `{"${target.field}":"x"}`,
          {
            'Content-Type': 'application/json',
            'Idempotency-Key': key,
          },
        ),
        status: 400,
        operation: { method: 'POST', template: target.template },
      });
    }
  }
  cases.push(
    {
      name: 'short application Idempotency-Key',
      payload: jsonRequest('POST', '/api/applications', '{"application_name":"x"}', {
        'Idempotency-Key': 'short',
      }),
      status: 400,
      operation: { method: 'POST', template: T.apps },
    },
    {
      name: 'Content-Length not a number',
      payload: raw(
        'POST',
        '/api/applications',
        ['Content-Type: application/json', 'Content-Length: abc'],
        '{}',
      ),
      status: 400,
    },
    {
      name: 'negative Content-Length',
      payload: raw('POST', '/api/applications', ['Content-Length: -1'], ''),
      status: 400,
    },
    {
      name: 'two Content-Lengths',
      payload: raw('POST', '/api/applications', ['Content-Length: 2', 'Content-Length: 3'], '{}'),
      status: 400,
    },
    {
      name: 'Content-Length with Transfer-Encoding (smuggling)',
      payload: raw(
        'POST',
        '/api/applications',
        ['Content-Length: 4', 'Transfer-Encoding: chunked'],
        '0\r\n\r\n',
      ),
      status: 400,
    },
    {
      name: 'Transfer-Encoding not ending in chunked',
      payload: raw('POST', '/api/applications', ['Transfer-Encoding: gzip'], ''),
      status: 400,
    },
    {
      name: 'bad chunk size',
      payload: raw(
        'POST',
        '/api/applications',
        ['Content-Type: application/json', 'Transfer-Encoding: chunked'],
        'zz\r\n{}\r\n0\r\n\r\n',
      ),
      status: 400,
    },
    {
      name: 'headers over 16 KiB',
      payload: raw('GET', '/livez', [`X-Big: ${'a'.repeat(20_000)}`]),
      status: 431,
    },
    { name: 'URL over 16 KiB', payload: raw('GET', `/livez?${'a'.repeat(20_000)}`), status: 431 },
    {
      name: 'NUL in a header value',
      payload: raw('GET', '/livez', ['X-Nul: a\u0000b']),
      status: 400,
    },
    { name: 'header without a colon', payload: raw('GET', '/livez', ['NoColonHere']), status: 400 },
    { name: 'space before the colon', payload: raw('GET', '/livez', ['X-Bad : 1']), status: 400 },
    { name: 'no Host header', payload: 'GET /livez HTTP/1.1\r\n\r\n', status: 400 },
    // llhttp takes a 2.0 version in HTTP/1 syntax as HTTP/1 framing: it is served.
    {
      name: 'HTTP/2.0 request line',
      payload: 'GET /livez HTTP/2.0\r\nHost: x\r\n\r\n',
      status: 200,
    },
    {
      name: 'HTTP/9.9 request line',
      payload: 'GET /livez HTTP/9.9\r\nHost: x\r\n\r\n',
      status: 400,
    },
    { name: 'garbage request line', payload: 'HELLO\r\n\r\n', status: 400 },
    {
      name: 'binary garbage',
      payload: Buffer.from([0x16, 0x03, 0x01, 0x02, 0x00, 0x01, 0x00, 0x01, 0xfc, 0x03, 0x03]),
      status: 400,
    },
    { name: 'unknown method token', payload: raw('FOO', '/api/applications'), status: 400 },
    { name: 'lower-case method', payload: raw('get', '/livez'), status: 400 },
    {
      name: 'admin listing with a wrong bearer',
      payload: raw('GET', '/api/applications', ['Authorization: Bearer nope']),
      status: 403,
      operation: { method: 'GET', template: T.apps },
    },
    {
      name: 'garbage X-Request-Id is replaced',
      payload: raw('GET', '/livez', ['X-Request-Id: <script>alert(1)</script>']),
      status: 200,
    },
    {
      name: 'hostile Origin gets no grant',
      payload: raw('GET', '/livez', ['Origin: https://evil.example']),
      status: 200,
    },
    { name: 'HEAD /livez', payload: raw('HEAD', '/livez'), status: 200, head: true },
  );
  // Paths.
  const badPaths: [string, number, string?][] = [
    ['/api/applications/not-a-token', 404, T.app],
    [`${app}/chats/0`, 400, T.chat],
    [`${app}/chats/01`, 400, T.chat],
    [`${app}/chats/1.5`, 400, T.chat],
    [`${app}/chats/-1`, 400, T.chat],
    [`${app}/chats/abc`, 400, T.chat],
    [`${app}/chats/4294967296`, 400, T.chat],
    [`${app}/chats/1e3`, 400, T.chat],
    // A %-escaped digit is the digit (paths are decoded): chat 2 was never created (chat 1,
    // answered 201, is readable at once, persisted or not).
    [`${app}/chats/%32`, 404, T.chat],
    [`${app}/chats/1/messages/0`, 400, T.message],
    [`${app}/chats/1/messages/99999999999`, 400, T.message],
    [`${app}/chats?limit=abc`, 400, T.chats],
    [`${app}/chats?limit=0`, 400, T.chats],
    [`${app}/chats?limit=101`, 400, T.chats],
    [`${app}/chats?limit=1&limit=2`, 400, T.chats],
    [`${app}/chats?after=`, 400, T.chats],
    [`${app}/chats?after=-5`, 400, T.chats],
    [`${app}/chats/1/search`, 400, T.search],
    [`${app}/chats/1/search?q=`, 400, T.search],
    [`${app}/chats/1/search?q=a&q=b`, 400, T.search],
    [`${app}/chats/1/search?q=a&offset=10000`, 400, T.search],
    [`${app}/chats/1/search?q=a&limit=1000`, 400, T.search],
    [`${app}/chats/1/search?q=%ED%A0%80`, 400],
    [`${app}/chats/1/search?q=%FF`, 400],
    [`${app}/chats/1/search?q=%`, 400],
    ['/api/applications/%zz', 400],
    ['/api/applications/', 404],
    ['/api/applications//chats', 404],
    [`${app}//chats`, 404],
    [`${app}/chats/1/`, 404],
    ['/api/applications/../applications', 404],
    ['/api/%2e%2e/applications', 404],
    [`/api/applications/${token}%2Fchats`, 404, T.app],
    // `/` is the live page (LIVE_PAGE_ENABLED); `/index.html` and the like are nothing.
    ['/index.html', 404],
    ['/api', 404],
    ['/api/', 404],
    ['/admin', 404],
    ['/.env', 404],
    ['/metrics', 404],
    ['/livez/x', 404],
    ['//livez', 404],
    ['/api/applications/\u00e9', 400],
    // Authorisation comes before the query: the listing is disabled on this API.
    ['/api/applications?after=', 403, T.apps],
  ];
  for (const [path, status, template] of badPaths) {
    cases.push({
      name: `GET ${path.slice(0, 80)}`,
      payload: Buffer.from(raw('GET', path), 'latin1'),
      status,
      ...(template === undefined ? {} : { operation: { method: 'GET', template } }),
    });
  }
  // Methods: every path answers every method, in the error shape.
  const paths = [
    '/livez',
    '/readyz',
    '/api/openapi.json',
    '/api/applications',
    app,
    `${app}/chats`,
    `${app}/chats/1`,
    `${app}/chats/1/messages`,
    `${app}/chats/1/messages/1`,
    `${app}/chats/1/search`,
  ];
  const methods = [
    'TRACE',
    'DELETE',
    'PROPFIND',
    'MKCOL',
    'COPY',
    'MOVE',
    'LOCK',
    'UNLOCK',
    'SEARCH',
    'REPORT',
    'PURGE',
    'LINK',
  ];
  // DELETE is served on an application, a chat and a message: here only for what does not
  // exist (the application under attack must survive the run).
  const deletable = new Set([app, `${app}/chats/1`, `${app}/chats/1/messages/1`]);
  for (const path of [
    '/api/applications/00000000-0000-4000-8000-000000000000',
    `${app}/chats/999999`,
    `${app}/chats/1/messages/999999`,
  ]) {
    cases.push({ name: `DELETE ${path}`, payload: raw('DELETE', path), status: 404 });
  }
  for (const path of paths) {
    for (const method of methods) {
      if (method === 'DELETE' && deletable.has(path)) continue;
      cases.push({ name: `${method} ${path}`, payload: raw(method, path), status: 405 });
    }
    cases.push({ name: `OPTIONS ${path}`, payload: raw('OPTIONS', path), status: 204 });
    cases.push({
      name: `CONNECT ${path}`,
      payload: raw('CONNECT', 'example.com:443'),
      status: 405,
    });
  }
  for (const method of ['TRACE', 'OPTIONS', 'DELETE', 'POST', 'PUT']) {
    cases.push({
      name: `${method} on an unknown path`,
      payload: raw(method, '/nope', ['Content-Length: 0']),
      status: 404,
    });
  }
  // Slow clients: headers or body trickled in, one byte at a time.
  for (let i = 0; i < 3; i += 1) {
    cases.push({
      name: `slow headers ${i}`,
      payload: [...'GET /livez HTTP/1.1\r\nHost: x\r\nX-Slow: 1234567890\r\n\r\n'],
      delayMs: 1_000,
      status: 408,
    });
    cases.push({
      name: `slow body ${i}`,
      payload: [
        `POST ${app}/chats/1/messages HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 40\r\n\r\n`,
        ...'{"message_content":"slow"',
      ],
      delayMs: 500,
      status: 408,
    });
  }
  return cases;
}

describe('hostile input over real sockets', function () {
  this.timeout(180_000);
  let api: InProcessApi;

  before(async () => {
    api = await startInProcessApi({
      HTTP_HEADERS_TIMEOUT_MS: String(HEADERS_TIMEOUT_MS),
      HTTP_REQUEST_TIMEOUT_MS: String(REQUEST_TIMEOUT_MS),
      RATE_LIMIT_APPLICATIONS_MAX: '100000',
    });
  });
  after(async () => {
    await api?.stop();
  });

  it('answers at least 300 malformed requests with the documented 4xx in the error shape, never hangs, never burns a number', async () => {
    const created = await fetch(`${api.base}/api/applications`, {
      method: 'POST',
      headers: { 'Content-Type': 'application/json' },
      body: '{"application_name":"hostile"}',
    });
    const token = ((await created.json()) as { application_token: string }).application_token;
    const post = (path: string, body: string) =>
      fetch(`${api.base}/api/applications/${token}${path}`, {
        method: 'POST',
        headers: { 'Content-Type': 'application/json' },
        body,
      });
    expect(((await (await post('/chats', '{}')).json()) as Json)['chat_number']).to.equal(1);
    const first = await post('/chats/1/messages', '{"message_content":"first"}');
    expect(((await first.json()) as Json)['message_number']).to.equal(1);

    const cases = hostileCases(token);
    expect(cases.length).to.be.at.least(300);
    const failures: string[] = [];
    const run = async (c: Case) => {
      const slow = c.delayMs !== undefined;
      const exchange = await rawExchange(api.port, c.payload, {
        timeoutMs: slow ? REQUEST_TIMEOUT_MS + 4_000 : 5_000,
        delayMs: c.delayMs ?? 0,
        head: c.head ?? false,
      });
      const where = `${c.name}:`;
      if (exchange.hung || exchange.response === null) {
        failures.push(`${where} no answer (hung: ${exchange.hung})`);
        exchange.socket.destroy();
        return;
      }
      const { status, body, headers } = exchange.response;
      if (status >= 500) failures.push(`${where} ${status} ${body}`);
      if (status !== c.status)
        failures.push(`${where} expected ${c.status}, got ${status} ${body.slice(0, 120)}`);
      if (headers['x-content-type-options'] !== 'nosniff') failures.push(`${where} no nosniff`);
      if (status >= 400) {
        try {
          const parsed = JSON.parse(body) as { error?: { code?: unknown; message?: unknown } };
          if (typeof parsed.error?.code !== 'string' || typeof parsed.error.message !== 'string') {
            failures.push(`${where} not the error shape: ${body.slice(0, 120)}`);
          }
          if (c.operation !== undefined) {
            expectMatchesOpenApi(c.operation.method, c.operation.template, status, parsed);
          } else if (!GENERIC.has(status)) {
            failures.push(`${where} ${status} is not among the generic answers`);
          }
        } catch (err) {
          failures.push(`${where} ${(err as Error).message.slice(0, 200)}`);
        }
      }
      if (!(await connectionStillHealthy(exchange))) failures.push(`${where} connection poisoned`);
    };
    const queue = [...cases];
    await Promise.all(
      Array.from({ length: 8 }, async () => {
        for (let c = queue.shift(); c !== undefined; c = queue.shift()) await run(c);
      }),
    );
    expect(failures, failures.join('\n')).to.deep.equal([]);

    // Nothing above took a number: the next chat and message get the next ones.
    expect(((await (await post('/chats', '{}')).json()) as Json)['chat_number']).to.equal(2);
    const next = await post('/chats/1/messages', '{"message_content":"second"}');
    expect(((await next.json()) as Json)['message_number']).to.equal(2);
    const livez = await fetch(`${api.base}/livez`);
    expect(livez.status).to.equal(200);
  });
});
