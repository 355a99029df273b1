import type { Client, estypes } from '@elastic/elasticsearch';
import type {
  HealthCheck,
  IndexedMessage,
  SearchHit,
  SearchIndexer,
  SearchPort,
  SearchScope,
} from '../../domain/ports.js';
import type { SearchMetrics } from '../metrics.js';
import { bulkIndex } from './bulk.js';
import {
  SearchIndexingError,
  SearchPageTooDeepError,
  SearchUnavailableError,
  errorType,
  toSearchError,
  withSearchErrors,
} from './errors.js';
import { MAX_RESULT_WINDOW, indexDefinition } from './mapping.js';
import { buildSearchRequest, type SearchPage } from './query.js';
import { chatKey } from './document.js';

export interface ElasticsearchSearchOptions {
  readonly client: Client;
  /** The alias every read and write goes through; physical indices sit behind it. */
  readonly index: string;
  readonly metrics?: SearchMetrics;
  /** Refresh policy of writes; tests use `true` or `'wait_for'` to read their own writes. */
  readonly refresh?: estypes.Refresh;
  /** Timeout of the readiness check. */
  readonly pingTimeoutMs?: number;
}

interface HitSource {
  readonly number?: unknown;
  readonly content?: unknown;
}

/** The first physical index behind `alias`; reindexing later replaces it with `<alias>-v<ms>`. */
function initialIndexName(alias: string): string {
  return `${alias}-v1`;
}

export class ElasticsearchSearch implements SearchPort, SearchIndexer, HealthCheck {
  readonly name = 'elasticsearch';
  readonly #client: Client;
  readonly #alias: string;
  readonly #metrics: SearchMetrics | undefined;
  readonly #refresh: estypes.Refresh | undefined;
  readonly #pingTimeoutMs: number;

  constructor(options: ElasticsearchSearchOptions) {
    this.#client = options.client;
    this.#alias = options.index;
    this.#metrics = options.metrics;
    this.#refresh = options.refresh;
    this.#pingTimeoutMs = options.pingTimeoutMs ?? 2_000;
  }

  /**
   * Creates `<alias>-v1` behind the alias unless the alias exists. Safe to run from many
   * processes at once: the index and its alias are created in one step, and the loser of a race
   * sees resource_already_exists_exception.
   */
  async ensureIndex(): Promise<void> {
    if (await this.#aliasExists()) return;
    if (await withSearchErrors(() => this.#client.indices.exists({ index: this.#alias }))) {
      throw new Error(
        `Elasticsearch index "${this.#alias}" is a concrete index, not an alias; ` +
          'delete it (it was probably auto-created) and restart, or run a reindex.',
      );
    }
    try {
      await this.#client.indices.create({
        index: initialIndexName(this.#alias),
        ...indexDefinition(),
        aliases: { [this.#alias]: { is_write_index: true } },
      });
    } catch (error) {
      if (errorType(error) !== 'resource_already_exists_exception') throw toSearchError(error);
      if (!(await this.#aliasExists())) {
        throw new Error(
          `Elasticsearch index "${initialIndexName(this.#alias)}" exists without the alias ` +
            `"${this.#alias}"; add the alias or run a reindex.`,
          { cause: error },
        );
      }
    }
  }

  /** Readiness: throws SearchUnavailableError unless the alias answers in time. */
  async ping(): Promise<void> {
    let exists: boolean;
    try {
      exists = await this.#client.indices.existsAlias(
        { name: this.#alias },
        { requestTimeout: this.#pingTimeoutMs, maxRetries: 0 },
      );
    } catch (error) {
      throw new SearchUnavailableError(error);
    }
    if (!exists) {
      throw new SearchUnavailableError(new Error(`Alias "${this.#alias}" does not exist.`));
    }
  }

  check(): Promise<void> {
    return this.ping();
  }

  async search(
    scope: SearchScope,
    terms: readonly string[],
    page: SearchPage,
  ): Promise<SearchHit[]> {
    if (
      !Number.isInteger(page.limit) ||
      page.limit < 1 ||
      !Number.isInteger(page.offset) ||
      page.offset < 0
    ) {
      throw new RangeError(`Invalid search page ${JSON.stringify(page)}.`);
    }
    if (terms.length === 0) return [];
    if (page.offset + page.limit > MAX_RESULT_WINDOW) throw new SearchPageTooDeepError();
    const stopTimer = this.#metrics?.searchDuration.startTimer({ backend: 'elasticsearch' });
    try {
      const response = await this.#client.search<HitSource>(
        buildSearchRequest(this.#alias, scope, terms, page),
      );
      const hits = response.hits.hits.map(toHit);
      stopTimer?.({ outcome: 'ok' });
      return hits;
    } catch (error) {
      stopTimer?.({ outcome: 'error' });
      throw toSearchError(error);
    }
  }

  /**
   * If the alias is missing (Elasticsearch was down when this process started), creates it and
   * retries once, so writes heal without a restart and never land in an auto-created index.
   */
  async index(messages: readonly IndexedMessage[]): Promise<void> {
    if (messages.length === 0) return;
    this.#metrics?.bulkSize.observe(messages.length);
    try {
      try {
        await this.#bulk(messages);
      } catch (error) {
        if (!isMissingAlias(error)) throw error;
        await this.ensureIndex();
        await this.#bulk(messages);
      }
    } catch (error) {
      this.#countFailure(error, messages.length);
      throw error;
    }
  }

  /** Deleted messages: their documents go (a missing one is fine). */
  async remove(messages: readonly IndexedMessage[]): Promise<void> {
    if (messages.length === 0) return;
    try {
      await this.#bulk(messages, 'delete');
    } catch (error) {
      this.#countFailure(error, messages.length);
      throw error;
    }
  }

  /** A purged chat (routed to its one shard) or application: every document of it goes. */
  async removeScope(scope: { applicationToken: string; chatNumber?: number }): Promise<void> {
    const filter: estypes.QueryDslQueryContainer[] = [
      { term: { application_token: scope.applicationToken } },
    ];
    if (scope.chatNumber !== undefined) filter.push({ term: { chat_number: scope.chatNumber } });
    await withSearchErrors(() =>
      this.#client.deleteByQuery({
        index: this.#alias,
        query: { bool: { filter } },
        conflicts: 'proceed',
        ...(scope.chatNumber === undefined
          ? {}
          : {
              routing: chatKey({
                applicationToken: scope.applicationToken,
                chatNumber: scope.chatNumber,
              }),
            }),
        ...(this.#refresh === undefined ? {} : { refresh: true }),
      }),
    );
  }

  async #bulk(messages: readonly IndexedMessage[], action: 'index' | 'delete' = 'index') {
    await bulkIndex(
      this.#client,
      {
        index: this.#alias,
        requireAlias: true,
        ...(this.#refresh === undefined ? {} : { refresh: this.#refresh }),
      },
      messages,
      action,
    );
  }

  #aliasExists(): Promise<boolean> {
    return withSearchErrors(() => this.#client.indices.existsAlias({ name: this.#alias }));
  }

  #countFailure(error: unknown, attempted: number): void {
    if (this.#metrics === undefined) return;
    if (error instanceof SearchIndexingError) {
      this.#metrics.indexErrors.inc(
        { reason: error.retryable ? 'unavailable' : 'rejected' },
        error.failures.length,
      );
    } else {
      const reason = error instanceof SearchUnavailableError ? 'unavailable' : 'rejected';
      this.#metrics.indexErrors.inc({ reason }, attempted);
    }
  }
}

function isMissingAlias(error: unknown): boolean {
  return (
    error instanceof SearchIndexingError &&
    error.failures.every((failure) => failure.type === 'index_not_found_exception')
  );
}

function toHit(hit: estypes.SearchHit<HitSource>): SearchHit {
  const number = hit._source?.number;
  const content = hit._source?.content;
  if (typeof number !== 'number' || typeof content !== 'string') {
    throw new Error(`Search hit ${hit._id ?? '?'} lacks number or content.`);
  }
  return typeof hit._score === 'number'
    ? { number, content, score: hit._score }
    : { number, content };
}
