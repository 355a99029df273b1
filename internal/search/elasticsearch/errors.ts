import { BadRequestError, ServiceUnavailableError } from '../../domain/errors.js';
import { MAX_RESULT_WINDOW } from './mapping.js';

/**
 * Elasticsearch is unreachable, timing out, failing (5xx) or shedding load (429): retry later.
 * An AppError, so the API answers 503 with Retry-After and the consumer requeues its batch.
 */
export class SearchUnavailableError extends ServiceUnavailableError {
  readonly retryable = true;

  constructor(cause: unknown) {
    super('Search', 5, cause);
  }
}

export interface BulkFailure {
  readonly id: string;
  readonly status: number;
  readonly type: string;
  readonly reason: string;
}

/**
 * Some documents of a bulk request were refused. `retryable` when any was 429 or 5xx: retrying
 * the whole (idempotent) bulk lands those, after which only the permanent refusals remain and
 * the error stops being retryable. Dropping the batch at the first mixed failure would lose
 * the documents that were only throttled.
 */
export class SearchIndexingError extends Error {
  readonly retryable: boolean;

  constructor(
    readonly failures: readonly BulkFailure[],
    readonly attempted: number,
  ) {
    const first = failures
      .slice(0, 3)
      .map((f) => `${f.id}: ${f.status} ${f.type}: ${f.reason}`)
      .join('; ');
    super(`${failures.length} of ${attempted} documents were not indexed (${first})`);
    this.name = 'SearchIndexingError';
    this.retryable = failures.some((f) => isRetryableStatus(f.status));
  }
}

export class SearchPageTooDeepError extends BadRequestError {
  constructor() {
    super(
      `Search results can be paged up to ${MAX_RESULT_WINDOW} hits; refine the query.`,
      'search_page_too_deep',
    );
  }
}

function isRetryableStatus(status: number): boolean {
  return status === 429 || status >= 500;
}

/**
 * The client's error classes exist twice (its CommonJS and ES module builds), so errors are
 * recognised by name rather than `instanceof`.
 */
export function isUnavailable(error: unknown): boolean {
  if (!(error instanceof Error)) return false;
  switch (error.name) {
    case 'ConnectionError':
    case 'TimeoutError':
    case 'NoLivingConnectionsError':
      return true;
    case 'ResponseError': {
      // Bad credentials and a missing index (created again by the next start or write) heal
      // without the request changing: retry them rather than drop documents or answer 500.
      const status = statusOf(error) ?? 0;
      return (
        isRetryableStatus(status) ||
        status === 401 ||
        status === 403 ||
        errorType(error) === 'index_not_found_exception'
      );
    }
    default:
      return false;
  }
}

export function statusOf(error: unknown): number | undefined {
  if (typeof error !== 'object' || error === null || !('statusCode' in error)) return undefined;
  return typeof error.statusCode === 'number' ? error.statusCode : undefined;
}

/** The `error.type` of an Elasticsearch response error, e.g. `resource_already_exists_exception`. */
export function errorType(error: unknown): string | undefined {
  if (typeof error !== 'object' || error === null || !('body' in error)) return undefined;
  const body: unknown = error.body;
  if (typeof body !== 'object' || body === null || !('error' in body)) return undefined;
  const cause: unknown = body.error;
  if (typeof cause !== 'object' || cause === null || !('type' in cause)) return undefined;
  return typeof cause.type === 'string' ? cause.type : undefined;
}

/** Wraps transient failures in SearchUnavailableError and passes everything else through. */
export function toSearchError(error: unknown): unknown {
  return isUnavailable(error) ? new SearchUnavailableError(error) : error;
}

/** Runs one client call, translating its transient failures. */
export async function withSearchErrors<T>(request: () => Promise<T>): Promise<T> {
  try {
    return await request();
  } catch (error) {
    throw toSearchError(error);
  }
}
