import { randomUUID } from 'node:crypto';
import { expect } from 'chai';
import type { Sequelize } from 'sequelize';
import { KeySpace } from '../../internal/redis/keys.js';
import { RedisApplicationKeys, RedisNumberCache } from '../../internal/redis/numbers.js';
import { DirtySet } from '../../internal/redis/dirty.js';
import { RedisLock } from '../../internal/redis/lock.js';
import type { RedisClient } from '../../internal/redis/client.js';
import { SqlNumberLedger } from '../../internal/db/repositories/number-ledger.js';
import { Numbering } from '../../internal/service/numbering.js';
import type { NumberScope } from '../../internal/domain/ports.js';
import {
  ChatPendingError,
  NotFoundError,
  NumberingUnavailableError,
} from '../../internal/domain/errors.js';
import { FakePublisher } from '../support/fakes/publisher.js';
import { testSequelize } from '../support/database.js';
import { silentLogger, TEST_REDIS_CLUSTER_NODES, uniqueSuffix } from '../support/environment.js';
import { removeKeys, testRedis } from '../support/redis.js';

const OPTIONS = { blockMin: 4, blockMax: 100, createDeadlineMs: 5_000, fenceMarginMs: 1_000 };
const CHATS: NumberScope = { kind: 'chats' };
const chat = (n: number): NumberScope => ({ kind: 'messages', chat: n });
const ignore = () => undefined;
// A standalone Redis is trusted per connection, a cluster's state per process: one test is
// about each way and is skipped on the other (npm test runs this file on a standalone Redis,
// npm run test:redis-cluster on a cluster, so each of the two runs where it means something).
const onCluster = TEST_REDIS_CLUSTER_NODES !== '';
const standaloneIt = onCluster ? it.skip : it;
const clusterIt = onCluster ? it : it.skip;

describe('numbering on Redis and MySQL', function () {
  this.timeout(30_000);
  let redis: RedisClient;
  let sequelize: Sequelize;
  let keys: KeySpace;
  let cache: RedisNumberCache;
  let ledger: SqlNumberLedger;

  before(() => {
    sequelize = testSequelize();
    ledger = new SqlNumberLedger(sequelize);
  });
  after(() => sequelize.close());

  let prefix: string;
  beforeEach(async () => {
    redis = await testRedis('numbering-test');
    prefix = `cs-test-${uniqueSuffix()}:`;
    keys = new KeySpace(prefix);
    cache = new RedisNumberCache(redis, keys, 60);
  });
  // Every key a test writes is under its prefix: none is left in the shared Redis.
  afterEach(async () => {
    if (redis.status === 'ready') await removeKeys(redis, `${prefix}*`);
    await redis.quit();
  });

  const replica = () =>
    new Numbering(
      cache,
      ledger,
      new FakePublisher(),
      OPTIONS,
      { reserved: ignore, revalidated: ignore, epochBegan: ignore, pending: ignore },
      silentLogger,
    );

  async function application(): Promise<{ token: string; id: number }> {
    const token = randomUUID();
    const [id] = await sequelize.query(
      `INSERT INTO applications (token, name, created_at, updated_at)
       VALUES (?, 'numbering test', UTC_TIMESTAMP(3), UTC_TIMESTAMP(3))`,
      { replacements: [token], type: 'INSERT' as never },
    );
    return { token, id: Number(id) };
  }

  /** What the consumer would have written: the chat row, and messages 1..upTo. */
  async function persistChat(appId: number, number: number, upTo = 0): Promise<void> {
    const [chatId] = await sequelize.query(
      `INSERT INTO chats (application_id, number, event_id, created_at, updated_at)
       VALUES (?, ?, ?, UTC_TIMESTAMP(3), UTC_TIMESTAMP(3))`,
      { replacements: [appId, number, randomUUID()], type: 'INSERT' as never },
    );
    for (let n = 1; n <= upTo; n += 1) {
      await sequelize.query(
        `INSERT INTO messages (chat_id, number, content, event_id, created_at, updated_at)
         VALUES (?, ?, 'x', ?, UTC_TIMESTAMP(3), UTC_TIMESTAMP(3))`,
        { replacements: [chatId, n, randomUUID()] },
      );
    }
  }

  /** Our keys only (the shared Redis holds others'): FLUSHALL as this deployment sees it. */
  async function loseOurKeys(): Promise<void> {
    await removeKeys(redis, `${prefix}*`);
  }

  it('issues 1..200 exactly once to two replicas racing, with few reservations', async () => {
    const { token } = await application();
    const [a, b] = [replica(), replica()];
    const got = await Promise.all(
      Array.from({ length: 200 }, (_, i) => (i % 2 ? a : b).take(token, CHATS, null)),
    );
    expect(got.map((d) => d.number).sort((x, y) => x - y)).to.deep.equal(
      Array.from({ length: 200 }, (_, i) => i + 1),
    );
    const [rows] = await sequelize.query(
      `SELECT n.ceiling FROM number_ceilings n JOIN applications a ON a.id = n.application_id
        WHERE a.token = ? AND n.scope = 0`,
      { replacements: [token] },
    );
    expect(Number((rows as { ceiling: number }[])[0]?.ceiling)).to.be.at.least(200);
  });

  it('numbers messages per chat and refuses chats and applications that do not exist', async () => {
    const { token } = await application();
    const numbering = replica();
    await numbering.take(token, CHATS, null);
    await numbering.take(token, CHATS, null);
    expect((await numbering.take(token, chat(1), null)).number).to.equal(1);
    expect((await numbering.take(token, chat(1), null)).number).to.equal(2);
    expect((await numbering.take(token, chat(2), null)).number).to.equal(1);
    const noChat = await numbering.take(token, chat(3), null).catch((e: unknown) => e);
    expect(noChat).to.be.instanceOf(NotFoundError).with.property('code', 'chat_not_found');
    const noApp = await numbering.take(randomUUID(), CHATS, null).catch((e: unknown) => e);
    expect(noApp).to.be.instanceOf(NotFoundError).with.property('code', 'application_not_found');
  });

  it('after losing its keys with creates queued: no number reissued, queued chats 503 until persisted', async () => {
    const { token, id } = await application();
    const numbering = replica();
    for (let i = 0; i < 3; i += 1) await numbering.take(token, CHATS, null);
    const before: number[] = [];
    for (let i = 0; i < 6; i += 1) before.push((await numbering.take(token, chat(1), null)).number);
    await persistChat(id, 1, 2); // the consumer is behind: messages 3–6 and chats 2–3 queued
    await loseOurKeys();

    expect((await numbering.take(token, CHATS, null)).number).to.be.above(3);
    const next = (await numbering.take(token, chat(1), null)).number;
    expect(before).to.not.include(next);
    const pending = await numbering.take(token, chat(2), null).catch((e: unknown) => e);
    expect(pending).to.be.instanceOf(ChatPendingError);
    await persistChat(id, 2);
    expect((await numbering.take(token, chat(2), null)).number).to.equal(1);
  });

  standaloneIt(
    'detects a Redis that is not the one its state was written under, and begins a new epoch',
    async () => {
      const { token, id } = await application();
      const numbering = replica();
      await numbering.take(token, CHATS, null);
      const issued: number[] = [];
      for (let i = 0; i < 10; i += 1)
        issued.push((await numbering.take(token, chat(1), null)).number);
      await persistChat(id, 1, 10);
      // A rolled-back state keeps older values and an epoch record of another process.
      await redis.hset(keys.application(token), 'm:1', 3, 'M:1', 4);
      const record = JSON.parse((await redis.get(keys.epoch())) ?? '{}') as { e: number };
      await redis.set(keys.epoch(), JSON.stringify({ r: 'another-process', e: record.e }));
      redis.disconnect(true); // a restart drops every connection
      await new Promise((resolve) => redis.once('ready', resolve));

      const next = (await numbering.take(token, chat(1), null)).number;
      expect(next).to.be.above(10);
      const stored = JSON.parse((await redis.get(keys.epoch())) ?? '{}') as { e: number };
      expect(stored.e).to.be.above(record.e);
    },
  );

  clusterIt(
    'detects state not validated in the process holding it (a promoted replica’s copy), and begins an epoch of that process',
    async () => {
      const { token, id } = await application();
      const numbering = replica();
      await numbering.take(token, CHATS, null);
      for (let i = 0; i < 10; i += 1) await numbering.take(token, chat(1), null);
      await persistChat(id, 1, 10);
      const validatedIn = await redis.hget(keys.application(token), 'r');
      expect(validatedIn).to.match(/^[0-9a-f]{48}$/);
      // The copy a replica promoted after a failover may hold: older values, validated in the
      // process that was primary then.
      await redis.hset(keys.application(token), 'm:1', 3, 'M:1', 4, 'r', 'f'.repeat(48));
      const next = (await numbering.take(token, chat(1), null)).number;
      expect(next).to.be.above(10);
      // Revalidated in the process holding it, under an epoch begun for that process.
      expect(await redis.hget(keys.application(token), 'r')).to.equal(validatedIn);
      const epoch = await redis.hget(keys.application(token), 'e');
      const [rows] = await sequelize.query(
        'SELECT redis_run_id FROM numbering_epochs WHERE id = ?',
        {
          replacements: [epoch],
        },
      );
      expect(rows).to.deep.equal([{ redis_run_id: validatedIn }]);
    },
  );

  it('refuses a command whose epoch was verified on an earlier connection', async () => {
    const { token } = await application();
    const numbering = replica();
    await numbering.take(token, CHATS, null);
    const connection = cache.connection();
    if (connection === null) throw new Error('not connected');
    const stale = { epoch: 1, connection };
    redis.disconnect(true);
    await new Promise((resolve) => redis.once('ready', resolve));
    const refused = await cache.allocate(token, CHATS, stale, null).catch((e: unknown) => e);
    expect(refused).to.be.instanceOf(NumberingUnavailableError);
  });

  it('keeps only what a replay needs in an idempotency record, with its TTL', async () => {
    const { token } = await application();
    const numbering = replica();
    await numbering.take(token, CHATS, null);
    const keyed = { key: randomUUID(), fingerprint: 'x'.repeat(43) };
    const first = await numbering.take(token, chat(1), keyed);
    const replay = await numbering.take(token, chat(1), keyed);
    expect(replay).to.include({ number: first.number, eventId: first.eventId, published: false });
    await cache.markPublished(token, chat(1), keyed.key);
    expect((await numbering.take(token, chat(1), keyed)).published).to.equal(true);
    const key = keys.idempotency(token, 'message:1', keyed.key);
    expect(await redis.ttl(key)).to.be.within(1, 60);
    const bytes = Number(await redis.memory('USAGE', key));
    expect(bytes).to.be.below(400); // no content: ids, number, time and fingerprint only
  });

  it('reserves concurrently without ever handing out the same block twice', async () => {
    const { token } = await application();
    const ceilings = await Promise.all(
      Array.from({ length: 10 }, () => ledger.reserve(token, chat(7), 0, 10)),
    );
    expect(new Set(ceilings).size).to.equal(10);
    expect(Math.max(...ceilings.map(Number))).to.equal(100);
    expect(await ledger.reserve(randomUUID(), CHATS, 0, 10)).to.equal(null);
  });

  it('reports the last number issued, and issues none for a deleted chat or application', async () => {
    const { token } = await application();
    const numbering = replica();
    expect(await numbering.lastIssued(token, CHATS)).to.equal(0);
    await numbering.take(token, CHATS, null);
    await numbering.take(token, CHATS, null);
    await numbering.take(token, chat(1), null);
    expect(await numbering.lastIssued(token, CHATS)).to.equal(2);
    expect(await numbering.lastIssued(token, chat(1))).to.equal(1);
    expect(await numbering.lastIssued(token, chat(2))).to.equal(0);
    await numbering.markDeleted(token, 1);
    const refused = (scope: NumberScope) =>
      numbering.take(token, scope, null).then(
        () => null,
        (e: unknown) => (e as NotFoundError).code,
      );
    expect(await refused(chat(1))).to.equal('chat_not_found');
    expect((await numbering.take(token, chat(2), null)).number).to.equal(1);
    // The mark survives a revalidation of the application (its hash from an older epoch, or
    // another process on a cluster).
    await redis.hdel(keys.application(token), 'e', 'r');
    expect(await refused(chat(1))).to.equal('chat_not_found');
    expect((await numbering.take(token, CHATS, null)).number).to.be.above(2);
    await numbering.markDeleted(token, null);
    expect(await refused(CHATS)).to.equal('application_not_found');
    expect(await refused(chat(2))).to.equal('application_not_found');
  });

  it('floors include rows persisted before ceilings existed', async () => {
    const { token, id } = await application();
    await persistChat(id, 5, 3);
    expect(await ledger.chatsFloor(token)).to.equal(5);
    expect(await ledger.chatFloor(token, 5)).to.deep.equal({
      persisted: true,
      deleted: false,
      messagesFloor: 3,
    });
    expect(await ledger.chatFloor(token, 6)).to.deep.equal({
      persisted: false,
      deleted: false,
      messagesFloor: 0,
    });
    expect(await ledger.chatsFloor(randomUUID())).to.equal(null);
  });

  it('fixes an application Idempotency-Key to the first claim', async () => {
    const appKeys = new RedisApplicationKeys(redis, keys, 60);
    const key = randomUUID();
    const first = await appKeys.claim(key, { fingerprint: 'f', token: 't1' });
    const second = await appKeys.claim(key, { fingerprint: 'f', token: 't2' });
    expect(first).to.deep.equal({ fingerprint: 'f', token: 't1' });
    expect(second).to.deep.equal({ fingerprint: 'f', token: 't1' });
  });

  it('keeps dirty ids across a crashed flusher run and forgets only what was flushed', async () => {
    const dirty = new DirtySet(redis, keys);
    await dirty.mark([1], [10, 11]);
    expect(await dirty.take('chats')).to.deep.equal([10, 11]);
    // The run dies here; new marks arrive meanwhile.
    await dirty.mark([], [12]);
    expect(await dirty.take('chats')).to.deep.equal([10, 11, 12]);
    await dirty.done('chats', [10, 11]);
    await dirty.mark([], [10]);
    expect(await dirty.take('chats')).to.deep.equal([10, 12]);
    expect(await dirty.take('apps')).to.deep.equal([1]);
  });

  it('lets one holder at a time take the Redis lock and hands it over on release', async () => {
    const key = `${prefix}lock`;
    const a = new RedisLock(redis, key, 1_000, silentLogger);
    const b = new RedisLock(redis, key, 1_000, silentLogger);
    const held = await a.tryAcquire();
    expect(held).not.to.equal(null);
    expect(await b.tryAcquire()).to.equal(null);
    await new Promise((r) => setTimeout(r, 1_200)); // renewed past its TTL
    expect(await b.tryAcquire()).to.equal(null);
    await held!.release();
    const next = await b.tryAcquire();
    expect(next).not.to.equal(null);
    await next!.release();
  });

  it('aborts the holder when its lock is taken away', async () => {
    const key = `${prefix}lock`;
    const held = await new RedisLock(redis, key, 300, silentLogger).tryAcquire();
    await redis.set(key, 'someone-else');
    await new Promise((r) => setTimeout(r, 250));
    expect(held!.signal.aborted).to.equal(true);
    await held!.release();
    expect(await redis.get(key)).to.equal('someone-else');
  });
});
