import {
  pino,
  type DestinationStream,
  type Logger,
  type LevelWithSilent,
  type LoggerOptions,
} from 'pino';

export type { Logger };

/** One root logger per program, created by its composition root and passed down. */
export function createLogger(
  program: string,
  level: LevelWithSilent,
  destination?: DestinationStream,
): Logger {
  const options: LoggerOptions = {
    level,
    base: { program },
    timestamp: pino.stdTimeFunctions.isoTime,
    formatters: { level: (label: string) => ({ level: label }) },
    serializers: { err: serializeError },
    redact: {
      paths: ['req.headers.authorization', 'req.headers.cookie', '*.password', '*.adminToken'],
      censor: '[redacted]',
    },
  };
  // stdout unless told otherwise (tests read the lines).
  return destination === undefined ? pino(options) : pino(options, destination);
}

// Driver errors carry what they were sent: ioredis puts every command's arguments on its
// errors (`command.args`: application tokens, message contents), Sequelize and mysql2 the SQL
// with its values, Elasticsearch the request and response bodies. So an error is logged from
// an allow-list of fields, never whole, and its message is scrubbed too (a MySQL message can
// quote a duplicate value; any message can quote a token).
const KEPT_FIELDS = ['code', 'errno', 'sqlState', 'status', 'statusCode', 'syscall'] as const;
const MAX_DEPTH = 3;
const UUID = /\b[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}\b/gi;
// A MySQL/MariaDB message quotes the offending value: "Duplicate entry '…' for key",
// "Incorrect string value: '…' for column".
const QUOTED_VALUE = /(entry|value:?|string value:?)\s+'(?:[^'\\]|\\.)*'/gi;

/** Keeps a token's first 8 characters, enough to correlate, never enough to use. */
function scrub(text: string): string {
  return text
    .replace(UUID, (token) => `${token.slice(0, 8)}-…`)
    .replace(QUOTED_VALUE, (_, word: string) => `${word} '[redacted]'`);
}

function serialize(err: Error, depth: number): Record<string, unknown> {
  const source = err as unknown as Record<string, unknown>;
  const out: Record<string, unknown> = {
    type: err.constructor?.name ?? 'Error',
    name: err.name,
    message: scrub(err.message),
  };
  if (typeof err.stack === 'string') out['stack'] = scrub(err.stack);
  for (const field of KEPT_FIELDS) {
    const value = source[field];
    if (typeof value === 'string') out[field] = scrub(value);
    else if (typeof value === 'number' || typeof value === 'boolean') out[field] = value;
  }
  // ioredis: the command's name says what failed; its arguments are the payload.
  const command = source['command'];
  if (typeof command === 'object' && command !== null) {
    const name = (command as { name?: unknown }).name;
    if (typeof name === 'string') out['command'] = name;
  }
  if (depth < MAX_DEPTH) {
    const cause = err.cause ?? source['original'] ?? source['parent'];
    if (cause instanceof Error) out['cause'] = serialize(cause, depth + 1);
    const nested = source['errors'] ?? source['previousErrors'];
    if (Array.isArray(nested)) {
      out['errors'] = nested
        .slice(0, 5)
        .map((e: unknown) => (e instanceof Error ? serialize(e, depth + 1) : scrubValue(e)));
    }
  }
  return out;
}

function scrubValue(value: unknown): unknown {
  return typeof value === 'string' ? scrub(value) : typeof value === 'number' ? value : '[value]';
}

/** The `err` serializer: an allow-list of fields of an error, scrubbed; strings scrubbed. */
export function serializeError(err: unknown): unknown {
  if (err instanceof Error) return serialize(err, 0);
  if (typeof err === 'string') return scrub(err);
  return err;
}
