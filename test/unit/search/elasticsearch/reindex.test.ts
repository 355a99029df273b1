import { expect } from 'chai';
import type { Client } from '@elastic/elasticsearch';
import type { IndexedMessage, SearchScope } from '../../../../internal/domain/ports.js';
import { ElasticsearchSearch } from '../../../../internal/search/elasticsearch/adapter.js';
import { SearchUnavailableError } from '../../../../internal/search/elasticsearch/errors.js';
import { indexDefinition } from '../../../../internal/search/elasticsearch/mapping.js';
import {
  reindexAll,
  reindexChat,
  type MessageBatches,
  type ReindexProgress,
} from '../../../../internal/search/elasticsearch/reindex.js';
import { FakeElasticsearch, responseError } from './fake-elasticsearch.js';

const ALIAS = 'messages';
const NOW = new Date('2024-06-01T00:00:00.000Z');
const NEW_INDEX = `${ALIAS}-v${NOW.getTime()}`;
const chatA: SearchScope = { applicationToken: 'app-a', chatNumber: 1 };
const chatB: SearchScope = { applicationToken: 'app-b', chatNumber: 1 };

function message(scope: SearchScope, number: number, content: string): IndexedMessage {
  const at = new Date('2024-05-01T00:00:00.000Z');
  return { ...scope, number, content, createdAt: at, updatedAt: at };
}

async function* batches(...groups: IndexedMessage[][]): MessageBatches {
  for (const group of groups) {
    await Promise.resolve();
    yield group;
  }
}

async function setUp(): Promise<{ fake: FakeElasticsearch; adapter: ElasticsearchSearch }> {
  const fake = new FakeElasticsearch();
  const adapter = new ElasticsearchSearch({ client: fake.client, index: ALIAS });
  await adapter.ensureIndex();
  await adapter.index([message(chatA, 1, 'stale alpha'), message(chatB, 1, 'bravo')]);
  fake.requests.length = 0;
  return { fake, adapter };
}

async function contentsFound(adapter: ElasticsearchSearch, scope: SearchScope, term: string) {
  const hits = await adapter.search(scope, [term], { limit: 100, offset: 0 });
  return hits.map((hit) => hit.content);
}

/** Runs a full reindex that is expected to fail, and returns what it threw. */
function reindexFailure(client: Client, source: MessageBatches): Promise<unknown> {
  return reindexAll({ client, alias: ALIAS, source, now: () => NOW }).catch((e: unknown) => e);
}

describe('reindexAll', function () {
  it('loads a new index, switches the alias atomically, then deletes the old index', async function () {
    const { fake, adapter } = await setUp();
    const progress: ReindexProgress[] = [];
    const result = await reindexAll({
      client: fake.client,
      alias: ALIAS,
      source: batches(
        [message(chatA, 1, 'fresh alpha'), message(chatA, 2, 'second')],
        [message(chatB, 1, 'bravo')],
      ),
      onProgress: (p) => progress.push(p),
      now: () => NOW,
    });

    expect(result).to.deep.equal({ index: NEW_INDEX, previous: ['messages-v1'], indexed: 3 });
    expect(fake.requests.map((r) => `${r.method} ${r.path}`)).to.deep.equal([
      'GET /_alias/messages',
      `PUT /${NEW_INDEX}`,
      `POST /${NEW_INDEX}/_bulk`,
      `POST /${NEW_INDEX}/_bulk`,
      `PUT /${NEW_INDEX}/_settings`,
      `GET /${NEW_INDEX}/_refresh`,
      'POST /_aliases',
      'DELETE /messages-v1',
    ]);
    const definition = indexDefinition();
    expect(fake.requests[1]!.body).to.deep.equal({
      mappings: definition.mappings,
      settings: { index: { ...definition.settings.index, refresh_interval: '-1' } },
    });
    expect(fake.requests[2]!.querystring).to.deep.equal({});
    expect(fake.requests[4]!.body).to.deep.equal({ 'index.refresh_interval': null });
    expect(fake.requests[6]!.body).to.deep.equal({
      actions: [
        { remove: { index: 'messages-v1', alias: ALIAS, must_exist: true } },
        { add: { index: NEW_INDEX, alias: ALIAS, is_write_index: true } },
      ],
    });
    expect(progress).to.deep.equal([
      { kind: 'created', index: NEW_INDEX },
      { kind: 'loaded', index: NEW_INDEX, batch: 2, total: 2 },
      { kind: 'loaded', index: NEW_INDEX, batch: 1, total: 3 },
      { kind: 'switched', alias: ALIAS, from: ['messages-v1'], to: NEW_INDEX },
      { kind: 'deleted-index', index: 'messages-v1' },
    ]);

    expect([...fake.indices.keys()]).to.deep.equal([NEW_INDEX]);
    expect(await contentsFound(adapter, chatA, 'alpha')).to.deep.equal(['fresh alpha']);
    expect(await contentsFound(adapter, chatB, 'bravo')).to.deep.equal(['bravo']);
  });

  it('keeps serving the old index until the switch', async function () {
    const { fake, adapter } = await setUp();
    const seen: string[][] = [];
    async function* watchingSource(): MessageBatches {
      seen.push(await contentsFound(adapter, chatA, 'alpha'));
      yield [message(chatA, 1, 'fresh alpha')];
      seen.push(await contentsFound(adapter, chatA, 'alpha'));
    }
    await reindexAll({
      client: fake.client,
      alias: ALIAS,
      source: watchingSource(),
      now: () => NOW,
    });
    expect(seen).to.deep.equal([['stale alpha'], ['stale alpha']]);
    expect(await contentsFound(adapter, chatA, 'alpha')).to.deep.equal(['fresh alpha']);
  });

  it('carries over writes made during the load through the alias after the switch', async function () {
    const { fake, adapter } = await setUp();
    let catchUpSince: Date | undefined;
    await reindexAll({
      client: fake.client,
      alias: ALIAS,
      source: batches([message(chatA, 1, 'fresh alpha')]),
      catchUp: (since) => {
        catchUpSince = since;
        return batches([message(chatA, 2, 'written during the load')]);
      },
      now: () => NOW,
    });
    expect(catchUpSince).to.deep.equal(NOW);
    const catchUp = fake.requests.filter((r) => r.path === `/${ALIAS}/_bulk`);
    expect(catchUp).to.have.length(1);
    expect(catchUp[0]!.querystring).to.deep.equal({ require_alias: 'true' });
    const aliasSwitch = fake.requests.findIndex((r) => r.path === '/_aliases');
    expect(fake.requests.indexOf(catchUp[0]!)).to.be.greaterThan(aliasSwitch);
    expect(await contentsFound(adapter, chatA, 'load')).to.deep.equal(['written during the load']);
  });

  it('creates the alias when none exists yet', async function () {
    const fake = new FakeElasticsearch();
    const result = await reindexAll({
      client: fake.client,
      alias: ALIAS,
      source: batches([message(chatA, 1, 'alpha')]),
      now: () => NOW,
    });
    expect(result.previous).to.deep.equal([]);
    expect([...(fake.aliases.get(ALIAS)?.keys() ?? [])]).to.deep.equal([NEW_INDEX]);
  });

  it('deletes its new index and leaves the alias alone when loading fails', async function () {
    const { fake, adapter } = await setUp();
    async function* failing(): MessageBatches {
      await Promise.resolve();
      yield [message(chatA, 1, 'fresh alpha')];
      throw new Error('database went away');
    }
    const error = await reindexFailure(fake.client, failing());
    expect(error).to.have.property('message', 'database went away');
    expect([...fake.indices.keys()]).to.deep.equal(['messages-v1']);
    expect([...(fake.aliases.get(ALIAS)?.keys() ?? [])]).to.deep.equal(['messages-v1']);
    expect(await contentsFound(adapter, chatA, 'alpha')).to.deep.equal(['stale alpha']);
  });

  it('loses cleanly to a concurrent reindex that switched first', async function () {
    const { fake } = await setUp();
    async function* racing(): MessageBatches {
      await Promise.resolve();
      yield [message(chatA, 1, 'fresh alpha')];
      // Another run switches the alias while this one is still loading.
      fake.indices.set('messages-v2', { ...fake.indices.get('messages-v1')!, docs: new Map() });
      fake.aliases.set(ALIAS, new Map([['messages-v2', true]]));
    }
    const error = await reindexFailure(fake.client, racing());
    expect(error)
      .to.have.property('message')
      .that.matches(/aliases_not_found_exception/);
    expect(fake.indices.has(NEW_INDEX)).to.equal(false);
    expect([...(fake.aliases.get(ALIAS)?.keys() ?? [])]).to.deep.equal(['messages-v2']);
  });

  it('refuses to replace a concrete index that has the alias name', async function () {
    const fake = new FakeElasticsearch();
    fake.indices.set(ALIAS, { mappings: {}, settings: {}, docs: new Map() });
    const error = await reindexFailure(fake.client, batches());
    expect(error)
      .to.have.property('message')
      .that.matches(/concrete index/);
    expect([...fake.indices.keys()]).to.deep.equal([ALIAS]);
  });

  it('reports an unreachable cluster as SearchUnavailableError', async function () {
    const fake = new FakeElasticsearch();
    fake.mock.clear({ method: 'GET', path: '/_alias/:name' });
    fake.mock.add({ method: 'GET', path: '/_alias/:name' }, () =>
      responseError(503, 'unavailable'),
    );
    const error = await reindexFailure(fake.client, batches());
    expect(error).to.be.instanceOf(SearchUnavailableError);
  });
});

describe('reindexChat', function () {
  it('indexes the source again in place, through the alias, without deleting first', async function () {
    const { fake, adapter } = await setUp();
    const progress: ReindexProgress[] = [];
    const result = await reindexChat({
      client: fake.client,
      alias: ALIAS,
      scope: chatA,
      source: batches([message(chatA, 1, 'fresh alpha')], [message(chatA, 2, 'alpha two')]),
      onProgress: (p) => progress.push(p),
    });
    expect(result).to.deep.equal({ indexed: 2 });
    expect(fake.requests.map((r) => `${r.method} ${r.path}`)).to.deep.equal([
      'POST /messages/_bulk',
      'POST /messages/_bulk',
    ]);
    expect(fake.requests[0]!.querystring).to.deep.equal({ require_alias: 'true' });
    expect(progress).to.deep.equal([
      { kind: 'loaded', index: ALIAS, batch: 1, total: 1 },
      { kind: 'loaded', index: ALIAS, batch: 1, total: 2 },
    ]);
    expect(await contentsFound(adapter, chatA, 'alpha')).to.have.members([
      'fresh alpha',
      'alpha two',
    ]);
    expect(await contentsFound(adapter, chatB, 'bravo')).to.deep.equal(['bravo']);
  });

  it('refuses a source that yields a message of another chat', async function () {
    const { fake } = await setUp();
    const error = await reindexChat({
      client: fake.client,
      alias: ALIAS,
      scope: chatA,
      source: batches([message(chatB, 2, 'not mine')]),
    }).catch((e: unknown) => e);
    expect(error)
      .to.have.property('message')
      .that.matches(/another chat/);
    expect(fake.requestsTo('POST', '/_bulk')).to.deep.equal([]);
  });
});
