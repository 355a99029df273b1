import type { Sequelize, Transaction } from 'sequelize';
import type { Registry } from 'prom-client';
import type { Config } from '../config/config.js';
import type { HealthCheck, SearchBackfill, SearchIndexer, SearchPort } from '../domain/ports.js';
import type { Logger } from '../log/logger.js';
import { createSearchMetrics } from './metrics.js';
import { MysqlSearch } from './mysql.js';
import { MysqlTrigramBackfill, MysqlTrigramIndexer } from './mysql-trigrams.js';
import { ElasticsearchSearch } from './elasticsearch/adapter.js';
import { createElasticsearchClient } from './elasticsearch/client.js';

export interface SearchBackend {
  readonly name: 'elasticsearch' | 'mysql';
  readonly port: SearchPort;
  /** Elasticsearch's bulk indexing, or the MySQL backend's trigram index. */
  readonly indexer: SearchIndexer;
  /** What the consumer's indexer loop runs while idle: the trigram backfill (MySQL only). */
  readonly backfill: SearchBackfill | null;
  readonly checks: readonly HealthCheck[];
  /** The MySQL search on another connection (a read replica's session); absent with Elasticsearch. */
  readonly inSession?: (sequelize: Sequelize, session: Transaction) => SearchPort;
  start(): Promise<void>;
  close(): Promise<void>;
}

/** Elasticsearch when ELASTICSEARCH_URL is set, otherwise the built-in MySQL search. */
export function createSearchBackend(
  config: Config,
  sequelize: Sequelize,
  registry: Registry,
  logger: Logger,
): SearchBackend {
  const metrics = createSearchMetrics(registry);
  if (config.elasticsearch === undefined) {
    const search = new MysqlSearch(sequelize, metrics);
    return {
      name: 'mysql',
      port: search,
      inSession: (other, session) => search.inSession(other, session),
      indexer: new MysqlTrigramIndexer(sequelize),
      backfill: new MysqlTrigramBackfill(sequelize),
      checks: [],
      start: () => Promise.resolve(),
      close: () => Promise.resolve(),
    };
  }
  const client = createElasticsearchClient(config.elasticsearch);
  const es = new ElasticsearchSearch({ client, index: config.elasticsearch.index, metrics });
  return {
    name: 'elasticsearch',
    port: es,
    indexer: es,
    backfill: null,
    checks: [es],
    // Creating the index is retried by the next start or reindex; serving must not wait on it.
    start: () =>
      es
        .ensureIndex()
        .catch((err: unknown) => logger.warn({ err }, 'could not ensure the search index yet')),
    close: () => client.close(),
  };
}
