import { expect } from 'chai';
import Koa from 'koa';
import type { AddressInfo } from 'node:net';
import { createServer, type Server } from 'node:http';
import { errorMiddleware } from '../../../internal/http/middleware/errors.js';
import { jsonBody } from '../../../internal/http/middleware/json-body.js';
import { asDependencyFailure } from '../../../internal/http/dependency-errors.js';
import { isTransientDatabaseError } from '../../../internal/db/errors.js';
import {
  NotFoundError,
  ServiceUnavailableError,
  ValidationError,
} from '../../../internal/domain/errors.js';
import { silentLogger } from '../../support/environment.js';

/** A Koa app whose only route throws what the test asks for. */
function appThrowing(error: () => unknown): Koa {
  const app = new Koa();
  app.silent = true;
  app.use(errorMiddleware(silentLogger)).use(jsonBody());
  app.use((ctx) => {
    if (ctx.path === '/echo') {
      ctx.body = { received: (ctx.request as { body?: unknown }).body ?? null };
      return;
    }
    if (ctx.path === '/missing') return;
    throw error();
  });
  return app;
}

async function call(app: Koa, init: RequestInit & { path?: string } = {}) {
  const handle = app.callback();
  const server: Server = createServer((req, res) => void handle(req, res));
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  try {
    const { port } = server.address() as AddressInfo;
    const res = await fetch(`http://127.0.0.1:${port}${init.path ?? '/'}`, init);
    return {
      status: res.status,
      headers: res.headers,
      body: (await res.json()) as { error?: { code: string; message: string } },
    };
  } finally {
    server.close();
  }
}

describe('http/error middleware', () => {
  it('renders typed errors as {"error":{"code","message"}} with their status', async () => {
    const res = await call(
      appThrowing(() => new ValidationError([{ field: 'chat_name', message: 'must be a string' }])),
    );
    expect(res.status).to.equal(422);
    expect(res.body).to.deep.equal({
      error: { code: 'validation_failed', message: 'chat_name: must be a string' },
    });
    expect((await call(appThrowing(() => new NotFoundError('chat')))).body.error?.code).to.equal(
      'chat_not_found',
    );
  });

  it('adds Retry-After on 503 and hides internals of unexpected errors', async () => {
    const unavailable = await call(appThrowing(() => new ServiceUnavailableError('Redis', 3)));
    expect(unavailable.status).to.equal(503);
    expect(unavailable.headers.get('retry-after')).to.equal('3');
    const crash = await call(appThrowing(() => new TypeError('secret detail')));
    expect(crash.status).to.equal(500);
    expect(crash.body).to.deep.equal({
      error: { code: 'internal_error', message: 'Internal server error.' },
    });
  });

  it('maps an unreachable dependency to 503, not 500', async () => {
    const refused = Object.assign(new Error('connect ECONNREFUSED'), {
      name: 'SequelizeConnectionRefusedError',
    });
    const res = await call(appThrowing(() => refused));
    expect(res.status).to.equal(503);
    expect(res.headers.get('retry-after')).to.equal('5');
  });

  it('answers 404 in JSON for unknown routes', async () => {
    const res = await call(
      appThrowing(() => new Error('unused')),
      { path: '/missing' },
    );
    expect(res.status).to.equal(404);
    expect(res.body.error?.code).to.equal('route_not_found');
  });

  it('answers 400 for malformed JSON, 415 for other types, 413 past 1 MiB', async () => {
    const app = appThrowing(() => new Error('unused'));
    const post = (body: string, type = 'application/json') =>
      call(app, { path: '/echo', method: 'POST', headers: { 'Content-Type': type }, body });
    expect((await post('{"a":')).status).to.equal(400);
    expect((await post('{"a":')).body.error?.code).to.equal('malformed_request');
    expect((await post('a=1', 'application/x-www-form-urlencoded')).status).to.equal(415);
    expect((await post(JSON.stringify({ a: 'x'.repeat(1024 * 1024) }))).status).to.equal(413);
    const ok = await post('{"a":"\\u0000🎉"}');
    expect(ok.status).to.equal(200);
    expect(ok.body).to.deep.equal({ received: { a: '\u0000🎉' } });
  });
});

describe('http/dependency errors', () => {
  it('recognises database, Redis and network failures only', () => {
    expect(
      asDependencyFailure(
        Object.assign(new Error('x'), { name: 'SequelizeConnectionAcquireTimeoutError' }),
      )?.status,
    ).to.equal(503);
    expect(
      asDependencyFailure(
        new Error("Stream isn't writeable and enableOfflineQueue options is false"),
      )?.status,
    ).to.equal(503);
    expect(
      asDependencyFailure(Object.assign(new Error('x'), { code: 'ECONNRESET' }))?.status,
    ).to.equal(503);
    expect(asDependencyFailure(new TypeError('bug'))).to.equal(null);
    expect(asDependencyFailure('string')).to.equal(null);
  });
});

describe('db/isTransientDatabaseError', () => {
  const dbError = (original: object) =>
    Object.assign(new Error('db'), { name: 'SequelizeDatabaseError', original });

  it('retries lost connections, deadlocks and lock waits only', () => {
    expect(isTransientDatabaseError(dbError({ errno: 1213 }))).to.equal(true);
    expect(isTransientDatabaseError(dbError({ errno: 1205 }))).to.equal(true);
    expect(isTransientDatabaseError(dbError({ code: 'PROTOCOL_CONNECTION_LOST' }))).to.equal(true);
    expect(
      isTransientDatabaseError(
        Object.assign(new Error('x'), { name: 'SequelizeConnectionRefusedError' }),
      ),
    ).to.equal(true);
  });

  it('treats bad data, oversized packets and bugs as permanent', () => {
    expect(isTransientDatabaseError(dbError({ errno: 1406 }))).to.equal(false);
    expect(isTransientDatabaseError(dbError({ errno: 1153 }))).to.equal(false);
    expect(isTransientDatabaseError(new TypeError('bug'))).to.equal(false);
    expect(isTransientDatabaseError('nope')).to.equal(false);
  });

  it('maps a connection lost mid-query and Redis LOADING/READONLY to 503', () => {
    expect(asDependencyFailure(dbError({ code: 'ECONNRESET' }))?.status).to.equal(503);
    const loading = Object.assign(new Error('LOADING Redis is loading the dataset in memory'), {
      name: 'ReplyError',
    });
    expect(asDependencyFailure(loading)?.status).to.equal(503);
    const wrongType = Object.assign(new Error('WRONGTYPE Operation against a key'), {
      name: 'ReplyError',
    });
    expect(asDependencyFailure(wrongType)).to.equal(null);
  });

  it('maps a Redis Cluster failing over to 503: redirections given up, slots unknown, MOVED', () => {
    const failures = [
      new Error('Too many Cluster redirections. Last error: Error: Connection is closed.'),
      new Error(
        'Too many Cluster redirections. Last error: ReplyError: CLUSTERDOWN The cluster is down',
      ),
      Object.assign(new Error('Failed to refresh slots cache.'), { name: 'ClusterAllFailedError' }),
      new Error('None of startup nodes is available'),
      Object.assign(new Error('MOVED 9597 127.0.0.1:27101'), { name: 'ReplyError' }),
    ];
    for (const err of failures) expect(asDependencyFailure(err)?.status, err.message).to.equal(503);
    expect(asDependencyFailure(new Error('Too many cooks'))).to.equal(null);
  });
});
