import { ServiceUnavailableError } from '../domain/errors.js';
import { isTransientDatabaseError } from '../db/errors.js';

// Redis answers these while it loads its AOF, fails over, or is full (a cluster: while a slot
// moves or a replica takes over): retry later.
const REDIS_REPLIES = /^(LOADING|READONLY|OOM|MASTERDOWN|CLUSTERDOWN|TRYAGAIN|BUSY|MOVED|ASK) /;
// A cluster client's own failures while nodes fail over: it gave up following redirections,
// or could reach no node to learn the slots from.
const REDIS_CLUSTER_FAILURES =
  /^(Too many Cluster redirections|None of startup nodes is available)/;

/**
 * Maps an unreachable or overloaded dependency to a 503 with Retry-After; anything else stays
 * a 500. Matching on names and codes keeps the HTTP layer free of driver imports.
 */
export function asDependencyFailure(err: unknown): ServiceUnavailableError | null {
  if (!(err instanceof Error)) return null;
  if (err.name.startsWith('Sequelize') && isTransientDatabaseError(err)) {
    return new ServiceUnavailableError('The database', 5, err);
  }
  if (
    err.name === 'MaxRetriesPerRequestError' ||
    err.message.includes('enableOfflineQueue') ||
    err.message === 'Connection is closed.' ||
    err.message === 'Command timed out' ||
    err.name === 'ClusterAllFailedError' ||
    REDIS_CLUSTER_FAILURES.test(err.message) ||
    (err.name === 'ReplyError' && REDIS_REPLIES.test(err.message))
  ) {
    return new ServiceUnavailableError('Redis', 2, err);
  }
  if (isTransientDatabaseError(err)) return new ServiceUnavailableError('A dependency', 5, err);
  return null;
}
