/**
 * The built-in MySQL search on a generated chat of 100,000 messages, and what keeping its
 * trigram index costs the write path. Prints figures; asserts nothing.
 *   1. generates the chat (multi-row INSERTs straight into MySQL, queued in search_outbox as the
 *      consumer queues them) and fills the trigram index the way production does: the search
 *      indexer loop draining search_outbox in SEARCH_INDEX_BATCH_SIZE batches;
 *   2. searches a rare term and a common term through the real backend (one client, one search
 *      at a time), and the scan that answered before the index, for comparison;
 *   3. the consumer's MySQL write path (persistWriteBatch, CONSUMER_BATCH_SIZE events per
 *      transaction) without the outbox, as the MySQL backend ran before; with it; and with the
 *      indexer filling the trigram index beside it, never resting and giving way as in the
 *      consumer. Variants take turns over several rounds.
 * BENCH_SEARCH_MESSAGES (default 100000), BENCH_SEARCH_QUERIES (default 200). Runs in a database
 * of its own beside TEST_MYSQL_URL's, dropped at the end; `node --import tsx bench/search.ts` runs
 * it alone.
 */
import { randomUUID } from 'node:crypto';
import { QueryTypes, type Sequelize } from 'sequelize';
import { persistWriteBatch } from '../internal/db/write-batch.js';
import { sqlDateTime } from '../internal/db/datetime.js';
import { SearchOutbox } from '../internal/db/repositories/search-outbox.js';
import { IndexSearch } from '../internal/jobs/index-search.js';
import { BusyWindow } from '../internal/jobs/busy-window.js';
import { createRegistry, createSearchIndexMetrics } from '../internal/metrics/registry.js';
import { MysqlSearch } from '../internal/search/mysql.js';
import { MysqlTrigramIndexer, TRIGRAM_INDEXER_YIELD } from '../internal/search/mysql-trigrams.js';
import { parseSearchQuery } from '../internal/domain/search-query.js';
import type { MessageCreated } from '../internal/domain/model.js';
import type { LeaderLock } from '../internal/domain/ports.js';
import { createSequelize, databaseName } from '../internal/db/sequelize.js';
import { migrateDatabase } from '../test/support/database.js';
import { silentLogger, TEST_MYSQL_URL } from '../test/support/environment.js';
import { percentile } from './measure.js';

export interface SearchFigures {
  readonly rows: number;
  readonly trigramRows: number;
  readonly fill: {
    readonly seconds: number;
    readonly msgsPerSec: number;
    readonly rowsPerSec: number;
  };
  readonly rare: LatencyFigures & { readonly hits: number };
  readonly common: LatencyFigures & { readonly hits: number };
  readonly short: LatencyFigures;
  readonly shortRare: LatencyFigures;
  readonly scanBefore: LatencyFigures;
  readonly writeCost: {
    readonly messages: number;
    readonly rounds: number;
    readonly withoutIndexMsgsPerSec: number;
    readonly outboxOnlyMsgsPerSec: number;
    /** The indexer never resting, and resting as the consumer makes it (what ships). */
    readonly besideGreedy: BesideFigures;
    readonly besideYielding: BesideFigures;
  };
}

export interface BesideFigures {
  /** The write path's rate while the indexer runs beside it. */
  readonly msgsPerSec: number;
  /** Messages the indexer indexed meanwhile, per second of writes. */
  readonly indexerMsgsPerSec: number;
}

export interface LatencyFigures {
  readonly p50Ms: number;
  readonly p99Ms: number;
  readonly searchesPerSec: number;
}

const RARE_TERM = 'quetzalcoatl';
const COMMON_TERM = 'meeting';
const RARE_EVERY = 5_000;
const COMMON_EVERY = 4;
const INSERT_ROWS = 2_000;

const WORDS = (
  'the a to and of in is it you that for on with are this be at have was but not so we can ' +
  'do if my me what all just your get out up about like will one time how when there now no ' +
  'lunch today tomorrow call later thanks please review deploy ticket release budget client ' +
  'office weekend coffee project report update schedule question answer idea problem fixed'
).split(' ');

/** Deterministic pseudo-random numbers: the same chat on every run. */
function generator(seed: number) {
  let state = seed >>> 0;
  return (n: number) => {
    state = (Math.imul(state, 1_664_525) + 1_013_904_223) >>> 0;
    return state % n;
  };
}

/** 5 to 12 words: common ones, and made-up ones of 4 to 9 letters (names, typos, codes). */
function messageText(i: number, random: (n: number) => number): string {
  const words: string[] = [];
  const count = 5 + random(8);
  for (let w = 0; w < count; w += 1) {
    if (random(4) === 0) {
      const length = 4 + random(6);
      words.push(Array.from({ length }, () => String.fromCharCode(97 + random(26))).join(''));
    } else words.push(WORDS[random(WORDS.length)]!);
  }
  if (i % COMMON_EVERY === 0) words.splice(random(words.length), 0, COMMON_TERM);
  if (i % RARE_EVERY === 0) words.splice(random(words.length), 0, `${RARE_TERM}!`);
  return words.join(' ');
}

const round1 = (n: number) => Math.round(n * 10) / 10;

async function timed(runs: number, once: () => Promise<unknown>): Promise<LatencyFigures> {
  const times: number[] = [];
  const start = performance.now();
  for (let i = 0; i < runs; i += 1) {
    const t = performance.now();
    await once();
    times.push(performance.now() - t);
  }
  const total = (performance.now() - start) / 1000;
  times.sort((a, b) => a - b);
  return {
    p50Ms: round1(percentile(times, 50)),
    p99Ms: round1(percentile(times, 99)),
    searchesPerSec: Math.round(runs / total),
  };
}

const alwaysLeader: LeaderLock = {
  tryAcquire: () =>
    Promise.resolve({ signal: new AbortController().signal, release: () => Promise.resolve() }),
};

/** How busy the write path below is, as the consumer's observer records it. */
const persisting = new BusyWindow(TRIGRAM_INDEXER_YIELD.windowMs, TRIGRAM_INDEXER_YIELD.busyShare);

function indexerLoop(sequelize: Sequelize, batchSize: number, yielding = false): IndexSearch {
  const outbox = new SearchOutbox(sequelize);
  return new IndexSearch({
    outbox,
    ...(yielding
      ? {
          yieldTo: {
            busy: () => persisting.busy(),
            factor: TRIGRAM_INDEXER_YIELD.factor,
          },
        }
      : {}),
    indexer: new MysqlTrigramIndexer(sequelize),
    lock: alwaysLeader,
    batchSize,
    intervalMs: 5,
    metrics: createSearchIndexMetrics(createRegistry('bench'), () => outbox.lag()),
    logger: silentLogger,
  });
}

async function createChat(sequelize: Sequelize, label: string) {
  const token = randomUUID();
  const now = sqlDateTime(new Date());
  await sequelize.query(
    'INSERT INTO applications (token, name, created_at, updated_at) VALUES (?, ?, ?, ?)',
    { replacements: [token, label, now, now] },
  );
  await sequelize.query(
    `INSERT INTO chats (application_id, number, name, event_id, created_at, updated_at)
     SELECT id, 1, ?, ?, ?, ? FROM applications WHERE token = ?`,
    { replacements: [label, randomUUID(), now, now, token] },
  );
  const [chat] = await sequelize.query<{ id: number | string }>(
    'SELECT c.id FROM chats c JOIN applications a ON a.id = c.application_id WHERE a.token = ?',
    { replacements: [token], type: QueryTypes.SELECT },
  );
  return { token, chatId: Number(chat?.id) };
}

async function count(sequelize: Sequelize, sql: string, replacements: unknown[]) {
  const [row] = await sequelize.query<{ n: number | string }>(sql, {
    replacements,
    type: QueryTypes.SELECT,
  });
  return Number(row?.n ?? 0);
}

/** Generates the chat, fills its index, searches it; prints and returns the figures. */
export async function benchSearch(
  sequelize: Sequelize,
  options: { messages?: number; queries?: number; indexBatch?: number; persistBatch?: number } = {},
): Promise<SearchFigures> {
  const total = options.messages ?? Number(process.env['BENCH_SEARCH_MESSAGES'] ?? 100_000);
  const queries = options.queries ?? Number(process.env['BENCH_SEARCH_QUERIES'] ?? 200);
  const indexBatch = options.indexBatch ?? 1_000;
  const persistBatch = options.persistBatch ?? 500;
  const random = generator(13);

  // 1. The chat, queued for the indexer in the same statements' transaction as the consumer
  // would, then the indexer loop drains the outbox into the trigram index.
  const { token, chatId } = await createChat(sequelize, 'search bench');
  const at = sqlDateTime(new Date());
  for (let from = 1; from <= total; from += INSERT_ROWS) {
    const rows = Array.from({ length: Math.min(INSERT_ROWS, total - from + 1) }, (_, k) => {
      const number = from + k;
      return [chatId, number, messageText(number, random), randomUUID(), at, at];
    });
    await sequelize.transaction(async (transaction) => {
      await sequelize.query(
        `INSERT INTO messages (chat_id, number, content, event_id, created_at, updated_at)
         VALUES ${rows.map(() => '(?, ?, ?, ?, ?, ?)').join(', ')}`,
        { replacements: rows.flat(), transaction },
      );
      await sequelize.query(
        `INSERT INTO search_outbox (message_id, chat_id, queued_at)
         SELECT id, chat_id, ? FROM messages WHERE chat_id = ? AND number BETWEEN ? AND ?`,
        { replacements: [at, chatId, from, from + rows.length - 1], transaction },
      );
    });
  }
  const fillStart = performance.now();
  await indexerLoop(sequelize, indexBatch).drain(new AbortController().signal);
  const fillSeconds = (performance.now() - fillStart) / 1000;
  const trigramRows = await count(
    sequelize,
    'SELECT COUNT(*) AS n FROM message_trigrams WHERE chat_id = ?',
    [chatId],
  );

  // 2. Searches, one at a time, first page of the API's default size.
  const search = new MysqlSearch(sequelize);
  const scope = { applicationToken: token, chatNumber: 1 };
  const page = { limit: 20, offset: 0 };
  let rareHits = 0;
  let commonHits = 0;
  const find = (q: string) => search.search(scope, parseSearchQuery(q), page);
  await find(RARE_TERM);
  const rare = await timed(queries, async () => (rareHits = (await find(RARE_TERM)).length));
  const common = await timed(queries, async () => (commonHits = (await find(COMMON_TERM)).length));
  const short = await timed(Math.ceil(queries / 4), () => find('zq'));
  // Two characters found only beside the rare term: the scan reads the whole chat.
  const shortRare = await timed(Math.ceil(queries / 10), () => find('l!'));
  // What answered before the index: the same LIKE over every message of the chat.
  const scanBefore = await timed(Math.ceil(queries / 10), () =>
    sequelize.query(
      `SELECT m.number, m.content FROM messages m
         JOIN chats c ON c.id = m.chat_id JOIN applications a ON a.id = c.application_id
        WHERE a.token = ? AND c.number = 1 AND m.content LIKE ? ESCAPE '!'
        ORDER BY m.number DESC LIMIT 20 OFFSET 0`,
      { replacements: [token, `%${RARE_TERM}%`], type: QueryTypes.SELECT },
    ),
  );

  // 3. The consumer's write path, with and without the outbox (and the indexer beside it).
  // The variants take turns, several rounds, so that drift on a shared box hits them alike.
  const writeMessages = Math.min(total, 20_000);
  const persistRun = async (queueForIndexing: boolean) => {
    const target = await createChat(sequelize, 'search bench writes');
    const events: MessageCreated[] = Array.from({ length: writeMessages }, (_, i) => ({
      kind: 'message.created',
      eventId: randomUUID(),
      applicationToken: target.token,
      chatNumber: 1,
      messageNumber: i + 1,
      content: messageText(i + 1, random),
      createdAt: new Date().toISOString(),
    }));
    const start = performance.now();
    for (let i = 0; i < events.length; i += persistBatch) {
      const batchStart = performance.now();
      await persistWriteBatch(sequelize, events.slice(i, i + persistBatch), { queueForIndexing });
      persisting.record(performance.now() - batchStart);
    }
    return { seconds: (performance.now() - start) / 1000, chatId: target.chatId };
  };
  type Variant = 'without' | 'outbox' | 'greedy' | 'yielding';
  const totals = new Map<Variant, { seconds: number; indexed: number }>();
  const run = async (variant: Variant) => {
    const stop = new AbortController();
    const indexing =
      variant === 'greedy' || variant === 'yielding'
        ? indexerLoop(sequelize, indexBatch, variant === 'yielding').run(stop.signal)
        : null;
    const { seconds, chatId } = await persistRun(variant !== 'without');
    stop.abort();
    await indexing;
    const indexed = await count(
      sequelize,
      'SELECT COUNT(DISTINCT message_id) AS n FROM message_trigrams WHERE chat_id = ?',
      [chatId],
    );
    // The backlog left is indexed before the next run, untimed: every run starts level.
    await indexerLoop(sequelize, indexBatch).drain(new AbortController().signal);
    const sum = totals.get(variant) ?? { seconds: 0, indexed: 0 };
    totals.set(variant, { seconds: sum.seconds + seconds, indexed: sum.indexed + indexed });
  };
  const rounds = 3;
  for (let round = 0; round < rounds; round += 1) {
    for (const variant of ['without', 'outbox', 'greedy', 'yielding'] as const) await run(variant);
  }
  const rate = (variant: Variant) =>
    Math.round((rounds * writeMessages) / (totals.get(variant)?.seconds ?? NaN));
  const beside = (variant: Variant): BesideFigures => ({
    msgsPerSec: rate(variant),
    indexerMsgsPerSec: Math.round(
      (totals.get(variant)?.indexed ?? 0) / (totals.get(variant)?.seconds ?? NaN),
    ),
  });
  const greedy = beside('greedy');
  const yielding = beside('yielding');

  const figures: SearchFigures = {
    rows: total,
    trigramRows,
    fill: {
      seconds: round1(fillSeconds),
      msgsPerSec: Math.round(total / fillSeconds),
      rowsPerSec: Math.round(trigramRows / fillSeconds),
    },
    rare: { ...rare, hits: rareHits },
    common: { ...common, hits: commonHits },
    short,
    shortRare,
    scanBefore,
    writeCost: {
      messages: writeMessages,
      rounds,
      withoutIndexMsgsPerSec: rate('without'),
      outboxOnlyMsgsPerSec: rate('outbox'),
      besideGreedy: greedy,
      besideYielding: yielding,
    },
  };
  printSearchFigures(figures);
  return figures;
}

export function printSearchFigures(f: SearchFigures): void {
  const line = (label: string, l: LatencyFigures) =>
    `  ${label.padEnd(34)} p50 ${l.p50Ms} ms   p99 ${l.p99Ms} ms   ${l.searchesPerSec} searches/s`;
  console.log(`built-in MySQL search, one chat of ${f.rows} messages (one client, page of 20)`);
  console.log(
    `  trigram index: ${f.trigramRows} rows (${(f.trigramRows / f.rows).toFixed(1)} per message), filled by the indexer loop in ${f.fill.seconds} s = ${f.fill.msgsPerSec} msgs/s, ${f.fill.rowsPerSec} rows/s`,
  );
  console.log(`${line(`rare term (${f.rare.hits} hits)`, f.rare)}`);
  console.log(`${line(`common term (${f.common.hits} hits)`, f.common)}`);
  console.log(`${line('two characters, common (scan)', f.short)}`);
  console.log(`${line('two characters, rare (scan)', f.shortRare)}`);
  console.log(`${line('rare term by scan (before)', f.scanBefore)}`);
  const w = f.writeCost;
  console.log(
    `consumer write path (persistWriteBatch in process, batches of 500; ${w.rounds} rounds of ${w.messages} messages per variant, taking turns)`,
  );
  console.log(
    `  without search_outbox (MySQL search before)           ${w.withoutIndexMsgsPerSec} msgs/s`,
  );
  console.log(
    `  with search_outbox, indexer stopped                   ${w.outboxOnlyMsgsPerSec} msgs/s (${Math.round((100 * w.outboxOnlyMsgsPerSec) / w.withoutIndexMsgsPerSec)} %)`,
  );
  const pct = (n: number) => Math.round((100 * n) / w.withoutIndexMsgsPerSec);
  for (const [label, b] of [
    ['indexer beside, never resting', w.besideGreedy],
    ['indexer beside, yielding (ships)', w.besideYielding],
  ] as const) {
    console.log(
      `  with search_outbox, ${label.padEnd(33)} ${b.msgsPerSec} msgs/s (${pct(b.msgsPerSec)} %); indexed ${b.indexerMsgsPerSec} msgs/s meanwhile`,
    );
  }
  console.log('');
}

/**
 * Runs benchSearch in a database of its own next to `mysqlUrl`'s, dropped afterwards: the
 * generated chat and its millions of trigram rows never linger in a shared database.
 */
export async function benchSearchIsolated(mysqlUrl = TEST_MYSQL_URL): Promise<SearchFigures> {
  const url = new URL(mysqlUrl);
  url.pathname = `${url.pathname.replace(/^\//, '')}_search_bench`;
  await migrateDatabase(url.toString());
  const sequelize = createSequelize({ url: url.toString(), poolMax: 4 });
  try {
    return await benchSearch(sequelize);
  } finally {
    await sequelize.query(`DROP DATABASE ${databaseName(url.toString())}`).catch(() => undefined);
    await sequelize.close();
  }
}

// Run alone: `node --import tsx bench/search.ts` (next to TEST_MYSQL_URL's database).
if (import.meta.url === `file://${process.argv[1]}`) {
  console.log(JSON.stringify(await benchSearchIsolated()));
}
