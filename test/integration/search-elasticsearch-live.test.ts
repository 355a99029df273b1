/**
 * The shared search behaviour, plus Elasticsearch-specific guarantees, against a real server.
 *
 * Skipped unless ELASTICSEARCH_URL is set: the normal suite has to pass on machines without
 * Elasticsearch, and the fake used by the unit tests cannot prove how a real server analyses,
 * versions and switches aliases. Run it with, for example:
 *
 *   ELASTICSEARCH_URL=http://localhost:9200 \
 *   ELASTICSEARCH_USERNAME=elastic ELASTICSEARCH_PASSWORD=changeme \
 *   npx mocha test/integration/search-elasticsearch-live.test.ts
 *
 * Every run works under its own `chat-search-test-<random>-*` names and deletes those indices
 * when it ends, so it can share a cluster with anything else.
 */
import { randomBytes } from 'node:crypto';
import type { Client } from '@elastic/elasticsearch';
import { expect } from 'chai';
import type { IndexedMessage, SearchScope } from '../../internal/domain/ports.js';
import { ElasticsearchSearch } from '../../internal/search/elasticsearch/adapter.js';
import { createElasticsearchClient } from '../../internal/search/elasticsearch/client.js';
import { SearchUnavailableError } from '../../internal/search/elasticsearch/errors.js';
import { aliasTargets, reindexAll } from '../../internal/search/elasticsearch/reindex.js';
import { describeSearchBehaviour, randomApplicationToken } from '../support/search-behaviour.js';

const url = process.env.ELASTICSEARCH_URL;
const prefix = `chat-search-test-${randomBytes(4).toString('hex')}`;

function message(scope: SearchScope, number: number, content: string, at: string): IndexedMessage {
  return { ...scope, number, content, createdAt: new Date(at), updatedAt: new Date(at) };
}

describe('Elasticsearch live suite', function () {
  this.timeout(60_000);
  let client: Client | undefined;

  function live(): Client {
    if (client === undefined) throw new Error('no Elasticsearch client');
    return client;
  }

  before(function () {
    if (url === undefined || url === '') {
      // Skipped, not faked: this suite is the adapter against a real Elasticsearch server, and
      // none can run on the development machine or in CI (the adapter's behaviour is covered
      // there by the unit tests on @elastic/elasticsearch-mock). Set ELASTICSEARCH_URL to run it.
      console.log('    (skipped: set ELASTICSEARCH_URL to run the live Elasticsearch suite)');
      this.skip();
    }
    client = createElasticsearchClient({
      url,
      username: process.env.ELASTICSEARCH_USERNAME,
      password: process.env.ELASTICSEARCH_PASSWORD,
    });
  });

  after(async function () {
    if (client === undefined) return;
    // Wildcard deletes are refused by default (action.destructive_requires_name), so list first.
    const indices = await client.indices.get(
      { index: `${prefix}-*`, expand_wildcards: 'all' },
      { ignore: [404] },
    );
    for (const index of Object.keys(indices)) {
      await client.indices.delete({ index }, { ignore: [404] });
    }
    await client.close();
  });

  describeSearchBehaviour('Elasticsearch (live)', async () => {
    const adapter = new ElasticsearchSearch({
      client: live(),
      index: `${prefix}-main`,
      refresh: true,
    });
    await adapter.ensureIndex();
    return {
      search: adapter,
      seed: (messages) => adapter.index(messages),
      update: (updated) => adapter.index([updated]),
    };
  });

  describe('Elasticsearch specifics', function () {
    it('creates exactly one index when several processes start at once', async function () {
      const alias = `${prefix}-race`;
      const adapters = [1, 2, 3, 4].map(
        () => new ElasticsearchSearch({ client: live(), index: alias }),
      );
      await Promise.all(adapters.map((adapter) => adapter.ensureIndex()));
      expect(await aliasTargets(live(), alias)).to.deep.equal([`${alias}-v1`]);
      await adapters[0]!.ping();
    });

    it('fails readiness when the alias does not exist', async function () {
      const adapter = new ElasticsearchSearch({ client: live(), index: `${prefix}-absent` });
      const error = await adapter.ping().catch((e: unknown) => e);
      expect(error).to.be.instanceOf(SearchUnavailableError);
    });

    it('never lets a late, older write overwrite a newer edit', async function () {
      const adapter = new ElasticsearchSearch({
        client: live(),
        index: `${prefix}-main`,
        refresh: true,
      });
      const scope = { applicationToken: randomApplicationToken(), chatNumber: 1 };
      await adapter.index([message(scope, 1, 'edited kiwi', '2024-05-01T11:00:00.000Z')]);
      await adapter.index([message(scope, 1, 'original lemon', '2024-05-01T10:00:00.000Z')]);
      const hits = await adapter.search(scope, ['i'], { limit: 10, offset: 0 });
      expect(hits.map((hit) => hit.content)).to.deep.equal(['edited kiwi']);
    });

    it('reindexes everything behind the alias and drops the old index', async function () {
      const alias = `${prefix}-reindex`;
      const adapter = new ElasticsearchSearch({ client: live(), index: alias, refresh: true });
      await adapter.ensureIndex();
      const scope = { applicationToken: randomApplicationToken(), chatNumber: 1 };
      await adapter.index([message(scope, 1, 'old plum', '2024-05-01T10:00:00.000Z')]);

      async function* source(): AsyncIterable<IndexedMessage[]> {
        await Promise.resolve();
        yield [message(scope, 1, 'new plum', '2024-05-01T12:00:00.000Z')];
        yield [message(scope, 2, 'another plum', '2024-05-01T12:00:00.000Z')];
      }
      const result = await reindexAll({ client: live(), alias, source: source() });

      expect(result.previous).to.deep.equal([`${alias}-v1`]);
      expect(await aliasTargets(live(), alias)).to.deep.equal([result.index]);
      expect(await live().indices.exists({ index: `${alias}-v1` })).to.equal(false);
      const hits = await adapter.search(scope, ['plum'], { limit: 10, offset: 0 });
      expect(hits.map((hit) => hit.content).sort()).to.deep.equal(['another plum', 'new plum']);
    });
  });
});
