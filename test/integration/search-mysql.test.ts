import { randomUUID } from 'node:crypto';
import { expect } from 'chai';
import { QueryTypes, type Sequelize } from 'sequelize';
import { MysqlSearch } from '../../internal/search/mysql.js';
import {
  MysqlTrigramBackfill,
  MysqlTrigramIndexer,
  removeMessageTrigrams,
} from '../../internal/search/mysql-trigrams.js';
import { foldCodePoint } from '../../internal/search/trigrams.js';
import { persistWriteBatch } from '../../internal/db/write-batch.js';
import { SqlMessageRepository } from '../../internal/db/repositories/messages.js';
import { SearchOutbox } from '../../internal/db/repositories/search-outbox.js';
import { sqlDateTime } from '../../internal/db/datetime.js';
import { IndexSearch } from '../../internal/jobs/index-search.js';
import { createRegistry, createSearchIndexMetrics } from '../../internal/metrics/registry.js';
import type { IndexedMessage, SearchScope } from '../../internal/domain/ports.js';
import { parseSearchQuery } from '../../internal/domain/search-query.js';
import { describeSearchBehaviour, randomApplicationToken } from '../support/search-behaviour.js';
import { testSequelize } from '../support/database.js';
import { silentLogger } from '../support/environment.js';
import { FakeLock } from '../support/fakes/search-outbox.js';

/** The consumer's indexer loop over the real outbox and trigram index, run to empty. */
function indexerLoop(sequelize: Sequelize): IndexSearch {
  const outbox = new SearchOutbox(sequelize);
  return new IndexSearch({
    outbox,
    indexer: new MysqlTrigramIndexer(sequelize),
    lock: new FakeLock(),
    batchSize: 500,
    intervalMs: 5,
    metrics: createSearchIndexMetrics(createRegistry('test'), () => outbox.lag()),
    logger: silentLogger,
  });
}

async function createApplications(sequelize: Sequelize, tokens: readonly string[]) {
  const now = sqlDateTime(new Date());
  await sequelize.query(
    `INSERT IGNORE INTO applications (token, name, created_at, updated_at)
     VALUES ${tokens.map(() => "(?, 'search test', ?, ?)").join(', ')}`,
    { replacements: tokens.flatMap((t) => [t, now, now]) },
  );
}

/** Persists messages as the consumer does, queueing them for the indexer. */
async function persist(sequelize: Sequelize, seeded: readonly IndexedMessage[]) {
  await createApplications(sequelize, [...new Set(seeded.map((m) => m.applicationToken))]);
  const outcome = await persistWriteBatch(
    sequelize,
    seeded.map((m) => ({
      kind: 'message.created' as const,
      eventId: randomUUID(),
      applicationToken: m.applicationToken,
      chatNumber: m.chatNumber,
      messageNumber: m.number,
      content: m.content,
      createdAt: m.createdAt.toISOString(),
    })),
    { queueForIndexing: true },
  );
  if (outcome.rejected.length > 0)
    throw new Error(`seed rejected: ${outcome.rejected[0]?.reason.code}`);
}

// Both states a message can be in: indexed (trigrams written, outbox entry gone), and still
// waiting for the indexer (found through search_outbox). Each must answer exactly as a scan.
for (const indexed of [true, false]) {
  describeSearchBehaviour(
    `built-in MySQL backend, ${indexed ? 'trigram-indexed' : 'waiting for the indexer'}`,
    () => {
      const sequelize: Sequelize = testSequelize();
      const messages = new SqlMessageRepository(sequelize);
      const loop = indexerLoop(sequelize);
      const settle = async () => {
        if (indexed) await loop.drain(new AbortController().signal);
      };
      return Promise.resolve({
        search: new MysqlSearch(sequelize),
        async seed(seeded: IndexedMessage[]) {
          await persist(sequelize, seeded);
          await settle();
        },
        async update(message: IndexedMessage) {
          await messages.edit(
            message.applicationToken,
            message.chatNumber,
            message.number,
            message.content,
          );
          await settle();
        },
        async cleanup() {
          // Leave no pending entries behind for the suites that follow.
          await indexerLoop(sequelize).drain(new AbortController().signal);
          await sequelize.close();
        },
      });
    },
  );
}

/** Deterministic pseudo-random numbers, so a failing corpus is the same on every run. */
function generator(seed: number) {
  let state = seed >>> 0;
  return (n: number) => {
    state = (Math.imul(state, 1_664_525) + 1_013_904_223) >>> 0;
    return state % n;
  };
}

describe('built-in MySQL search: trigram index', function () {
  this.timeout(60_000);
  const sequelize = testSequelize();
  const search = new MysqlSearch(sequelize);
  const loop = indexerLoop(sequelize);
  const drain = () => loop.drain(new AbortController().signal);

  after(() => sequelize.close());

  async function messageId(scope: SearchScope, number: number): Promise<number> {
    const [row] = await sequelize.query<{ id: number | string }>(
      `SELECT m.id FROM messages m JOIN chats c ON c.id = m.chat_id
         JOIN applications a ON a.id = c.application_id
        WHERE a.token = ? AND c.number = ? AND m.number = ?`,
      { replacements: [scope.applicationToken, scope.chatNumber, number], type: QueryTypes.SELECT },
    );
    return Number(row?.id);
  }

  async function trigramRows(id: number): Promise<number> {
    const [row] = await sequelize.query<{ n: number | string }>(
      'SELECT COUNT(*) AS n FROM message_trigrams WHERE message_id = ?',
      { replacements: [id], type: QueryTypes.SELECT },
    );
    return Number(row?.n);
  }

  /** What a scan of the chat under the collation finds: the reference answer. */
  async function scan(scope: SearchScope, terms: readonly string[]): Promise<number[]> {
    const rows = await sequelize.query<{ number: number }>(
      `SELECT m.number FROM messages m JOIN chats c ON c.id = m.chat_id
         JOIN applications a ON a.id = c.application_id
        WHERE a.token = ? AND c.number = ?
          ${terms.map(() => "AND m.content LIKE ? ESCAPE '!'").join(' ')}
        ORDER BY m.number DESC`,
      {
        replacements: [
          scope.applicationToken,
          scope.chatNumber,
          ...terms.map((t) => `%${t.replace(/[!%_]/g, (c) => `!${c}`)}%`),
        ],
        type: QueryTypes.SELECT,
      },
    );
    return rows.map((r) => r.number);
  }

  it('folds only what the collation already equates, for every code point it folds', async () => {
    const folded: [string, string][] = [];
    for (let cp = 0; cp <= 0x1ffff; cp += 1) {
      if (cp >= 0xd800 && cp <= 0xdfff) continue;
      const c = String.fromCodePoint(cp);
      const f = foldCodePoint(c);
      if (f !== c) folded.push([c, f]);
    }
    expect(folded.length).to.be.greaterThan(400);
    await sequelize.query(
      `CREATE TEMPORARY TABLE fold_pairs (
         original VARCHAR(1) NOT NULL, folded VARCHAR(1) NOT NULL
       ) DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_520_ci`,
    );
    try {
      for (let i = 0; i < folded.length; i += 1_000) {
        const chunk = folded.slice(i, i + 1_000);
        await sequelize.query(
          `INSERT INTO fold_pairs VALUES ${chunk.map(() => '(?, ?)').join(', ')}`,
          { replacements: chunk.flat() },
        );
      }
      // LIKE, which compares one character with one character, is what a search runs.
      const differ = await sequelize.query<{ original: string; folded: string }>(
        "SELECT original, folded FROM fold_pairs WHERE NOT (original LIKE folded ESCAPE '!')",
        { type: QueryTypes.SELECT },
      );
      expect(differ).to.deep.equal([]);
    } finally {
      await sequelize.query('DROP TEMPORARY TABLE fold_pairs');
    }
  });

  it('finds exactly what a scan finds, on a generated corpus full of edge cases', async () => {
    const random = generator(20_261_130);
    // Letters the collation folds (case, accents, ß, dotless ı, Kelvin sign), characters it
    // ignores or equates with a space (combining marks, zero-width joiner, no-break space),
    // LIKE's own syntax, emoji (astral code points) and CJK.
    const alphabet = Array.from(
      'abcAÁáeéÉEsSßıIİi\u212Ak o\u0301\u0302\u200d\u00a0\u3000 %_!\\\'"🎉😀👍🏽喜欢苹果',
    );
    const text = (length: number) =>
      Array.from({ length }, () => alphabet[random(alphabet.length)]).join('');
    const scope = { applicationToken: randomApplicationToken(), chatNumber: 1 };
    const at = new Date('2024-05-01T12:00:00.000Z');
    const corpus: IndexedMessage[] = Array.from({ length: 400 }, (_, i) => ({
      ...scope,
      number: i + 1,
      content: text(1 + random(24)),
      createdAt: at,
      updatedAt: at,
    }));
    // Half indexed, half still waiting: both paths must agree with the scan.
    await persist(sequelize, corpus.slice(0, 200));
    await drain();
    await persist(sequelize, corpus.slice(200));
    const queries: string[] = [];
    for (let i = 0; i < 300; i += 1) {
      // Substrings of stored messages (hits), and random text (mostly misses).
      const source = corpus[random(corpus.length)]!.content;
      const chars = Array.from(source);
      const from = random(chars.length);
      const sub = chars.slice(from, from + 1 + random(6)).join('');
      queries.push(i % 3 === 0 ? text(1 + random(5)) : sub);
    }
    let compared = 0;
    let nonEmpty = 0;
    for (const query of queries) {
      const terms = parseSearchQuery(query);
      if (terms.length === 0) continue;
      const expected = await scan(scope, terms);
      const hits = await search.search(scope, terms, { limit: 100, offset: 0 });
      expect(
        hits.map((h) => h.number),
        `query ${JSON.stringify(query)}`,
      ).to.deep.equal(expected.slice(0, 100));
      compared += 1;
      if (expected.length > 0) nonEmpty += 1;
    }
    expect(compared).to.be.greaterThan(200);
    expect(nonEmpty).to.be.greaterThan(100);
    await drain();
  });

  it('re-indexes an edit: the old text is no longer found through the index, the new one is', async () => {
    const scope = { applicationToken: randomApplicationToken(), chatNumber: 1 };
    const at = new Date('2024-05-01T12:00:00.000Z');
    const filler = Array.from({ length: 30 }, (_, i) => ({
      ...scope,
      number: i + 2,
      content: `filler message ${i}`,
      createdAt: at,
      updatedAt: at,
    }));
    await persist(sequelize, [
      { ...scope, number: 1, content: 'a quetzalcoatl sighting', createdAt: at, updatedAt: at },
      ...filler,
    ]);
    await drain();
    const id = await messageId(scope, 1);
    const before = await trigramRows(id);
    expect(before).to.equal(Array.from('a quetzalcoatl sighting').length - 2);

    await new SqlMessageRepository(sequelize).edit(
      scope.applicationToken,
      1,
      1,
      'now about an axolotl',
    );
    // Pending: found through the outbox before the indexer runs.
    const find = async (q: string) =>
      (await search.search(scope, parseSearchQuery(q), { limit: 10, offset: 0 })).map(
        (h) => h.number,
      );
    expect(await find('axolotl')).to.deep.equal([1]);
    expect(await find('quetzal')).to.deep.equal([]);
    await drain();
    expect(await find('axolotl')).to.deep.equal([1]);
    expect(await find('quetzal')).to.deep.equal([]);
    const [stale] = await sequelize.query<{ n: number | string }>(
      "SELECT COUNT(*) AS n FROM message_trigrams WHERE message_id = ? AND trigram = 'tza'",
      { replacements: [id], type: QueryTypes.SELECT },
    );
    expect(Number(stale?.n)).to.equal(0);
    expect(await trigramRows(id)).to.equal(Array.from('now about an axolotl').length - 2);
  });

  it('removes a message’s trigrams by id, and with the message row (cascade)', async () => {
    const scope = { applicationToken: randomApplicationToken(), chatNumber: 1 };
    const at = new Date('2024-05-01T12:00:00.000Z');
    await persist(sequelize, [
      { ...scope, number: 1, content: 'first removable', createdAt: at, updatedAt: at },
      { ...scope, number: 2, content: 'second removable', createdAt: at, updatedAt: at },
    ]);
    await drain();
    const first = await messageId(scope, 1);
    const second = await messageId(scope, 2);
    expect(await trigramRows(first)).to.be.greaterThan(0);
    await removeMessageTrigrams(sequelize, [first]);
    expect(await trigramRows(first)).to.equal(0);
    expect(await trigramRows(second)).to.be.greaterThan(0);
    await sequelize.query('DELETE FROM messages WHERE id = ?', { replacements: [second] });
    expect(await trigramRows(second)).to.equal(0);
  });

  it('backfills messages stored before the index, resuming from its cursor, then searches by it', async () => {
    const scope = { applicationToken: randomApplicationToken(), chatNumber: 1 };
    const at = new Date('2024-05-01T12:00:00.000Z');
    // Stored without the outbox, as by code older than the index.
    await createApplications(sequelize, [scope.applicationToken]);
    await persistWriteBatch(
      sequelize,
      Array.from({ length: 5 }, (_, i) => ({
        kind: 'message.created' as const,
        eventId: randomUUID(),
        applicationToken: scope.applicationToken,
        chatNumber: 1,
        messageNumber: i + 1,
        content: `legacy zebrafish ${i}`,
        createdAt: at.toISOString(),
      })),
    );
    const ids = await Promise.all([1, 2, 3, 4, 5].map((n) => messageId(scope, n)));
    const [saved] = await sequelize.query<{ after_message_id: number; finished_at: Date | null }>(
      'SELECT after_message_id, finished_at FROM search_trigram_backfill WHERE id = 1',
      { type: QueryTypes.SELECT },
    );
    try {
      // As the migration leaves a database that had messages: the backfill still to run.
      await sequelize.query(
        'UPDATE search_trigram_backfill SET after_message_id = ?, finished_at = NULL WHERE id = 1',
        { replacements: [ids[0]! - 1] },
      );
      const fresh = new MysqlSearch(sequelize);
      const find = async () =>
        (await fresh.search(scope, ['zebrafish'], { limit: 10, offset: 0 })).map((h) => h.number);
      // Not finished: the scan answers, and finds them all.
      expect(await find()).to.deep.equal([5, 4, 3, 2, 1]);
      const backfill = new MysqlTrigramBackfill(sequelize, 2);
      expect(await backfill.step()).to.deep.equal({ indexed: 2, finished: false });
      expect(await trigramRows(ids[0]!)).to.be.greaterThan(0);
      expect(await trigramRows(ids[2]!)).to.equal(0);
      // A second backfiller (another process) resumes from the stored cursor.
      const other = new MysqlTrigramBackfill(sequelize, 2);
      expect(await other.step()).to.deep.equal({ indexed: 2, finished: false });
      let steps = 0;
      while (!(await backfill.step()).finished) steps += 1;
      expect(steps).to.be.lessThan(10);
      for (const id of ids) expect(await trigramRows(id)).to.be.greaterThan(0);
      expect(await backfill.step()).to.deep.equal({ indexed: 0, finished: true });
      // Finished: the index answers. Without its trigrams, message 1 is no longer found, which
      // a scan would still find.
      const indexedSearch = new MysqlSearch(sequelize);
      const numbers = async () =>
        (await indexedSearch.search(scope, ['zebrafish'], { limit: 10, offset: 0 })).map(
          (h) => h.number,
        );
      expect(await numbers()).to.deep.equal([5, 4, 3, 2, 1]);
      await removeMessageTrigrams(sequelize, [ids[0]!]);
      expect(await numbers()).to.deep.equal([5, 4, 3, 2]);
    } finally {
      await sequelize.query(
        'UPDATE search_trigram_backfill SET after_message_id = ?, finished_at = ? WHERE id = 1',
        { replacements: [saved?.after_message_id ?? 0, saved?.finished_at ?? new Date()] },
      );
    }
  });
});
