import { randomUUID } from 'node:crypto';
import { expect } from 'chai';
import type { RedisClient } from '../../internal/redis/client.js';
import type { Sequelize } from 'sequelize';
import { KeySpace } from '../../internal/redis/keys.js';
import { DirtySet } from '../../internal/redis/dirty.js';
import { createSequelize } from '../../internal/db/sequelize.js';
import { CounterRepository } from '../../internal/db/repositories/counters.js';
import { testSequelize } from '../support/database.js';
import { TEST_MYSQL_URL, uniqueSuffix } from '../support/environment.js';
import { removeKeys, testRedis } from '../support/redis.js';

describe('counters: recounting beside the consumer (MariaDB)', function () {
  this.timeout(60_000);
  let sequelize: Sequelize;
  let counters: CounterRepository;

  before(() => {
    sequelize = testSequelize();
    counters = new CounterRepository(sequelize);
  });
  after(() => sequelize.close());

  /** An application with one chat holding `size` messages, inserted in one statement. */
  async function bigChat(size: number): Promise<{ appId: number; chatId: number }> {
    const [appId] = await sequelize.query(
      `INSERT INTO applications (token, name, created_at, updated_at) VALUES (?, 'big', NOW(3), NOW(3))`,
      { replacements: [randomUUID()] },
    );
    const [chatId] = await sequelize.query(
      `INSERT INTO chats (application_id, number, name, event_id, created_at, updated_at)
       VALUES (?, 1, 'big', UUID(), NOW(3), NOW(3))`,
      { replacements: [appId] },
    );
    const digits = [...Array(10).keys()].map((d) => `SELECT ${d} AS d`).join(' UNION ALL ');
    const places = ['a', 'b', 'c', 'd', 'e', 'f'];
    const number = places.map((p, i) => `${p}.d * ${10 ** i}`).join(' + ');
    await sequelize.query(
      `INSERT INTO messages (chat_id, number, content, event_id, created_at, updated_at)
       SELECT ?, n.n, 'x', UUID(), NOW(3), NOW(3)
         FROM (SELECT ${number} + 1 AS n
                 FROM ${places.map((p) => `(${digits}) ${p}`).join(' CROSS JOIN ')}) n
        WHERE n.n <= ?`,
      { replacements: [chatId, size] },
    );
    return { appId: Number(appId), chatId: Number(chatId) };
  }

  async function messagesCount(chatId: number): Promise<number> {
    const [rows] = await sequelize.query('SELECT messages_count AS n FROM chats WHERE id = ?', {
      replacements: [chatId],
    });
    return Number((rows as { n: number }[])[0]?.n);
  }

  async function forget({ appId, chatId }: { appId: number; chatId: number }): Promise<void> {
    await sequelize.query('DELETE FROM messages WHERE chat_id = ?', { replacements: [chatId] });
    await sequelize.query('DELETE FROM chats WHERE id = ?', { replacements: [chatId] });
    await sequelize.query('DELETE FROM applications WHERE id = ?', { replacements: [appId] });
  }

  it('counts without locking the messages it counts', async () => {
    const chat = await bigChat(1_000);
    // Another transaction holds a row of that chat, as a consumer's batch holds what it
    // inserted until it commits. A locking count would wait for it; this one must not.
    const holder = await sequelize.transaction();
    try {
      await sequelize.query(
        'SELECT id FROM messages WHERE chat_id = ? AND number = 500 FOR UPDATE',
        {
          replacements: [chat.chatId],
          transaction: holder,
        },
      );
      await counters.recountChats([chat.chatId]);
      expect(await messagesCount(chat.chatId)).to.equal(1_000);
    } finally {
      await holder.rollback();
      await forget(chat);
    }
  });

  it('never makes inserts into a chat wait while that chat is being recounted', async () => {
    const chat = await bigChat(100_000);
    // The consumer's side: one connection that gives up on any lock wait over a second.
    const consumer = createSequelize({ url: TEST_MYSQL_URL, poolMax: 1 });
    try {
      await consumer.query('SET SESSION innodb_lock_wait_timeout = 1');
      let recounting = true;
      const recount = counters.recountChats([chat.chatId]).finally(() => (recounting = false));
      let next = 100_001;
      let duringRecount = 0;
      while (recounting || next <= 100_010) {
        await consumer.query(
          `INSERT INTO messages (chat_id, number, content, event_id, created_at, updated_at)
           VALUES (?, ?, 'y', UUID(), NOW(3), NOW(3))`,
          { replacements: [chat.chatId, next] },
        );
        if (recounting) duringRecount += 1;
        next += 1;
      }
      await recount;
      expect(duringRecount, 'inserts that ran while the recount did').to.be.greaterThan(0);
      expect(await messagesCount(chat.chatId)).to.be.within(100_000, next - 1);
      // Each insert marked the chat dirty again: the next recount is exact.
      await counters.recountChats([chat.chatId]);
      expect(await messagesCount(chat.chatId)).to.equal(next - 1);
    } finally {
      await consumer.close();
      await forget(chat);
    }
  });
});

describe('counters: dirty sets shared by overlapping flushers (Redis)', function () {
  this.timeout(10_000);
  let redis: RedisClient;
  let keys: KeySpace;
  let clock: number;
  const flusher = () => new DirtySet(redis, keys, { leaseMs: 60_000, now: () => clock });

  beforeEach(async () => {
    redis = await testRedis('counters-test');
    keys = new KeySpace(`cs-test-${uniqueSuffix()}:`);
    clock = 1_000_000;
  });
  afterEach(async () => {
    const prefix = keys.dirty('chats').pending.split('{')[0] ?? '';
    await removeKeys(redis, `${prefix}*`);
    await redis.quit();
  });

  it('keeps an id marked again after one flusher took it, whatever that flusher does', async () => {
    const producer = flusher();
    const a = flusher();
    const b = flusher();
    await producer.mark([], [7]);
    expect(await a.take('chats')).to.deep.equal([7]);
    // A counted chat 7; a new message arrives and marks it again; B starts meanwhile.
    await producer.mark([], [7]);
    expect(await b.take('chats')).to.deep.equal([7]);
    // A finishes and forgets its 7, then B crashes before recounting: the second mark
    // must survive. It is B's, and comes back once B's lease has expired.
    await a.done('chats', [7]);
    expect(await flusher().take('chats')).to.deep.equal([]);
    clock += 60_001;
    expect(await flusher().take('chats')).to.deep.equal([7]);
  });

  it('gives a live run its own ids, and another flusher only what is pending', async () => {
    const a = flusher();
    const b = flusher();
    await a.mark([], [1, 2]);
    expect(await a.take('chats')).to.deep.equal([1, 2]);
    await a.mark([], [3]);
    expect(await b.take('chats')).to.deep.equal([3]);
    await b.done('chats', [3]);
    // A's run stays its own while it reports progress (each done() renews its lease).
    clock += 40_000;
    await a.done('chats', [1]);
    clock += 40_000;
    expect(await b.take('chats')).to.deep.equal([]);
    await a.done('chats', [2]);
    clock += 120_000;
    expect(await b.take('chats')).to.deep.equal([]);
  });

  it('adopts the single processing set that earlier versions left', async () => {
    await redis.sadd(keys.dirty('apps').processing, 4, 5);
    const a = flusher();
    await a.mark([6], []);
    expect(await a.take('apps')).to.deep.equal([4, 5, 6]);
    expect(await redis.exists(keys.dirty('apps').processing)).to.equal(0);
  });
});
