import { randomUUID } from 'node:crypto';
import { expect } from 'chai';
import type { RedisClient } from '../../internal/redis/client.js';
import { KeySpace } from '../../internal/redis/keys.js';
import {
  DELETED_LOG_TTL_MS,
  RedisLiveLog,
  RedisPendingCreates,
  compareIds,
} from '../../internal/redis/live.js';
import type { MessageCreated } from '../../internal/domain/model.js';
import type { LoggedEvent } from '../../internal/domain/ports.js';
import { TEST_REDIS_CLUSTER_NODES, uniqueSuffix } from '../support/environment.js';
import { keysMatching, removeKeys, testRedis } from '../support/redis.js';

describe('redis: chats’ event logs and read-your-writes entries (Redis Streams)', function () {
  this.timeout(30_000);
  const prefix = `cs-live-${uniqueSuffix()}:`;
  const keys = new KeySpace(prefix);
  let redis: RedisClient;
  // A standalone Redis has a blocking connection for reads; a cluster's logs are polled.
  let blocking: RedisClient | null;
  const DAY = 86_400_000;

  before(async () => {
    redis = await testRedis('live-test');
    blocking =
      TEST_REDIS_CLUSTER_NODES === ''
        ? await testRedis('live-test-events', { connect: false })
        : null;
  });
  after(async () => {
    await removeKeys(redis, `${prefix}*`);
    await redis.quit();
    blocking?.disconnect();
  });

  const message = (token: string, n: number, chat = 1): MessageCreated => ({
    kind: 'message.created',
    eventId: randomUUID(),
    applicationToken: token,
    chatNumber: chat,
    messageNumber: n,
    content: `m${n}`,
    createdAt: '2026-03-04T05:06:07.089Z',
  });
  const ids = (events: readonly LoggedEvent[] | 'reset') =>
    events === 'reset' ? 'reset' : events.map((e) => e.id);

  it('appends events in order with growing ids, and replays those after an id', async () => {
    const log = new RedisLiveLog(redis, keys, { minEvents: 1_000, minAgeMs: DAY });
    const token = randomUUID();
    expect(await log.last(token, 1)).to.equal('0-0');
    for (const n of [1, 2, 3]) {
      await log.append(token, 1, { type: 'message.updated', data: { n } });
    }
    const all = await log.since(token, 1, '0-0', 100);
    expect(all).to.not.equal('reset');
    const events = all as readonly LoggedEvent[];
    expect(events.map((e) => [e.type, JSON.parse(e.data) as unknown])).to.deep.equal([
      ['message.updated', { n: 1 }],
      ['message.updated', { n: 2 }],
      ['message.updated', { n: 3 }],
    ]);
    expect(compareIds(events[0]!.id, events[1]!.id)).to.equal(-1);
    expect(await log.last(token, 1)).to.equal(events[2]!.id);
    expect(ids(await log.since(token, 1, events[0]!.id, 100))).to.deep.equal(
      events.slice(1).map((e) => e.id),
    );
    expect(ids(await log.since(token, 1, events[0]!.id, 1))).to.deep.equal([events[1]!.id]);
    // An id this log never gave is a reset, not an empty replay.
    expect(await log.since(token, 1, '99999999999999-0', 100)).to.equal('reset');
    expect(await log.since(token, 1, 'nonsense', 100)).to.equal('reset');
    expect(await log.since(token, 2, events[0]!.id, 100)).to.equal('reset');
  });

  it('lets the log of a deleted chat go by itself once chat.deleted was appended', async () => {
    const log = new RedisLiveLog(redis, keys, { minEvents: 1_000, minAgeMs: DAY });
    const token = randomUUID();
    await log.append(token, 3, { type: 'chat.updated', data: { chat_number: 3 } });
    expect(await redis.pttl(keys.events(token, 3))).to.equal(-1);
    await log.append(token, 3, { type: 'chat.deleted', data: { chat_number: 3 } });
    expect(await redis.pttl(keys.events(token, 3))).to.be.within(1, DELETED_LOG_TTL_MS);
    expect(await redis.xlen(keys.events(token, 3))).to.equal(2);
  });

  it('keeps the last minEvents of a chat once older than minAge, and answers a resume before them with a reset', async () => {
    const young = new RedisLiveLog(redis, keys, { minEvents: 5, minAgeMs: DAY });
    const token = randomUUID();
    for (let n = 0; n < 20; n += 1)
      await young.append(token, 1, { type: 'chat.updated', data: {} });
    // All younger than a day: all kept, whatever minEvents says.
    expect(await redis.xlen(keys.events(token, 1))).to.equal(20);

    const old = new RedisLiveLog(redis, keys, { minEvents: 5, minAgeMs: 1 });
    const first = (await old.since(token, 1, '0-0', 1)) as LoggedEvent[];
    // Let a millisecond pass so every entry is older than minAge.
    await new Promise((resolve) => setTimeout(resolve, 5));
    await old.append(token, 1, { type: 'chat.updated', data: {} });
    const kept = await old.since(token, 1, '0-0', 100);
    expect(kept).to.equal('reset');
    // The last five, and the newest it could have removed (so a client that saw it resumes).
    expect(await redis.xlen(keys.events(token, 1))).to.equal(6);
    expect(await old.since(token, 1, first[0]!.id, 100)).to.equal('reset');
    const tail = (await redis.xrange(keys.events(token, 1), '-', '+')).map(([id]) => id);
    // Resuming from the newest trimmed id, or any kept one, misses nothing.
    const fromKept = await old.since(token, 1, tail[0]!, 100);
    expect(ids(fromKept)).to.deep.equal(tail.slice(1));
  });

  it('announces a persisted message once, with the representation GET returns, and forgets discarded creates', async () => {
    const log = new RedisLiveLog(redis, keys, { minEvents: 1_000, minAgeMs: DAY });
    const pending = new RedisPendingCreates(redis, keys, 60_000);
    const token = randomUUID();
    const [a, b, gone] = [message(token, 1), message(token, 2), message(token, 3)];
    for (const m of [a, b, gone]) {
      const ref = { kind: 'message', chat: 1, message: m.messageNumber } as const;
      await pending.stage(token, ref, m.eventId, { n: m.messageNumber });
      await pending.confirm(token, ref);
    }
    // A create the API never staged (its entry expired) is not announced: nothing to say twice.
    await log.settle([a, b, message(token, 4)], [gone]);
    await log.settle([a, b], []); // redelivered
    const events = (await log.since(token, 1, '0-0', 100)) as readonly LoggedEvent[];
    expect(events.map((e) => e.type)).to.deep.equal(['message.created', 'message.created']);
    expect(JSON.parse(events[0]!.data)).to.deep.equal({
      type: 'message',
      application_token: token,
      chat_number: 1,
      message_number: 1,
      message_content: 'm1',
      created_at: a.createdAt,
      updated_at: a.createdAt,
    });
    expect(await keysMatching(redis, `${prefix}{${token}}:pending:*`)).to.deep.equal([]);
  });

  it('leaves the entry of another create with the same number alone (a conflict)', async () => {
    const log = new RedisLiveLog(redis, keys, { minEvents: 1_000, minAgeMs: DAY });
    const pending = new RedisPendingCreates(redis, keys, 60_000);
    const token = randomUUID();
    const real = message(token, 1);
    const ref = { kind: 'message', chat: 1, message: 1 } as const;
    await pending.stage(token, ref, real.eventId, { real: true });
    await pending.confirm(token, ref);
    await log.settle([message(token, 1)], []);
    expect(await pending.find(token, ref)).to.deep.equal({ real: true });
    expect(await log.last(token, 1)).to.equal('0-0');
  });

  it('shows an entry only once confirmed, never recreates one the consumer removed, hides it once deleted, and bounds it by a TTL', async () => {
    const log = new RedisLiveLog(redis, keys, { minEvents: 1_000, minAgeMs: DAY });
    const pending = new RedisPendingCreates(redis, keys, 60_000);
    const token = randomUUID();
    const chat = { kind: 'chat', chat: 1 } as const;
    const created = {
      kind: 'chat.created',
      eventId: randomUUID(),
      applicationToken: token,
      chatNumber: 1,
      chatName: null,
      createdAt: '2026-03-04T05:06:07.089Z',
    } as const;
    await pending.stage(token, chat, created.eventId, { chat: 1 });
    expect(await pending.find(token, chat)).to.equal(null);
    expect(await redis.pttl(keys.pending(token, chat))).to.be.within(1, 60_000);
    await pending.confirm(token, chat);
    expect(await pending.find(token, chat)).to.deep.equal({ chat: 1 });
    await log.settle([created], []);
    await pending.confirm(token, chat);
    expect(await pending.find(token, chat)).to.equal(null);
    expect(await redis.exists(keys.pending(token, chat))).to.equal(0);

    const other = { kind: 'message', chat: 2, message: 1 } as const;
    await pending.stage(token, other, randomUUID(), { m: 1 });
    await pending.confirm(token, other);
    expect(await pending.find(token, other)).to.deep.equal({ m: 1 });
    // What numbering writes when the chat is deleted hides everything under it.
    await redis.hset(keys.application(token), 'd:2', 1);
    expect(await pending.find(token, other)).to.equal(null);
    await pending.remove(token, other);
    expect(await redis.exists(keys.pending(token, other))).to.equal(0);
  });

  it('reads several chats of several applications at once, and an interrupt ends a read at once', async () => {
    await blocking?.connect();
    const log = new RedisLiveLog(redis, keys, { minEvents: 1_000, minAgeMs: DAY }, blocking);
    const token = randomUUID();
    // Another application's chats: on a cluster, another hash slot.
    const other = randomUUID();
    const cursors = [1, 2, 3].flatMap((chat) => [
      { token, chat, after: '0-0' },
      { token: other, chat, after: '0-0' },
    ]);
    // As the hub does: read again until both came (a cluster's read returns after each poll).
    const waiting = (async () => {
      const seen = new Map<string, number>();
      while (seen.size < 2) {
        for (const g of await log.read(cursors, 20_000)) {
          seen.set(`${g.token}/${g.chat}`, g.events.length);
        }
      }
      return seen;
    })();
    await log.append(token, 2, { type: 'chat.updated', data: { chat: 2 } });
    await log.append(other, 3, { type: 'chat.updated', data: { chat: 3 } });
    expect([...(await waiting)]).to.have.deep.members([
      [`${token}/2`, 1],
      [`${other}/3`, 1],
    ]);
    const got = await log.read([{ token, chat: 2, after: '0-0' }], 20_000);
    const after = got.find((g) => g.token === token)!.events[0]!.id;
    const blocked = log.read([{ token, chat: 2, after }], 20_000);
    await new Promise((resolve) => setTimeout(resolve, 50));
    await log.interrupt();
    expect(await blocked).to.deep.equal([]);
  });
});
