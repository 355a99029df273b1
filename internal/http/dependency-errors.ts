import { ServiceUnavailableError } from '../domain/errors.js';

const DATABASE_ERRORS = new Set([
  'SequelizeConnectionError',
  'SequelizeConnectionRefusedError',
  'SequelizeConnectionTimedOutError',
  'SequelizeConnectionAcquireTimeoutError',
  'SequelizeHostNotFoundError',
  'SequelizeHostNotReachableError',
  'SequelizeAccessDeniedError',
  'SequelizeTimeoutError',
]);

const NETWORK_CODES = new Set(['ECONNREFUSED', 'ECONNRESET', 'ETIMEDOUT', 'EPIPE', 'EHOSTUNREACH']);

/**
 * Maps an unreachable dependency to a 503 with Retry-After; anything else stays a 500.
 * Matching on names and codes keeps the HTTP layer free of driver imports.
 */
export function asDependencyFailure(err: unknown): ServiceUnavailableError | null {
  if (!(err instanceof Error)) return null;
  const code = (err as { code?: unknown }).code;
  if (DATABASE_ERRORS.has(err.name)) return new ServiceUnavailableError('The database', 5, err);
  if (
    err.name === 'MaxRetriesPerRequestError' ||
    err.message.includes('enableOfflineQueue') ||
    err.message === 'Connection is closed.'
  ) {
    return new ServiceUnavailableError('Redis', 2, err);
  }
  if (typeof code === 'string' && NETWORK_CODES.has(code)) {
    return new ServiceUnavailableError('A dependency', 5, err);
  }
  return null;
}
