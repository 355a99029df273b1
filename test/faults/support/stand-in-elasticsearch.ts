/**
 * The unit tests' in-memory Elasticsearch served over real HTTP, so the programs' own client
 * talks to it as to a cluster. `unavailable` makes every request answer 503 the way a cluster
 * without a master does, for the outage scenario.
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { createRequire } from 'node:module';
import type * as Elasticsearch from '@elastic/elasticsearch';
import { FakeElasticsearch } from '../../unit/search/elasticsearch/fake-elasticsearch.js';

const require = createRequire(import.meta.url);
// The fake answers errors with the CommonJS build's ResponseError (see fake-elasticsearch.ts).
const cjs = require('@elastic/elasticsearch') as typeof Elasticsearch;

type Resolver = (params: unknown) => unknown;

export class StandInElasticsearch {
  readonly fake = new FakeElasticsearch();
  unavailable = false;
  /** Requests answered 503 because of `unavailable`. */
  refused = 0;
  readonly #server: Server;

  constructor() {
    this.#server = createServer((req, res) => {
      this.#handle(req, res).catch((err: unknown) => {
        reply(res, 500, { error: { type: 'stand_in_failure', reason: String(err) }, status: 500 });
      });
    });
  }

  async listen(): Promise<string> {
    await new Promise<void>((resolve) => this.#server.listen(0, '127.0.0.1', resolve));
    const address = this.#server.address();
    if (typeof address !== 'object' || address === null) throw new Error('no address');
    return `http://127.0.0.1:${address.port}`;
  }

  async close(): Promise<void> {
    this.#server.closeAllConnections();
    await new Promise<void>((resolve) => this.#server.close(() => resolve()));
  }

  async #handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const chunks: Buffer[] = [];
    for await (const chunk of req) chunks.push(chunk as Buffer);
    if (this.unavailable) {
      this.refused++;
      reply(res, 503, {
        error: { type: 'master_not_discovered_exception', reason: 'stand-in outage' },
        status: 503,
      });
      return;
    }
    const url = new URL(req.url ?? '/', 'http://stand-in');
    const text = Buffer.concat(chunks).toString('utf8');
    const type = req.headers['content-type'] ?? '';
    const body =
      text === ''
        ? null
        : type.includes('ndjson')
          ? text
              .split('\n')
              .filter(Boolean)
              .map((line) => JSON.parse(line) as unknown)
          : (JSON.parse(text) as unknown);
    const params = {
      method: req.method ?? 'GET',
      path: decodeURIComponent(url.pathname),
      querystring: Object.fromEntries(url.searchParams),
      body,
    };
    const resolver = (this.fake.mock as unknown as { get(p: unknown): Resolver | null }).get(
      params,
    );
    if (resolver === null) {
      reply(res, 404, { error: { type: 'stand_in_no_route', reason: params.path }, status: 404 });
      return;
    }
    const payload = resolver(params);
    if (payload instanceof cjs.errors.ResponseError) {
      reply(res, payload.statusCode ?? 500, payload.body);
    } else if (typeof payload === 'string') {
      reply(res, 200, payload);
    } else {
      reply(res, 200, payload);
    }
  }
}

function reply(res: ServerResponse, status: number, payload: unknown): void {
  const text = typeof payload === 'string' ? payload : JSON.stringify(payload);
  res.writeHead(status, {
    'content-type': typeof payload === 'string' ? 'text/plain' : 'application/json',
    'content-length': Buffer.byteLength(text),
    'x-elastic-product': 'Elasticsearch',
  });
  res.end(res.req.method === 'HEAD' ? undefined : text);
}
