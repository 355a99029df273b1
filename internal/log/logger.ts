import { pino, type Logger, type LevelWithSilent } from 'pino';

export type { Logger };

/** One root logger per program, created by its composition root and passed down. */
export function createLogger(program: string, level: LevelWithSilent): Logger {
  return pino({
    level,
    base: { program },
    timestamp: pino.stdTimeFunctions.isoTime,
    formatters: { level: (label) => ({ level: label }) },
    serializers: { err: serializeError },
    redact: {
      paths: ['req.headers.authorization', 'req.headers.cookie', '*.password', '*.adminToken'],
      censor: '[redacted]',
    },
  });
}

// Database errors carry the failed SQL with its values inlined (application tokens, message
// contents) in these fields; the message and the error code are enough to act on.
const SQL_FIELDS = ['sql', 'parameters', 'original', 'parent', 'sqlMessage'] as const;

export function serializeError(err: unknown): unknown {
  if (!(err instanceof Error)) return err;
  const serialized = pino.stdSerializers.err(err) as unknown as Record<string, unknown>;
  for (const field of SQL_FIELDS) delete serialized[field];
  const cause = serialized['cause'];
  if (typeof cause === 'object' && cause !== null) {
    for (const field of SQL_FIELDS) delete (cause as Record<string, unknown>)[field];
  }
  return serialized;
}
