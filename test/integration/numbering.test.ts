import { randomUUID } from 'node:crypto';
import { expect } from 'chai';
import { Redis } from 'ioredis';
import { KeySpace } from '../../internal/counters/keys.js';
import { NumberAllocator, type IdempotencyRequest } from '../../internal/counters/numbers.js';
import { DirtySet } from '../../internal/counters/dirty.js';
import { RedisLock } from '../../internal/counters/redis-lock.js';
import { silentLogger, TEST_REDIS_URL, uniqueSuffix } from '../support/environment.js';

describe('counters: numbering, dirty sets and locks (Redis)', function () {
  this.timeout(20_000);
  let redis: Redis;
  let keys: KeySpace;
  let numbers: NumberAllocator;

  beforeEach(() => {
    redis = new Redis(TEST_REDIS_URL);
    keys = new KeySpace(`cs-test-${uniqueSuffix()}:`);
    numbers = new NumberAllocator(redis, keys, 60);
  });
  afterEach(() => redis.quit());

  const issued = async (p: Promise<{ kind: string; number?: number }>) => {
    const allocation = await p;
    expect(allocation.kind).to.equal('issued');
    return allocation.number as number;
  };

  it('issues 1..200 exactly once under 200 concurrent chat creates', async () => {
    const token = randomUUID();
    await numbers.registerApplication(token);
    const got = await Promise.all(
      Array.from({ length: 200 }, () => issued(numbers.allocateChat(token, null))),
    );
    expect([...got].sort((a, b) => a - b)).to.deep.equal(
      Array.from({ length: 200 }, (_, i) => i + 1),
    );
  });

  it('numbers messages per chat and refuses chats not issued yet', async () => {
    const token = randomUUID();
    await numbers.registerApplication(token);
    await issued(numbers.allocateChat(token, null));
    await issued(numbers.allocateChat(token, null));
    expect(await issued(numbers.allocateMessage(token, 1, null))).to.equal(1);
    expect(await issued(numbers.allocateMessage(token, 1, null))).to.equal(2);
    expect(await issued(numbers.allocateMessage(token, 2, null))).to.equal(1);
    expect((await numbers.allocateMessage(token, 3, null)).kind).to.equal('unknown_chat');
    expect((await numbers.allocateChat(randomUUID(), null)).kind).to.equal('unknown_application');
  });

  it('re-seeds above every persisted number after Redis lost its keys (FLUSHDB)', async () => {
    const isolated = new Redis(`${TEST_REDIS_URL}/14`);
    try {
      const allocator = new NumberAllocator(isolated, keys, 60);
      const token = randomUUID();
      await allocator.registerApplication(token);
      for (let i = 0; i < 3; i += 1) await allocator.allocateChat(token, null);
      await allocator.allocateMessage(token, 2, null);
      await isolated.flushdb();

      expect((await allocator.allocateChat(token, null)).kind).to.equal('unknown_application');
      await allocator.seedApplication(token, 3); // MAX(number) persisted in MySQL
      await allocator.seedApplication(token, 1); // a slower re-seed never lowers it
      expect(await issued(allocator.allocateChat(token, null))).to.equal(4);
      expect((await allocator.allocateMessage(token, 2, null)).kind).to.equal('unseeded_chat');
      await allocator.seedChat(token, 2, 1);
      expect(await issued(allocator.allocateMessage(token, 2, null))).to.equal(2);
      expect(await issued(allocator.allocateMessage(token, 4, null))).to.equal(1);
    } finally {
      await isolated.quit();
    }
  });

  it('records an Idempotency-Key in the same step as the number and replays it', async () => {
    const token = randomUUID();
    await numbers.registerApplication(token);
    const idem: IdempotencyRequest = {
      key: 'k-1',
      fingerprint: 'f',
      eventId: randomUUID(),
      createdAt: 'now',
    };
    const first = await issued(numbers.allocateChat(token, idem));
    const replay = await numbers.allocateChat(token, { ...idem, eventId: randomUUID() });
    expect(replay.kind).to.equal('replay');
    if (replay.kind !== 'replay') return;
    expect(replay.record).to.deep.include({
      number: first,
      eventId: idem.eventId,
      fingerprint: 'f',
    });
    await numbers.complete(token, 'chat', 'k-1', {
      ...replay.record,
      response: { status: 201, body: { chat_number: first } },
    });
    const done = await numbers.allocateChat(token, idem);
    expect(done.kind === 'replay' && done.record.response?.body).to.deep.equal({
      chat_number: first,
    });
    expect(await redis.ttl(keys.idempotency(token, 'chat', 'k-1'))).to.be.within(1, 60);
    expect(await issued(numbers.allocateChat(token, null))).to.equal(first + 1);
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
    const key = `${uniqueSuffix()}:lock`;
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
    const key = `${uniqueSuffix()}:lock`;
    const held = await new RedisLock(redis, key, 300, silentLogger).tryAcquire();
    await redis.set(key, 'someone-else');
    await new Promise((r) => setTimeout(r, 250));
    expect(held!.signal.aborted).to.equal(true);
    await held!.release();
    expect(await redis.get(key)).to.equal('someone-else');
  });
});
