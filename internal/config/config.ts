import { isIP } from 'node:net';
import { z } from 'zod';

// 0 binds a free port (tests read the bound port from the start-up log line).
const port = z.coerce.number().int().min(0).max(65535);
const positiveInt = z.coerce.number().int().positive();
const optionalString = z
  .string()
  .trim()
  .transform((value) => (value === '' ? undefined : value))
  .optional();
const url = (protocols: readonly string[]) =>
  z
    .string()
    .trim()
    .refine(
      (value) => {
        try {
          return protocols.includes(new URL(value).protocol);
        } catch {
          return false;
        }
      },
      `must be a URL with scheme ${protocols.join(' or ')}`,
    );

const schema = z.object({
  PORT: port.default(8080),
  METRICS_PORT: port.default(9090),
  CONSUMER_HTTP_PORT: port.default(9091),
  FLUSHER_HTTP_PORT: port.default(9092),
  ADMIN_TOKEN: optionalString.pipe(
    z.string().min(16, 'must be at least 16 characters when set').optional(),
  ),
  MYSQL_URL: url(['mysql:', 'mariadb:']).default('mysql://root@127.0.0.1:3306/chat_system'),
  MYSQL_POOL_MAX: positiveInt.default(10),
  // A read replica for the API's GETs and lists; unset: every read goes to MYSQL_URL.
  MYSQL_READ_URL: optionalString.pipe(url(['mysql:', 'mariadb:']).optional()),
  MYSQL_READ_WAIT_MS: z.coerce.number().int().min(0).max(10_000).default(100),
  // Record positions without reading a replica yet: the first step of enabling one safely.
  MYSQL_RECORD_POSITIONS: z
    .enum(['true', 'false'])
    .default('false')
    .transform((value) => value === 'true'),
  REDIS_URL: url(['redis:', 'rediss:']).default('redis://127.0.0.1:6379'),
  REDIS_KEY_PREFIX: z.string().default('cs:'),
  // Redis Cluster: seed nodes (host:port, comma-separated); when set, REDIS_URL is not used.
  REDIS_CLUSTER_NODES: optionalString.pipe(
    z
      .string()
      .transform((value) => value.split(',').map((node) => node.trim()))
      .pipe(
        z
          .array(
            z
              .string()
              .regex(/^(\[[0-9a-fA-F:.]+\]|[A-Za-z0-9.-]+):[0-9]{1,5}$/, 'must be host:port'),
          )
          .min(1),
      )
      .optional(),
  ),
  REDIS_USERNAME: optionalString,
  REDIS_PASSWORD: optionalString,
  REDIS_TLS: z
    .enum(['true', 'false'])
    .default('false')
    .transform((value) => value === 'true'),
  REDIS_TLS_CA_FILE: optionalString,
  // One URL, or a comma-separated list of a cluster's nodes, tried in turn on (re)connect.
  RABBITMQ_URL: z
    .string()
    .default('amqp://guest:guest@127.0.0.1:5672')
    .transform((value) => list(value))
    .pipe(z.array(url(['amqp:', 'amqps:'])).min(1, 'must name at least one amqp:// URL')),
  RABBITMQ_QUEUE: z.string().min(1).default('chat-system.writes'),
  RABBITMQ_WRITE_PARTITIONS: positiveInt.max(64).default(1),
  RABBITMQ_MAX_UNCONFIRMED: positiveInt.default(5_000),
  RABBITMQ_MAX_UNCONFIRMED_BYTES: positiveInt.default(32 * 1024 * 1024),
  RABBITMQ_ENVELOPE_MAX_EVENTS: positiveInt.max(10_000).default(100),
  RABBITMQ_ENVELOPE_MAX_BYTES: positiveInt.default(256 * 1024),
  RABBITMQ_ENVELOPE_LINGER_US: z.coerce.number().int().min(0).max(100_000).default(0),
  ELASTICSEARCH_URL: optionalString.pipe(url(['http:', 'https:']).optional()),
  ELASTICSEARCH_INDEX: z.string().min(1).default('chat-messages'),
  ELASTICSEARCH_USERNAME: optionalString,
  ELASTICSEARCH_PASSWORD: optionalString,
  LOG_LEVEL: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info'),
  SHUTDOWN_TIMEOUT_MS: positiveInt.default(10_000),
  IDEMPOTENCY_TTL_SECONDS: positiveInt.default(86_400),
  NUMBER_BLOCK_MIN: positiveInt.default(16),
  NUMBER_BLOCK_MAX: positiveInt.default(1_000),
  CREATE_DEADLINE_MS: positiveInt.min(500).default(5_000),
  CONSUMER_PREFETCH: positiveInt.max(65_535).default(2_000),
  CONSUMER_BATCH_SIZE: positiveInt.max(5_000).default(500),
  CONSUMER_BATCH_WAIT_MS: z.coerce.number().int().min(0).default(20),
  CONSUMER_BATCH_MAX_BYTES: positiveInt.default(4 * 1024 * 1024),
  CONSUMER_MAX_DELIVERIES: positiveInt.default(5),
  CONSUMER_DEAD_LETTER_CHECK_MS: positiveInt.default(15_000),
  SEARCH_INDEX_BATCH_SIZE: positiveInt.max(10_000).default(1_000),
  SEARCH_INDEX_INTERVAL_MS: positiveInt.default(500),
  PURGE_BATCH_SIZE: positiveInt.max(10_000).default(1_000),
  PURGE_INTERVAL_MS: positiveInt.default(1_000),
  FLUSH_INTERVAL_MS: positiveInt.default(60_000),
  FLUSH_CHUNK_SIZE: positiveInt.max(10_000).default(500),
  FLUSHER_LOCK: z.enum(['auto', 'kubernetes', 'redis', 'none']).default('auto'),
  FLUSHER_LOCK_NAME: z.string().min(1).default('chat-system-flusher'),
  FLUSHER_LOCK_TTL_SECONDS: positiveInt.default(30),
  POD_NAMESPACE: optionalString,
  POD_NAME: optionalString,
  KUBERNETES_SERVICE_HOST: optionalString,
  PUSHGATEWAY_URL: optionalString.pipe(url(['http:', 'https:']).optional()),
  // --- Live: event streams per chat, read-your-writes, the live page ---
  LIVE_HEARTBEAT_MS: positiveInt.default(15_000),
  LIVE_RETRY_MS: positiveInt.default(2_000),
  LIVE_MAX_STREAMS: positiveInt.default(10_000),
  LIVE_MAX_BUFFER_BYTES: positiveInt.default(1024 * 1024),
  LIVE_LOG_MIN_EVENTS: positiveInt.default(1_000),
  LIVE_LOG_MIN_AGE_SECONDS: positiveInt.default(86_400),
  LIVE_PENDING_TTL_SECONDS: positiveInt.default(600),
  LIVE_WRITE_WAIT_MS: positiveInt.default(5_000),
  LIVE_PAGE_ENABLED: z
    .enum(['true', 'false'])
    .default('true')
    .transform((value) => value === 'true'),
  // --- Edge limits: HTTP timeouts, connection cap, driver timeouts, rate limits, CORS ---
  HTTP_HEADERS_TIMEOUT_MS: positiveInt.default(10_000),
  HTTP_REQUEST_TIMEOUT_MS: positiveInt.default(30_000),
  HTTP_KEEP_ALIVE_TIMEOUT_MS: positiveInt.default(65_000),
  HTTP_SOCKET_TIMEOUT_MS: positiveInt.default(120_000),
  HTTP_MAX_CONNECTIONS: positiveInt.default(4_096),
  REDIS_COMMAND_TIMEOUT_MS: positiveInt.default(2_000),
  MYSQL_QUERY_TIMEOUT_MS: positiveInt.default(30_000),
  RATE_LIMIT_ENABLED: z
    .enum(['true', 'false'])
    .default('true')
    .transform((value) => value === 'true'),
  RATE_LIMIT_APPLICATIONS_MAX: z.coerce.number().int().min(0).default(20),
  RATE_LIMIT_APPLICATIONS_WINDOW_SECONDS: positiveInt.default(60),
  RATE_LIMIT_CREATES_MAX: z.coerce.number().int().min(0).default(6_000),
  RATE_LIMIT_CREATES_WINDOW_SECONDS: positiveInt.default(60),
  TRUSTED_PROXIES: z
    .string()
    .default('')
    .transform((value) => list(value))
    .refine((cidrs) => cidrs.every(isCidr), 'must be a comma-separated list of IPs or CIDRs'),
  CORS_ALLOWED_ORIGINS: z
    .string()
    .default('')
    .transform((value) => list(value))
    .refine(
      (origins) => origins.every((o) => o === '*' || isOrigin(o)),
      'must be * or a comma-separated list of origins (scheme://host[:port])',
    ),
  // --- end of edge limits ---
});

type Env = z.infer<typeof schema>;

/** Every environment variable the programs read: the configuration contract. */
export const CONFIG_VARIABLES: readonly string[] = Object.keys(schema.shape);

export interface Config {
  readonly http: { readonly port: number; readonly metricsPort: number };
  readonly consumerHttpPort: number;
  readonly flusherHttpPort: number;
  readonly adminToken: string | undefined;
  readonly mysql: {
    readonly url: string;
    readonly poolMax: number;
    /**
     * A replica of MYSQL_URL (GTIDs on): the API reads from it once it applied the
     * application's writes, waiting at most `readWaitMs`, else reads the primary. Every program
     * that writes records positions while it is set.
     */
    readonly readUrl: string | null;
    readonly readWaitMs: number;
    /**
     * Writers record each application's position (MYSQL_RECORD_POSITIONS, or implied by
     * MYSQL_READ_URL): on everywhere before any API reads a replica.
     */
    readonly recordPositions: boolean;
  };
  readonly redis: RedisSettings;
  readonly rabbitmq: {
    /** The first of `urls`, for tools that connect once. */
    readonly url: string;
    /** Every node's URL, tried in turn on each (re)connect. */
    readonly urls: readonly string[];
    readonly queue: string;
    /** Write queues creates are spread over (1: the base queue alone, as before). */
    readonly writePartitions: number;
    /** Bound on the API's publishes awaiting a confirm, by count and payload bytes. */
    readonly maxUnconfirmed: number;
    readonly maxUnconfirmedBytes: number;
    /** Group commit: events per envelope, its bytes, and how long it may wait for more. */
    readonly envelopeMaxEvents: number;
    readonly envelopeMaxBytes: number;
    readonly envelopeLingerUs: number;
  };
  readonly elasticsearch:
    | {
        readonly url: string;
        readonly index: string;
        readonly username: string | undefined;
        readonly password: string | undefined;
      }
    | undefined;
  readonly logLevel: Env['LOG_LEVEL'];
  readonly shutdownTimeoutMs: number;
  readonly idempotencyTtlSeconds: number;
  readonly numbering: {
    readonly blockMin: number;
    readonly blockMax: number;
    readonly createDeadlineMs: number;
  };
  readonly consumer: {
    readonly prefetch: number;
    readonly batchSize: number;
    readonly batchWaitMs: number;
    readonly batchMaxBytes: number;
    readonly maxDeliveries: number;
    /** How often the dead-letter queue's depth is read for its gauge. */
    readonly deadLetterCheckMs: number;
  };
  /** The consumer's loop that drains search_outbox into the search index. */
  readonly searchIndex: {
    readonly batchSize: number;
    /** Pause between polls while the outbox is empty. */
    readonly intervalMs: number;
  };
  /** The consumer's loop that removes the rows of deleted chats and applications. */
  readonly purge: {
    /** Rows removed per statement (each its own short transaction). */
    readonly batchSize: number;
    /** Pause between polls while nothing is queued for purging. */
    readonly intervalMs: number;
  };
  readonly flusher: {
    readonly intervalMs: number;
    readonly chunkSize: number;
    readonly lock: Env['FLUSHER_LOCK'];
    readonly lockName: string;
    readonly lockTtlSeconds: number;
    readonly namespace: string | undefined;
    readonly identity: string | undefined;
    readonly inCluster: boolean;
    readonly pushgatewayUrl: string | undefined;
  };
  readonly live: {
    /** A comment on every open stream this often, so proxies and clients see it alive. */
    readonly heartbeatMs: number;
    /** The `retry:` a stream tells its client to wait before reconnecting. */
    readonly retryMs: number;
    /** Open streams per process; beyond, 503. */
    readonly maxStreams: number;
    /** A stream whose unread bytes pass this is cut (the client resumes). */
    readonly maxBufferBytes: number;
    /** A chat's log keeps at least its last `minEvents` or `minAgeMs`, whichever is more. */
    readonly minEvents: number;
    readonly minAgeMs: number;
    /** How long a create's representation is kept for reads before it is persisted, at most. */
    readonly pendingTtlMs: number;
    /** How long a PUT/PATCH of a record not persisted yet waits for it. */
    readonly writeWaitMs: number;
    /** `GET /` serves the live page. */
    readonly pageEnabled: boolean;
  };
  // Edge limits (HTTP timeouts, connection cap, driver timeouts, rate limits, CORS).
  readonly limits: EdgeLimits;
}

export interface RedisSettings {
  /** Standalone Redis (used when `cluster` is absent). */
  readonly url: string;
  readonly keyPrefix: string;
  /** Redis Cluster: seed nodes and what every node is reached with. */
  readonly cluster?: {
    readonly nodes: readonly { readonly host: string; readonly port: number }[];
    readonly username?: string;
    readonly password?: string;
    readonly tls: boolean;
    /** PEM file of the CA that signed the nodes' certificates (else the system's CAs). */
    readonly tlsCaFile?: string;
  };
}

export interface EdgeLimits {
  readonly http: {
    readonly headersTimeoutMs: number;
    readonly requestTimeoutMs: number;
    readonly keepAliveTimeoutMs: number;
    readonly socketTimeoutMs: number;
    readonly maxConnections: number;
  };
  readonly redisCommandTimeoutMs: number;
  readonly mysqlQueryTimeoutMs: number;
  readonly rateLimit: {
    readonly enabled: boolean;
    /** 0 turns one limit off. */
    readonly applications: { readonly max: number; readonly windowSeconds: number };
    readonly creates: { readonly max: number; readonly windowSeconds: number };
  };
  readonly trustedProxies: readonly string[];
  /** Empty: no cross-origin access. `*`: any origin. */
  readonly corsAllowedOrigins: readonly string[];
}

function parseNode(node: string): { host: string; port: number } {
  const at = node.lastIndexOf(':');
  return { host: node.slice(0, at).replace(/^\[(.*)\]$/, '$1'), port: Number(node.slice(at + 1)) };
}

function list(value: string): string[] {
  return value
    .split(',')
    .map((item) => item.trim())
    .filter((item) => item !== '');
}

function isCidr(value: string): boolean {
  const [address, bits, ...rest] = value.split('/');
  const family = isIP(address ?? '');
  if (family === 0 || rest.length > 0) return false;
  if (bits === undefined) return true;
  return /^[0-9]{1,3}$/.test(bits) && Number(bits) <= (family === 4 ? 32 : 128);
}

function isOrigin(value: string): boolean {
  try {
    const parsed = new URL(value);
    return ['http:', 'https:'].includes(parsed.protocol) && parsed.origin === value;
  } catch {
    return false;
  }
}

export class ConfigError extends Error {
  constructor(readonly problems: readonly string[]) {
    super(`Invalid configuration:\n  ${problems.join('\n  ')}`);
    this.name = 'ConfigError';
  }
}

/** Parses every variable at once and reports every bad one, so start-up fails fast and fully. */
export function loadConfig(env: NodeJS.ProcessEnv = process.env): Config {
  const parsed = schema.safeParse(env);
  if (!parsed.success) {
    throw new ConfigError(
      parsed.error.issues.map((issue) => `${issue.path.join('.')}: ${issue.message}`),
    );
  }
  const e = parsed.data;
  return {
    http: { port: e.PORT, metricsPort: e.METRICS_PORT },
    consumerHttpPort: e.CONSUMER_HTTP_PORT,
    flusherHttpPort: e.FLUSHER_HTTP_PORT,
    adminToken: e.ADMIN_TOKEN,
    mysql: {
      url: e.MYSQL_URL,
      poolMax: e.MYSQL_POOL_MAX,
      readUrl: e.MYSQL_READ_URL ?? null,
      readWaitMs: e.MYSQL_READ_WAIT_MS,
      recordPositions: e.MYSQL_RECORD_POSITIONS || e.MYSQL_READ_URL !== undefined,
    },
    redis: {
      url: e.REDIS_URL,
      keyPrefix: e.REDIS_KEY_PREFIX,
      ...(e.REDIS_CLUSTER_NODES === undefined
        ? {}
        : {
            cluster: {
              nodes: e.REDIS_CLUSTER_NODES.map(parseNode),
              ...(e.REDIS_USERNAME === undefined ? {} : { username: e.REDIS_USERNAME }),
              ...(e.REDIS_PASSWORD === undefined ? {} : { password: e.REDIS_PASSWORD }),
              tls: e.REDIS_TLS,
              ...(e.REDIS_TLS_CA_FILE === undefined ? {} : { tlsCaFile: e.REDIS_TLS_CA_FILE }),
            },
          }),
    },
    rabbitmq: {
      url: e.RABBITMQ_URL[0]!,
      urls: e.RABBITMQ_URL,
      queue: e.RABBITMQ_QUEUE,
      writePartitions: e.RABBITMQ_WRITE_PARTITIONS,
      maxUnconfirmed: e.RABBITMQ_MAX_UNCONFIRMED,
      maxUnconfirmedBytes: e.RABBITMQ_MAX_UNCONFIRMED_BYTES,
      envelopeMaxEvents: e.RABBITMQ_ENVELOPE_MAX_EVENTS,
      envelopeMaxBytes: e.RABBITMQ_ENVELOPE_MAX_BYTES,
      envelopeLingerUs: e.RABBITMQ_ENVELOPE_LINGER_US,
    },
    elasticsearch:
      e.ELASTICSEARCH_URL === undefined
        ? undefined
        : {
            url: e.ELASTICSEARCH_URL,
            index: e.ELASTICSEARCH_INDEX,
            username: e.ELASTICSEARCH_USERNAME,
            password: e.ELASTICSEARCH_PASSWORD,
          },
    logLevel: e.LOG_LEVEL,
    shutdownTimeoutMs: e.SHUTDOWN_TIMEOUT_MS,
    idempotencyTtlSeconds: e.IDEMPOTENCY_TTL_SECONDS,
    numbering: {
      blockMin: e.NUMBER_BLOCK_MIN,
      blockMax: Math.max(e.NUMBER_BLOCK_MIN, e.NUMBER_BLOCK_MAX),
      createDeadlineMs: e.CREATE_DEADLINE_MS,
    },
    consumer: {
      prefetch: e.CONSUMER_PREFETCH,
      batchSize: e.CONSUMER_BATCH_SIZE,
      batchWaitMs: e.CONSUMER_BATCH_WAIT_MS,
      batchMaxBytes: e.CONSUMER_BATCH_MAX_BYTES,
      maxDeliveries: e.CONSUMER_MAX_DELIVERIES,
      deadLetterCheckMs: e.CONSUMER_DEAD_LETTER_CHECK_MS,
    },
    searchIndex: {
      batchSize: e.SEARCH_INDEX_BATCH_SIZE,
      intervalMs: e.SEARCH_INDEX_INTERVAL_MS,
    },
    purge: {
      batchSize: e.PURGE_BATCH_SIZE,
      intervalMs: e.PURGE_INTERVAL_MS,
    },
    flusher: {
      intervalMs: e.FLUSH_INTERVAL_MS,
      chunkSize: e.FLUSH_CHUNK_SIZE,
      lock: e.FLUSHER_LOCK,
      lockName: e.FLUSHER_LOCK_NAME,
      lockTtlSeconds: e.FLUSHER_LOCK_TTL_SECONDS,
      namespace: e.POD_NAMESPACE,
      identity: e.POD_NAME,
      inCluster: e.KUBERNETES_SERVICE_HOST !== undefined,
      pushgatewayUrl: e.PUSHGATEWAY_URL,
    },
    live: {
      heartbeatMs: e.LIVE_HEARTBEAT_MS,
      retryMs: e.LIVE_RETRY_MS,
      maxStreams: e.LIVE_MAX_STREAMS,
      maxBufferBytes: e.LIVE_MAX_BUFFER_BYTES,
      minEvents: e.LIVE_LOG_MIN_EVENTS,
      minAgeMs: e.LIVE_LOG_MIN_AGE_SECONDS * 1_000,
      pendingTtlMs: e.LIVE_PENDING_TTL_SECONDS * 1_000,
      writeWaitMs: e.LIVE_WRITE_WAIT_MS,
      pageEnabled: e.LIVE_PAGE_ENABLED,
    },
    limits: {
      http: {
        headersTimeoutMs: e.HTTP_HEADERS_TIMEOUT_MS,
        requestTimeoutMs: e.HTTP_REQUEST_TIMEOUT_MS,
        keepAliveTimeoutMs: e.HTTP_KEEP_ALIVE_TIMEOUT_MS,
        socketTimeoutMs: e.HTTP_SOCKET_TIMEOUT_MS,
        maxConnections: e.HTTP_MAX_CONNECTIONS,
      },
      redisCommandTimeoutMs: e.REDIS_COMMAND_TIMEOUT_MS,
      mysqlQueryTimeoutMs: e.MYSQL_QUERY_TIMEOUT_MS,
      rateLimit: {
        enabled: e.RATE_LIMIT_ENABLED,
        applications: {
          max: e.RATE_LIMIT_APPLICATIONS_MAX,
          windowSeconds: e.RATE_LIMIT_APPLICATIONS_WINDOW_SECONDS,
        },
        creates: {
          max: e.RATE_LIMIT_CREATES_MAX,
          windowSeconds: e.RATE_LIMIT_CREATES_WINDOW_SECONDS,
        },
      },
      trustedProxies: e.TRUSTED_PROXIES,
      corsAllowedOrigins: e.CORS_ALLOWED_ORIGINS,
    },
  };
}
