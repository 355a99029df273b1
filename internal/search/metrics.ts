import { Counter, Histogram, type Registry } from 'prom-client';

export type SearchBackend = 'elasticsearch' | 'mysql';

export interface SearchMetrics {
  readonly searchDuration: Histogram<'backend' | 'outcome'>;
  /** Counts documents, not requests, so a failed batch of 500 weighs 500. */
  readonly indexErrors: Counter<'reason'>;
  readonly bulkSize: Histogram;
}

export function createSearchMetrics(registry: Registry): SearchMetrics {
  return {
    searchDuration: new Histogram({
      name: 'search_duration_seconds',
      help: 'Duration of message searches by backend and outcome.',
      labelNames: ['backend', 'outcome'] as const,
      buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5],
      registers: [registry],
    }),
    indexErrors: new Counter({
      name: 'search_index_errors_total',
      help: 'Messages that could not be written to the search index.',
      labelNames: ['reason'] as const,
      registers: [registry],
    }),
    bulkSize: new Histogram({
      name: 'search_bulk_size',
      help: 'Number of messages per bulk indexing request.',
      buckets: [1, 5, 10, 25, 50, 100, 250, 500, 1000, 2500, 5000],
      registers: [registry],
    }),
  };
}
