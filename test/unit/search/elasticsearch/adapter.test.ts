import { createServer, type AddressInfo, type Socket } from 'node:net';
import { Client } from '@elastic/elasticsearch';
import { expect } from 'chai';
import { Registry } from 'prom-client';
import type { IndexedMessage } from '../../../../internal/domain/ports.js';
import { ElasticsearchSearch } from '../../../../internal/search/elasticsearch/adapter.js';
import { chatKey, documentId } from '../../../../internal/search/elasticsearch/document.js';
import {
  SearchIndexingError,
  SearchPageTooDeepError,
  SearchUnavailableError,
} from '../../../../internal/search/elasticsearch/errors.js';
import { indexDefinition } from '../../../../internal/search/elasticsearch/mapping.js';
import { buildSearchRequest } from '../../../../internal/search/elasticsearch/query.js';
import { createSearchMetrics, type SearchMetrics } from '../../../../internal/search/metrics.js';
import { FakeElasticsearch, mockClient, responseError } from './fake-elasticsearch.js';

const ALIAS = 'messages';
const scope = { applicationToken: 'app-token-1', chatNumber: 3 };

function message(
  number: number,
  content: string,
  updatedAt = '2024-05-01T10:00:00.000Z',
): IndexedMessage {
  return {
    ...scope,
    number,
    content,
    createdAt: new Date('2024-05-01T09:00:00.000Z'),
    updatedAt: new Date(updatedAt),
  };
}

/** A client whose node refuses connections: the cluster is down. */
async function downClient(): Promise<Client> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const address = server.address();
  if (address === null || typeof address === 'string') throw new Error('no port');
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return new Client({
    node: `http://127.0.0.1:${address.port}`,
    maxRetries: 0,
    requestTimeout: 2_000,
  });
}

/** A cluster with neither the alias nor the index, refusing the first index's creation. */
function clientWithoutAliasOrIndex(creationError: string): Client {
  return mockClient((mock) => {
    mock.add({ method: 'HEAD', path: '/_alias/messages' }, () =>
      responseError(404, 'aliases_not_found_exception'),
    );
    mock.add({ method: 'HEAD', path: '/messages' }, () =>
      responseError(404, 'index_not_found_exception'),
    );
    mock.add({ method: 'PUT', path: '/messages-v1' }, () => responseError(400, creationError));
  });
}

async function rejection(promise: Promise<unknown>): Promise<unknown> {
  try {
    await promise;
  } catch (error) {
    return error;
  }
  throw new Error('expected a rejection');
}

function metricValue(metrics: SearchMetrics, labels: Record<string, string>): Promise<number> {
  return metrics.indexErrors
    .get()
    .then(
      (data) =>
        data.values.find((v) =>
          Object.entries(labels).every(([k, x]) => (v.labels as Record<string, unknown>)[k] === x),
        )?.value ?? 0,
    );
}

describe('ElasticsearchSearch', function () {
  describe('ensureIndex', function () {
    it('creates <alias>-v1 with the mapping and the alias in one request', async function () {
      const fake = new FakeElasticsearch();
      await new ElasticsearchSearch({ client: fake.client, index: ALIAS }).ensureIndex();
      expect(fake.requests.map((r) => `${r.method} ${r.path}`)).to.deep.equal([
        'HEAD /_alias/messages',
        'HEAD /messages',
        'PUT /messages-v1',
      ]);
      expect(fake.requests[2]!.body).to.deep.equal({
        ...indexDefinition(),
        aliases: { messages: { is_write_index: true } },
      });
      expect([...(fake.aliases.get(ALIAS)?.keys() ?? [])]).to.deep.equal(['messages-v1']);
    });

    it('does nothing more once the alias exists', async function () {
      const fake = new FakeElasticsearch();
      const adapter = new ElasticsearchSearch({ client: fake.client, index: ALIAS });
      await adapter.ensureIndex();
      fake.requests.length = 0;
      await adapter.ensureIndex();
      expect(fake.requests.map((r) => `${r.method} ${r.path}`)).to.deep.equal([
        'HEAD /_alias/messages',
      ]);
    });

    it('accepts losing a creation race to another process', async function () {
      let aliasChecks = 0;
      const client = mockClient((mock) => {
        mock.add({ method: 'HEAD', path: '/_alias/messages' }, () =>
          ++aliasChecks === 1 ? responseError(404, 'aliases_not_found_exception') : '',
        );
        mock.add({ method: 'HEAD', path: '/messages' }, () =>
          responseError(404, 'index_not_found_exception'),
        );
        mock.add({ method: 'PUT', path: '/messages-v1' }, () =>
          responseError(400, 'resource_already_exists_exception'),
        );
      });
      await new ElasticsearchSearch({ client, index: ALIAS }).ensureIndex();
      expect(aliasChecks).to.equal(2);
    });

    it('fails when the first index exists without the alias', async function () {
      const client = clientWithoutAliasOrIndex('resource_already_exists_exception');
      const error = await rejection(
        new ElasticsearchSearch({ client, index: ALIAS }).ensureIndex(),
      );
      expect(error)
        .to.be.instanceOf(Error)
        .with.property('message')
        .that.matches(/without the alias/);
    });

    it('refuses to start over a concrete index that has the alias name', async function () {
      let created = false;
      const client = mockClient((mock) => {
        mock.add({ method: 'HEAD', path: '/_alias/messages' }, () =>
          responseError(404, 'aliases_not_found_exception'),
        );
        mock.add({ method: 'HEAD', path: '/messages' }, () => '');
        mock.add({ method: 'PUT', path: '/:index' }, () => {
          created = true;
          return { acknowledged: true };
        });
      });
      const error = await rejection(
        new ElasticsearchSearch({ client, index: ALIAS }).ensureIndex(),
      );
      expect(error)
        .to.be.instanceOf(Error)
        .with.property('message')
        .that.matches(/concrete index/);
      expect(created).to.equal(false);
    });

    it('passes other creation errors on', async function () {
      const client = clientWithoutAliasOrIndex('mapper_parsing_exception');
      const error = await rejection(
        new ElasticsearchSearch({ client, index: ALIAS }).ensureIndex(),
      );
      expect(error).to.have.property('name', 'ResponseError');
      expect(error)
        .to.have.property('message')
        .that.matches(/mapper_parsing_exception/);
    });
  });

  describe('remove and removeScope (deletes)', function () {
    it('deletes deleted messages by id with chat routing and the tombstone version; a missing one is fine', async function () {
      let sent: unknown;
      const client = mockClient((mock) => {
        mock.add({ method: 'POST', path: '/messages/_bulk' }, (params) => {
          sent = params.body;
          return {
            took: 1,
            errors: true,
            items: [
              { delete: { _index: 'messages-v1', _id: 'a:1', status: 200, result: 'deleted' } },
              { delete: { _index: 'messages-v1', _id: 'a:2', status: 404, result: 'not_found' } },
            ],
          };
        });
      });
      await new ElasticsearchSearch({ client, index: ALIAS }).remove([
        message(1, ''),
        message(2, '', '2024-05-01T11:00:00.000Z'),
      ]);
      const routing = chatKey(scope);
      expect(sent).to.deep.equal([
        {
          delete: {
            _id: `${routing}:1`,
            routing,
            version: Date.parse('2024-05-01T10:00:00.000Z'),
            version_type: 'external_gte',
          },
        },
        {
          delete: {
            _id: `${routing}:2`,
            routing,
            version: Date.parse('2024-05-01T11:00:00.000Z'),
            version_type: 'external_gte',
          },
        },
      ]);
    });

    it('fails a removal the index refuses, so the outbox entry stays', async function () {
      const client = mockClient((mock) => {
        mock.add({ method: 'POST', path: '/messages/_bulk' }, () => ({
          took: 1,
          errors: true,
          items: [
            {
              delete: {
                _index: 'messages-v1',
                _id: 'a:1',
                status: 503,
                error: { type: 'unavailable_shards_exception', reason: 'no shard' },
              },
            },
          ],
        }));
      });
      const error = await rejection(
        new ElasticsearchSearch({ client, index: ALIAS }).remove([message(1, '')]),
      );
      expect(error).to.be.instanceOf(SearchIndexingError).with.property('retryable', true);
    });

    it('deletes every document of a chat (routed to its shard) or of an application', async function () {
      const calls: { body: unknown; querystring: unknown }[] = [];
      const client = mockClient((mock) => {
        mock.add({ method: 'POST', path: '/messages/_delete_by_query' }, (params) => {
          calls.push({ body: params.body, querystring: params.querystring });
          return { took: 1, deleted: 2, failures: [] };
        });
      });
      const adapter = new ElasticsearchSearch({ client, index: ALIAS });
      await adapter.removeScope(scope);
      await adapter.removeScope({ applicationToken: scope.applicationToken });
      expect(calls).to.deep.equal([
        {
          body: {
            query: {
              bool: {
                filter: [
                  { term: { application_token: 'app-token-1' } },
                  { term: { chat_number: 3 } },
                ],
              },
            },
          },
          querystring: { conflicts: 'proceed', routing: chatKey(scope) },
        },
        {
          body: { query: { bool: { filter: [{ term: { application_token: 'app-token-1' } }] } } },
          querystring: { conflicts: 'proceed' },
        },
      ]);
    });
  });

  describe('index', function () {
    it('sends one bulk request with deterministic ids, chat routing and update-time versions', async function () {
      const fake = new FakeElasticsearch();
      const adapter = new ElasticsearchSearch({ client: fake.client, index: ALIAS });
      await adapter.ensureIndex();
      fake.requests.length = 0;
      await adapter.index([
        message(1, 'Hello World'),
        message(2, 'Ça va?', '2024-05-01T10:00:00.500Z'),
      ]);
      expect(fake.requests).to.have.length(1);
      const [bulk] = fake.requests;
      expect(bulk!.method).to.equal('POST');
      expect(bulk!.path).to.equal('/messages/_bulk');
      expect(bulk!.querystring).to.deep.equal({ require_alias: 'true' });
      const routing = chatKey(scope);
      expect(bulk!.body).to.deep.equal([
        {
          index: {
            _id: `${routing}:1`,
            routing,
            version: Date.parse('2024-05-01T10:00:00.000Z'),
            version_type: 'external_gte',
          },
        },
        {
          application_token: 'app-token-1',
          chat_number: 3,
          number: 1,
          content: 'Hello World',
          content_infix: 'hello world',
          created_at: '2024-05-01T09:00:00.000Z',
          updated_at: '2024-05-01T10:00:00.000Z',
        },
        {
          index: {
            _id: `${routing}:2`,
            routing,
            version: Date.parse('2024-05-01T10:00:00.500Z'),
            version_type: 'external_gte',
          },
        },
        {
          application_token: 'app-token-1',
          chat_number: 3,
          number: 2,
          content: 'Ça va?',
          content_infix: 'ça va?',
          created_at: '2024-05-01T09:00:00.000Z',
          updated_at: '2024-05-01T10:00:00.500Z',
        },
      ]);
    });

    it('passes the configured refresh policy', async function () {
      const fake = new FakeElasticsearch();
      const adapter = new ElasticsearchSearch({
        client: fake.client,
        index: ALIAS,
        refresh: 'wait_for',
      });
      await adapter.ensureIndex();
      await adapter.index([message(1, 'x')]);
      expect(fake.requestsTo('POST', '/_bulk')[0]!.querystring).to.deep.equal({
        require_alias: 'true',
        refresh: 'wait_for',
      });
    });

    it('is idempotent: indexing a batch twice keeps one document per message', async function () {
      const fake = new FakeElasticsearch();
      const adapter = new ElasticsearchSearch({ client: fake.client, index: ALIAS });
      await adapter.ensureIndex();
      const batch = [message(1, 'one'), message(2, 'two')];
      await adapter.index(batch);
      await adapter.index(batch);
      expect([...fake.documents(ALIAS).keys()].sort()).to.deep.equal(batch.map(documentId).sort());
    });

    it('keeps a newer edit when an older write of the message arrives late', async function () {
      const fake = new FakeElasticsearch();
      const adapter = new ElasticsearchSearch({ client: fake.client, index: ALIAS });
      await adapter.ensureIndex();
      await adapter.index([message(1, 'edited', '2024-05-01T11:00:00.000Z')]);
      await adapter.index([message(1, 'original', '2024-05-01T10:00:00.000Z')]);
      expect(fake.documents(ALIAS).get(documentId(message(1, '')))?.content).to.equal('edited');
    });

    it('sends nothing for an empty batch', async function () {
      const fake = new FakeElasticsearch();
      await new ElasticsearchSearch({ client: fake.client, index: ALIAS }).index([]);
      expect(fake.requests).to.deep.equal([]);
    });

    it('creates a missing alias itself and retries, never letting Elasticsearch auto-create an index', async function () {
      const fake = new FakeElasticsearch();
      const adapter = new ElasticsearchSearch({ client: fake.client, index: ALIAS });
      await adapter.index([message(1, 'x')]);
      expect(fake.requests.map((r) => `${r.method} ${r.path}`)).to.deep.equal([
        'POST /messages/_bulk',
        'HEAD /_alias/messages',
        'HEAD /messages',
        'PUT /messages-v1',
        'POST /messages/_bulk',
      ]);
      expect(fake.requests[0]!.querystring).to.deep.equal({ require_alias: 'true' });
      expect([...fake.indices.keys()]).to.deep.equal(['messages-v1']);
      expect([...fake.documents(ALIAS).keys()]).to.deep.equal([documentId(message(1, 'x'))]);
    });

    it('does not retry other item failures', async function () {
      let bulks = 0;
      const client = mockClient((mock) => {
        mock.add({ method: 'POST', path: '/messages/_bulk' }, () => {
          bulks += 1;
          return {
            took: 1,
            errors: true,
            items: [
              {
                index: {
                  _id: 'a:1',
                  _index: 'i',
                  status: 400,
                  error: { type: 'document_parsing_exception', reason: 'bad' },
                },
              },
            ],
          };
        });
      });
      const error = await rejection(
        new ElasticsearchSearch({ client, index: ALIAS }).index([message(1, 'a')]),
      );
      expect(error).to.be.instanceOf(SearchIndexingError);
      expect(bulks).to.equal(1);
    });

    it('throws with the first reasons when some items fail, counting the failed documents', async function () {
      const metrics = createSearchMetrics(new Registry());
      const client = mockClient((mock) => {
        mock.add({ method: 'POST', path: '/messages/_bulk' }, () => ({
          took: 1,
          errors: true,
          items: [
            { index: { _index: 'messages-v1', _id: 'a:1', status: 201, result: 'created' } },
            {
              index: {
                _index: 'messages-v1',
                _id: 'a:2',
                status: 400,
                error: { type: 'document_parsing_exception', reason: 'failed to parse [number]' },
              },
            },
            {
              index: {
                _index: 'messages-v1',
                _id: 'a:3',
                status: 409,
                error: { type: 'version_conflict_engine_exception', reason: 'newer version' },
              },
            },
          ],
        }));
      });
      const adapter = new ElasticsearchSearch({ client, index: ALIAS, metrics });
      const error = await rejection(
        adapter.index([message(1, 'a'), message(2, 'b'), message(3, 'c')]),
      );
      expect(error).to.be.instanceOf(SearchIndexingError);
      const failure = error as SearchIndexingError;
      expect(failure.failures).to.deep.equal([
        {
          id: 'a:2',
          status: 400,
          type: 'document_parsing_exception',
          reason: 'failed to parse [number]',
        },
      ]);
      expect(failure.retryable).to.equal(false);
      expect(failure.message).to.equal(
        '1 of 3 documents were not indexed (a:2: 400 document_parsing_exception: failed to parse [number])',
      );
      expect(await metricValue(metrics, { reason: 'rejected' })).to.equal(1);
    });

    it('marks item failures retryable when every one was load shedding or a server error', async function () {
      const client = mockClient((mock) => {
        mock.add({ method: 'POST', path: '/messages/_bulk' }, () => ({
          took: 1,
          errors: true,
          items: [
            {
              index: {
                _id: 'a:1',
                _index: 'i',
                status: 429,
                error: { type: 'es_rejected_execution_exception', reason: 'queue full' },
              },
            },
            {
              index: {
                _id: 'a:2',
                _index: 'i',
                status: 503,
                error: { type: 'unavailable_shards_exception', reason: 'primary down' },
              },
            },
          ],
        }));
      });
      const error = await rejection(
        new ElasticsearchSearch({ client, index: ALIAS }).index([message(1, 'a'), message(2, 'b')]),
      );
      expect(error).to.be.instanceOf(SearchIndexingError).with.property('retryable', true);
    });

    it('records the bulk size', async function () {
      const metrics = createSearchMetrics(new Registry());
      const fake = new FakeElasticsearch();
      const adapter = new ElasticsearchSearch({ client: fake.client, index: ALIAS, metrics });
      await adapter.ensureIndex();
      await adapter.index([message(1, 'a'), message(2, 'b'), message(3, 'c')]);
      const data = await metrics.bulkSize.get();
      expect(data.values.find((v) => v.metricName === 'search_bulk_size_sum')?.value).to.equal(3);
    });
  });

  describe('search', function () {
    it('sends the built request to the alias, routed to the chat', async function () {
      const fake = new FakeElasticsearch();
      const adapter = new ElasticsearchSearch({ client: fake.client, index: ALIAS });
      await adapter.ensureIndex();
      fake.requests.length = 0;
      await adapter.search(scope, ['Hello', 'w*'], { limit: 5, offset: 10 });
      const { index, routing, preference, ...body } = buildSearchRequest(
        ALIAS,
        scope,
        ['Hello', 'w*'],
        {
          limit: 5,
          offset: 10,
        },
      );
      expect(index).to.equal(ALIAS);
      expect(fake.requests).to.deep.equal([
        { method: 'POST', path: '/messages/_search', querystring: { routing, preference }, body },
      ]);
    });

    it('maps hits in the order returned, with their scores', async function () {
      const client = mockClient((mock) => {
        mock.add({ method: 'POST', path: '/messages/_search' }, () => ({
          took: 1,
          timed_out: false,
          _shards: { total: 1, successful: 1, skipped: 0, failed: 0 },
          hits: {
            max_score: 2.5,
            hits: [
              {
                _index: 'messages-v1',
                _id: 'k:9',
                _score: 2.5,
                _source: { number: 9, content: 'best 🎉' },
              },
              {
                _index: 'messages-v1',
                _id: 'k:4',
                _score: null,
                _source: { number: 4, content: 'next' },
              },
            ],
          },
        }));
      });
      const hits = await new ElasticsearchSearch({ client, index: ALIAS }).search(scope, ['e'], {
        limit: 20,
        offset: 0,
      });
      expect(hits).to.deep.equal([
        { number: 9, content: 'best 🎉', score: 2.5 },
        { number: 4, content: 'next' },
      ]);
    });

    it('rejects a hit that lacks its number or content', async function () {
      const client = mockClient((mock) => {
        mock.add({ method: 'POST', path: '/messages/_search' }, () => ({
          hits: { hits: [{ _index: 'i', _id: 'k:1', _score: 1, _source: { number: 1 } }] },
        }));
      });
      const error = await rejection(
        new ElasticsearchSearch({ client, index: ALIAS }).search(scope, ['e'], {
          limit: 1,
          offset: 0,
        }),
      );
      expect(error)
        .to.be.instanceOf(Error)
        .with.property('message')
        .that.matches(/lacks number or content/);
    });

    it('answers an empty term list with no hits and no request', async function () {
      const fake = new FakeElasticsearch();
      const hits = await new ElasticsearchSearch({ client: fake.client, index: ALIAS }).search(
        scope,
        [],
        {
          limit: 1,
          offset: 0,
        },
      );
      expect(hits).to.deep.equal([]);
      expect(fake.requests).to.deep.equal([]);
    });

    it('refuses pages beyond the result window with a 400 error, before any request', async function () {
      const fake = new FakeElasticsearch();
      const adapter = new ElasticsearchSearch({ client: fake.client, index: ALIAS });
      const error = await rejection(adapter.search(scope, ['a'], { limit: 100, offset: 9_901 }));
      expect(error).to.be.instanceOf(SearchPageTooDeepError).with.property('status', 400);
      expect(fake.requests).to.deep.equal([]);
    });

    it('refuses a malformed page', async function () {
      const adapter = new ElasticsearchSearch({
        client: new FakeElasticsearch().client,
        index: ALIAS,
      });
      for (const page of [
        { limit: 0, offset: 0 },
        { limit: 1, offset: -1 },
        { limit: 1.5, offset: 0 },
      ]) {
        expect(await rejection(adapter.search(scope, ['a'], page))).to.be.instanceOf(RangeError);
      }
    });

    it('records the duration of successful and failed searches', async function () {
      const metrics = createSearchMetrics(new Registry());
      let fail = false;
      const client = mockClient((mock) => {
        mock.add({ method: 'POST', path: '/messages/_search' }, () =>
          fail ? responseError(503, 'unavailable') : { hits: { hits: [] } },
        );
      });
      const adapter = new ElasticsearchSearch({ client, index: ALIAS, metrics });
      await adapter.search(scope, ['a'], { limit: 1, offset: 0 });
      fail = true;
      await rejection(adapter.search(scope, ['a'], { limit: 1, offset: 0 }));
      const counts = (await metrics.searchDuration.get()).values
        .filter((v) => v.metricName === 'search_duration_seconds_count')
        .map((v) => ({ ...v.labels, value: v.value }));
      expect(counts).to.have.deep.members([
        { backend: 'elasticsearch', outcome: 'ok', value: 1 },
        { backend: 'elasticsearch', outcome: 'error', value: 1 },
      ]);
    });
  });

  describe('when Elasticsearch is down or overloaded', function () {
    it('turns a refused connection into a retryable 503 on search, index and ping', async function () {
      const metrics = createSearchMetrics(new Registry());
      const adapter = new ElasticsearchSearch({
        client: await downClient(),
        index: ALIAS,
        metrics,
      });
      for (const attempt of [
        adapter.search(scope, ['a'], { limit: 1, offset: 0 }),
        adapter.index([message(1, 'a'), message(2, 'b')]),
        adapter.ping(),
        adapter.ensureIndex(),
      ]) {
        const error = await rejection(attempt);
        expect(error).to.be.instanceOf(SearchUnavailableError);
        expect(error).to.include({ retryable: true, status: 503, expose: true });
        expect((error as SearchUnavailableError).cause).to.have.property('name', 'ConnectionError');
      }
      expect(await metricValue(metrics, { reason: 'unavailable' })).to.equal(2);
    });

    for (const status of [429, 500, 502, 503, 504]) {
      it(`turns a ${status} response into SearchUnavailableError`, async function () {
        const client = mockClient((mock) => {
          mock.add({ method: 'POST', path: ['/messages/_search', '/messages/_bulk'] }, () =>
            responseError(status, 'some_exception'),
          );
        });
        const adapter = new ElasticsearchSearch({ client, index: ALIAS });
        expect(
          await rejection(adapter.search(scope, ['a'], { limit: 1, offset: 0 })),
        ).to.be.instanceOf(SearchUnavailableError);
        expect(await rejection(adapter.index([message(1, 'a')]))).to.be.instanceOf(
          SearchUnavailableError,
        );
      });
    }

    it('turns a timeout into SearchUnavailableError', async function () {
      const sockets = new Set<Socket>();
      const silent = createServer((socket) => sockets.add(socket));
      await new Promise<void>((resolve) => silent.listen(0, '127.0.0.1', resolve));
      try {
        const { port } = silent.address() as AddressInfo;
        const client = new Client({
          node: `http://127.0.0.1:${port}`,
          maxRetries: 0,
          requestTimeout: 200,
        });
        const error = await rejection(
          new ElasticsearchSearch({ client, index: ALIAS }).search(scope, ['a'], {
            limit: 1,
            offset: 0,
          }),
        );
        expect(error).to.be.instanceOf(SearchUnavailableError);
        expect((error as SearchUnavailableError).cause).to.have.property('name', 'TimeoutError');
      } finally {
        for (const socket of sockets) socket.destroy();
        await new Promise<void>((resolve) => silent.close(() => resolve()));
      }
    });

    it('passes a 400 response through unchanged: retrying would not help', async function () {
      const client = mockClient((mock) => {
        mock.add({ method: 'POST', path: '/messages/_search' }, () =>
          responseError(400, 'search_phase_execution_exception'),
        );
      });
      const error = await rejection(
        new ElasticsearchSearch({ client, index: ALIAS }).search(scope, ['a'], {
          limit: 1,
          offset: 0,
        }),
      );
      expect(error).not.to.be.instanceOf(SearchUnavailableError);
      expect(error).to.have.property('name', 'ResponseError');
    });
  });

  describe('ping', function () {
    it('resolves when the alias answers', async function () {
      const fake = new FakeElasticsearch();
      const adapter = new ElasticsearchSearch({ client: fake.client, index: ALIAS });
      await adapter.ensureIndex();
      fake.requests.length = 0;
      await adapter.ping();
      await adapter.check();
      expect(fake.requests.map((r) => `${r.method} ${r.path}`)).to.deep.equal([
        'HEAD /_alias/messages',
        'HEAD /_alias/messages',
      ]);
      expect(adapter.name).to.equal('elasticsearch');
    });

    it('throws SearchUnavailableError when the alias is missing', async function () {
      const adapter = new ElasticsearchSearch({
        client: new FakeElasticsearch().client,
        index: ALIAS,
      });
      const error = await rejection(adapter.check());
      expect(error).to.be.instanceOf(SearchUnavailableError);
      expect((error as SearchUnavailableError).cause)
        .to.have.property('message')
        .that.matches(/does not exist/);
    });
  });
});
