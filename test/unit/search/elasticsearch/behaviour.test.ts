import { ElasticsearchSearch } from '../../../../internal/search/elasticsearch/adapter.js';
import { describeSearchBehaviour } from '../../../support/search-behaviour.js';
import { FakeElasticsearch } from './fake-elasticsearch.js';

// The real adapter, request builder and document mapping against the in-memory fake: checks the
// requests we build have the intended semantics (the live suite checks them on a real server).
describeSearchBehaviour('Elasticsearch adapter on the in-memory fake', async () => {
  const fake = new FakeElasticsearch();
  const adapter = new ElasticsearchSearch({ client: fake.client, index: 'messages' });
  await adapter.ensureIndex();
  return {
    search: adapter,
    seed: (messages) => adapter.index(messages),
    update: (message) => adapter.index([message]),
  };
});
