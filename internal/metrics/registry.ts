import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';
import { DEAD_LETTER_CODES } from '../domain/dead-letter.js';
import type { OutboxLag } from '../domain/ports.js';

/** A registry per program, never prom-client's global default one. */
export function createRegistry(program: string): Registry {
  const registry = new Registry();
  registry.setDefaultLabels({ program });
  collectDefaultMetrics({ register: registry });
  return registry;
}

const LATENCY_BUCKETS = [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5];

export function createHttpMetrics(registry: Registry) {
  return {
    requests: new Counter({
      name: 'http_requests_total',
      help: 'HTTP requests by method, route template and status.',
      labelNames: ['method', 'route', 'status'] as const,
      registers: [registry],
    }),
    duration: new Histogram({
      name: 'http_request_duration_seconds',
      help: 'HTTP request duration by method, route template and status.',
      labelNames: ['method', 'route', 'status'] as const,
      buckets: LATENCY_BUCKETS,
      registers: [registry],
    }),
  };
}
export type HttpMetrics = ReturnType<typeof createHttpMetrics>;

export function createApiMetrics(registry: Registry) {
  return {
    mysqlReads: new Counter({
      name: 'mysql_reads_total',
      help: 'GETs and lists read from MySQL, by route: replica, or primary and why (MYSQL_READ_URL set).',
      labelNames: ['route'] as const,
      registers: [registry],
    }),
    creates: new Counter({
      name: 'chat_creates_total',
      help: 'Accepted creates by type (application, chat, message).',
      labelNames: ['type'] as const,
      registers: [registry],
    }),
    publishConfirm: new Histogram({
      name: 'queue_publish_confirm_seconds',
      help: 'Time from publish to broker confirm.',
      buckets: LATENCY_BUCKETS,
      registers: [registry],
    }),
    publishFailures: new Counter({
      name: 'queue_publish_failures_total',
      help: 'Accepted publishes that ended without a confirm (answered 503).',
      registers: [registry],
    }),
    publishRefusals: new Counter({
      name: 'queue_publish_refusals_total',
      help: 'Publishes refused before anything was sent (answered 503 broker_unavailable), by reason.',
      labelNames: ['reason'] as const,
      registers: [registry],
    }),
    partitionEvents: new Counter({
      name: 'queue_partition_events_total',
      help: 'Events written to each write queue (RABBITMQ_WRITE_PARTITIONS), fences included.',
      labelNames: ['queue'] as const,
      registers: [registry],
    }),
    publishEnvelopeEvents: new Histogram({
      name: 'queue_publish_envelope_events',
      help: 'Events carried by each message written to the queue (1: a plain event message).',
      buckets: [1, 2, 4, 8, 16, 32, 64, 128, 256],
      registers: [registry],
    }),
    republishes: new Counter({
      name: 'queue_republishes_total',
      help: 'Events sent again after a lost channel, a nack, a return or a slow confirm.',
      registers: [registry],
    }),
    idempotentReplays: new Counter({
      name: 'idempotent_replays_total',
      help: 'Creates answered from an Idempotency-Key record.',
      labelNames: ['type'] as const,
      registers: [registry],
    }),
    revalidations: new Counter({
      name: 'numbering_revalidations_total',
      help: 'Numbering state reloaded from MySQL ceilings: an application after Redis lost or rolled back state, or a chat on first use since.',
      labelNames: ['level'] as const,
      registers: [registry],
    }),
    rateLimited: new Counter({
      name: 'http_rate_limited_total',
      help: 'Requests refused with 429, by rate limit rule (applications, creates).',
      labelNames: ['rule'] as const,
      registers: [registry],
    }),
    reservations: new Counter({
      name: 'numbering_reservations_total',
      help: 'Blocks of numbers reserved in MySQL (the only MySQL write on the create path).',
      labelNames: ['scope'] as const,
      registers: [registry],
    }),
    epochs: new Counter({
      name: 'numbering_epochs_total',
      help: 'New numbering epochs begun by this process: Redis state found new, lost or replaced.',
      registers: [registry],
    }),
    deletes: new Counter({
      name: 'chat_deletes_total',
      help: 'Deletes answered 204, by type (application, chat, message).',
      labelNames: ['type'] as const,
      registers: [registry],
    }),
    pendingChats: new Counter({
      name: 'numbering_pending_chat_total',
      help: 'Creates answered 503 chat_pending: the chat may still be queued after a numbering recovery.',
      registers: [registry],
    }),
  };
}

export function createConsumerMetrics(registry: Registry) {
  const metrics = {
    batchSize: new Histogram({
      name: 'consumer_batch_size',
      help: 'Events per persisted batch (an envelope counts its events).',
      buckets: [1, 5, 10, 25, 50, 100, 250, 500, 1000, 2500],
      registers: [registry],
    }),
    batchDuration: new Histogram({
      name: 'consumer_batch_duration_seconds',
      help: 'Time to persist, mark and index one batch.',
      buckets: LATENCY_BUCKETS,
      registers: [registry],
    }),
    persisted: new Counter({
      name: 'consumer_messages_total',
      help: 'Queued writes handled, by event type and outcome.',
      labelNames: ['type', 'outcome'] as const,
      registers: [registry],
    }),
    redeliveries: new Counter({
      name: 'consumer_redeliveries_total',
      help: 'Deliveries flagged as redelivered by the broker.',
      registers: [registry],
    }),
    deadLetters: new Counter({
      name: 'consumer_dead_letters_total',
      help: 'Messages sent to the dead-letter queue, by reason.',
      labelNames: ['reason'] as const,
      registers: [registry],
    }),
    retries: new Counter({
      name: 'consumer_batch_retries_total',
      help: 'Batch attempts that failed with a transient error and were retried.',
      registers: [registry],
    }),
    queueDepth: new Gauge({
      name: 'consumer_write_queue_messages',
      help: 'Ready messages in each write queue (partitions included), as last read.',
      labelNames: ['queue'] as const,
      registers: [registry],
    }),
    queueLag: new Gauge({
      name: 'consumer_write_queue_lag_seconds',
      help: 'Age of the oldest message of the last batch taken from each write queue (1 s resolution).',
      labelNames: ['queue'] as const,
      registers: [registry],
    }),
    deadLetterDepth: new Gauge({
      name: 'consumer_dead_letter_queue_messages',
      help: 'Messages in the dead-letter queue (by the consumer or the broker delivery limit).',
      registers: [registry],
    }),
  };
  // Every reason exists from the start at 0, so increase() sees the first dead letter too.
  for (const reason of DEAD_LETTER_CODES) metrics.deadLetters.inc({ reason }, 0);
  return metrics;
}
export type ConsumerMetrics = ReturnType<typeof createConsumerMetrics>;

/**
 * How far search lags MySQL, read from search_outbox at each scrape: it keeps growing when
 * the indexer is stuck, and every consumer replica reports the same figures.
 */
export function createSearchIndexMetrics(
  registry: Registry,
  lag: () => Promise<OutboxLag>,
  now: () => number = Date.now,
) {
  let last: Promise<OutboxLag> | null = null;
  // Both gauges share one query per scrape; a failed read keeps the previous values.
  const read = () => {
    last ??= lag().finally(() => setTimeout(() => (last = null), 0).unref());
    return last.catch(() => null);
  };
  return {
    lagSeconds: new Gauge({
      name: 'search_index_lag_seconds',
      help: 'Age of the oldest message waiting in search_outbox to be indexed (0 when none).',
      registers: [registry],
      async collect() {
        const value = await read();
        if (value === null) return;
        const oldest = value.oldestQueuedAt;
        this.set(oldest === null ? 0 : Math.max(0, (now() - oldest.getTime()) / 1000));
      },
    }),
    pending: new Gauge({
      name: 'search_index_pending_messages',
      help: 'Messages waiting in search_outbox to be indexed.',
      registers: [registry],
      async collect() {
        const value = await read();
        if (value !== null) this.set(value.pending);
      },
    }),
    indexed: new Counter({
      name: 'search_indexed_total',
      help: 'Messages taken from search_outbox into the search index.',
      registers: [registry],
    }),
    failures: new Counter({
      name: 'search_index_failures_total',
      help: 'Indexer rounds that failed and will be retried with backoff.',
      registers: [registry],
    }),
  };
}
export type SearchIndexMetrics = ReturnType<typeof createSearchIndexMetrics>;

/** The consumer's purge of deleted chats and applications; the backlog is read per scrape. */
export function createPurgeMetrics(registry: Registry, backlog: () => Promise<number>) {
  return {
    backlog: new Gauge({
      name: 'purge_backlog_tasks',
      help: 'Deleted chats and applications whose rows are still to be purged.',
      registers: [registry],
      async collect() {
        // A failed read keeps the previous value.
        const value = await backlog().catch(() => null);
        if (value !== null) this.set(value);
      },
    }),
    rows: new Counter({
      name: 'purge_rows_total',
      help: 'Rows removed by the purge, by the kind of deleted record (application, chat).',
      labelNames: ['kind'] as const,
      registers: [registry],
    }),
    tasks: new Counter({
      name: 'purge_tasks_total',
      help: 'Deleted chats and applications purged completely, by kind.',
      labelNames: ['kind'] as const,
      registers: [registry],
    }),
    failures: new Counter({
      name: 'purge_failures_total',
      help: 'Purge rounds that failed and will be retried with backoff.',
      registers: [registry],
    }),
  };
}
export type PurgeMetrics = ReturnType<typeof createPurgeMetrics>;

export function createFlusherMetrics(registry: Registry) {
  return {
    runDuration: new Histogram({
      name: 'flusher_run_duration_seconds',
      help: 'Duration of a flusher run.',
      buckets: [0.01, 0.05, 0.1, 0.5, 1, 5, 10, 30, 60],
      registers: [registry],
    }),
    rowsUpdated: new Counter({
      name: 'flusher_rows_updated_total',
      help: 'Counter rows recomputed, by table.',
      labelNames: ['table'] as const,
      registers: [registry],
    }),
    runs: new Counter({
      name: 'flusher_runs_total',
      help: 'Flusher runs by outcome (success, failure, skipped when another holds the lock).',
      labelNames: ['outcome'] as const,
      registers: [registry],
    }),
    lastSuccess: new Gauge({
      name: 'flusher_last_success_timestamp_seconds',
      help: 'Unix time of the last successful flusher run.',
      registers: [registry],
    }),
  };
}
export type FlusherMetrics = ReturnType<typeof createFlusherMetrics>;

/** The API's event streams (server-sent events per chat). */
export function createLiveMetrics(registry: Registry) {
  return {
    open: new Gauge({
      name: 'live_streams_open',
      help: 'Event streams open on this process.',
      registers: [registry],
    }),
    sent: new Counter({
      name: 'live_events_sent_total',
      help: 'Events written to event streams, by event type (reset included).',
      labelNames: ['type'] as const,
      registers: [registry],
    }),
    delay: new Histogram({
      name: 'live_event_delay_seconds',
      help: 'From the append to the chat’s log (right after the commit) to the event written to a stream.',
      buckets: [0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
      registers: [registry],
    }),
    cut: new Counter({
      name: 'live_streams_cut_total',
      help: 'Streams cut by the server, by reason (slow_client: its unread buffer passed the bound).',
      labelNames: ['reason'] as const,
      registers: [registry],
    }),
    appendFailures: new Counter({
      name: 'live_append_failures_total',
      help: 'Edits and deletes committed whose event could not be appended to the chat’s log.',
      registers: [registry],
    }),
  };
}
