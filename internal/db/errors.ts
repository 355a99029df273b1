/** MySQL errors that retrying the same statement can never fix (bad data, broken references). */
const PERMANENT_ERRNOS = new Set([
  1048, // ER_BAD_NULL_ERROR
  1062, // ER_DUP_ENTRY (on a key the upserts do not expect)
  1264, // ER_WARN_DATA_OUT_OF_RANGE
  1366, // ER_TRUNCATED_WRONG_VALUE_FOR_FIELD
  1406, // ER_DATA_TOO_LONG
  1451, // ER_ROW_IS_REFERENCED_2
  1452, // ER_NO_REFERENCED_ROW_2
]);

/**
 * Whether a database failure is worth retrying as is: lost connections, timeouts, deadlocks
 * and lock waits are; constraint and data errors are not.
 */
export function isTransientDatabaseError(err: unknown): boolean {
  if (!(err instanceof Error)) return false;
  const original = (err as { original?: { errno?: unknown } }).original ?? err;
  const errno = (original as { errno?: unknown }).errno;
  if (typeof errno === 'number' && PERMANENT_ERRNOS.has(errno)) return false;
  return !['SequelizeValidationError', 'SequelizeUniqueConstraintError'].includes(err.name);
}
