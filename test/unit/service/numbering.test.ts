import { expect } from 'chai';
import { Numbering, blockFor, type NumberDecision } from '../../../internal/service/numbering.js';
import type { NumberScope } from '../../../internal/domain/ports.js';
import {
  ChatPendingError,
  IdempotencyKeyReusedError,
  NotFoundError,
  NumberingUnavailableError,
} from '../../../internal/domain/errors.js';
import { FakeNumberCache } from '../../support/fakes/number-cache.js';
import { FakeNumberLedger } from '../../support/fakes/number-ledger.js';
import { FakePublisher } from '../../support/fakes/publisher.js';
import { silentLogger } from '../../support/environment.js';

const OPTIONS = { blockMin: 4, blockMax: 50, createDeadlineMs: 5_000, fenceMarginMs: 1_000 };
const CHATS: NumberScope = { kind: 'chats' };
const chat = (n: number): NumberScope => ({ kind: 'messages', chat: n });
const TOKEN = '6f1c2b9e-0c1d-4e8f-9a7b-3c2d1e0f9a8b';

function system(cache = new FakeNumberCache()) {
  const ledger = new FakeNumberLedger();
  const publisher = new FakePublisher();
  ledger.addApplication(TOKEN);
  const counts = { reserved: 0, revalidated: 0, epochs: 0, pending: 0 };
  const replica = () =>
    new Numbering(
      cache,
      ledger,
      publisher,
      OPTIONS,
      {
        reserved: () => (counts.reserved += 1),
        revalidated: () => (counts.revalidated += 1),
        epochBegan: () => (counts.epochs += 1),
        pending: () => (counts.pending += 1),
      },
      silentLogger,
    );
  return { cache, ledger, publisher, counts, numbering: replica(), replica };
}

const numbers = async (take: () => Promise<NumberDecision>, count: number) => {
  const got: number[] = [];
  for (let i = 0; i < count; i += 1) got.push((await take()).number);
  return got;
};
const range = (from: number, to: number) =>
  Array.from({ length: to - from + 1 }, (_, i) => from + i);

describe('Numbering (on fakes)', () => {
  it('issues 1, 2, 3… per scope, reserving growing blocks in the ledger first', async () => {
    const { numbering, ledger } = system();
    expect(await numbers(() => numbering.take(TOKEN, CHATS, null), 3)).to.deep.equal([1, 2, 3]);
    expect(await numbers(() => numbering.take(TOKEN, chat(2), null), 40)).to.deep.equal(
      range(1, 40),
    );
    expect(await numbers(() => numbering.take(TOKEN, chat(3), null), 2)).to.deep.equal([1, 2]);
    // Every issued number is covered by a durable ceiling.
    expect(ledger.ceilings.get(`${TOKEN}:0`)).to.be.at.least(3);
    expect(ledger.ceilings.get(`${TOKEN}:2`)).to.be.at.least(40);
    // 40 numbers in chat 2 took far fewer than 40 reservations.
    expect(ledger.reservations).to.be.below(12);
  });

  it('sizes blocks by what the scope issued, within the bounds', () => {
    expect(blockFor(0, OPTIONS)).to.equal(4);
    expect(blockFor(30, OPTIONS)).to.equal(15);
    expect(blockFor(10_000, OPTIONS)).to.equal(50);
  });

  it('answers 404 for an unknown application and for a chat never issued', async () => {
    const { numbering } = system();
    await numbering.take(TOKEN, CHATS, null);
    const missing = await numbering
      .take('00000000-0000-4000-8000-000000000000', CHATS, null)
      .catch((e: unknown) => e);
    expect(missing).to.be.instanceOf(NotFoundError).with.property('code', 'application_not_found');
    const noChat = await numbering.take(TOKEN, chat(2), null).catch((e: unknown) => e);
    expect(noChat).to.be.instanceOf(NotFoundError).with.property('code', 'chat_not_found');
  });

  it('never reissues a number after FLUSHALL with creates still queued, and resumes above the ceiling', async () => {
    const { numbering, cache, ledger, counts } = system();
    const issuedChats = await numbers(() => numbering.take(TOKEN, CHATS, null), 5);
    const issuedMessages = await numbers(() => numbering.take(TOKEN, chat(1), null), 9);
    ledger.persist(TOKEN, 1, 3); // the consumer is behind: chats 2–5 and messages 4–9 queued
    cache.flushAll();
    const nextChat = (await numbering.take(TOKEN, CHATS, null)).number;
    const nextMessage = (await numbering.take(TOKEN, chat(1), null)).number;
    expect(issuedChats).to.not.include(nextChat);
    expect(nextChat).to.be.above(Math.max(...issuedChats));
    expect(nextMessage).to.be.above(Math.max(...issuedMessages));
    expect(counts.epochs).to.equal(2);
  });

  it('answers 503 chat_pending (never 404) for a chat answered 201 but still queued after a loss, until it is persisted', async () => {
    const { numbering, cache, ledger } = system();
    await numbers(() => numbering.take(TOKEN, CHATS, null), 3);
    ledger.persist(TOKEN, 1);
    cache.flushAll();
    const pending = await numbering.take(TOKEN, chat(3), null).catch((e: unknown) => e);
    expect(pending).to.be.instanceOf(ChatPendingError).with.property('status', 503);
    expect((pending as ChatPendingError).headers).to.have.property('Retry-After');
    // Chat 1 is persisted: it keeps taking messages.
    expect((await numbering.take(TOKEN, chat(1), null)).number).to.equal(1);
    ledger.persist(TOKEN, 3);
    expect((await numbering.take(TOKEN, chat(3), null)).number).to.equal(1);
  });

  it('settles a never-issued chat number to 404 once the fence behind the lost creates is persisted', async () => {
    const { numbering, cache, ledger, publisher } = system();
    await numbers(() => numbering.take(TOKEN, CHATS, null), 2); // ceiling reserved above 2
    const ceiling = ledger.ceilings.get(`${TOKEN}:0`) ?? 0;
    expect(ceiling).to.be.above(2);
    cache.flushAll();
    // Within the ambiguous range but never issued: 503 while the epoch is young…
    const early = await numbering.take(TOKEN, chat(ceiling), null).catch((e: unknown) => e);
    expect(early).to.be.instanceOf(ChatPendingError);
    expect(publisher.published).to.have.length(0);
    // …a fence once no create numbered before the loss can still be sent…
    ledger.now = OPTIONS.createDeadlineMs + OPTIONS.fenceMarginMs;
    await numbering.take(TOKEN, chat(ceiling), null).catch(() => undefined);
    expect(publisher.published.map((p) => p.event.kind)).to.deep.equal(['numbering.fence']);
    const fence = publisher.published[0]?.event;
    // …and 404 once the consumer persisted it.
    if (fence?.kind !== 'numbering.fence') throw new Error('no fence');
    ledger.settle(fence.epoch);
    const settled = await numbering.take(TOKEN, chat(ceiling), null).catch((e: unknown) => e);
    expect(settled).to.be.instanceOf(NotFoundError);
    // A number above the ceiling was never issued: 404 at once, no fence needed.
    const above = await numbering.take(TOKEN, chat(ceiling + 1), null).catch((e: unknown) => e);
    expect(above).to.be.instanceOf(NotFoundError);
  });

  it('never reissues after a restore from an older snapshot (new process, older values)', async () => {
    const { numbering, cache, ledger } = system();
    await numbering.take(TOKEN, CHATS, null);
    const before = await numbers(() => numbering.take(TOKEN, chat(1), null), 10);
    const snapshot = cache.snapshot();
    const after = await numbers(() => numbering.take(TOKEN, chat(1), null), 10);
    ledger.persist(TOKEN, 1, 4); // the consumer is behind
    cache.restart(snapshot); // rolled back to 10 issued, with the epoch record of that time
    const next = await numbers(() => numbering.take(TOKEN, chat(1), null), 5);
    for (const n of next) expect([...before, ...after]).to.not.include(n);
  });

  it('refuses a command carrying a ticket verified on a connection that has since been replaced', async () => {
    const { numbering, cache, ledger } = system();
    await numbering.take(TOKEN, CHATS, null);
    const snapshot = cache.snapshot(); // holds the current epoch record
    const calls = cache.calls.length;
    const ticket = cache.calls[calls - 1]?.ticket;
    if (ticket === undefined) throw new Error('no call');
    await numbering.take(TOKEN, chat(1), null); // 1 issued on the old process
    ledger.persist(TOKEN, 1);
    cache.restart(snapshot); // same epoch record, older values: only the connection tells
    // The old ticket would match the restored hash's epoch and issue 1 again; it never gets there.
    expect(() => cache.allocate(TOKEN, chat(1), ticket, null)).to.throw(NumberingUnavailableError);
    // Through Numbering, the new connection is verified first: a new epoch, and 1 is not reissued.
    expect((await numbering.take(TOKEN, chat(1), null)).number).to.be.above(1);
  });

  it('answers 503 numbering_unavailable while Redis is unreachable', async () => {
    const { numbering, cache } = system();
    cache.disconnect();
    const err = await numbering.take(TOKEN, CHATS, null).catch((e: unknown) => e);
    expect(err)
      .to.be.instanceOf(NumberingUnavailableError)
      .with.property('code', 'numbering_unavailable');
  });

  it('lets two replicas meet a loss at once: one epoch, no number issued twice', async () => {
    const { replica, cache, ledger, counts } = system();
    const a = replica();
    const b = replica();
    await a.take(TOKEN, CHATS, null);
    const seen = new Set<number>();
    const take = async (r: Numbering) => {
      const n = (await r.take(TOKEN, chat(1), null)).number;
      expect(seen.has(n), `number ${n} issued twice`).to.equal(false);
      seen.add(n);
    };
    await Promise.all(Array.from({ length: 30 }, (_, i) => take(i % 2 === 0 ? a : b)));
    ledger.persist(TOKEN, 1, 7); // the consumer is behind
    cache.restart(null);
    await Promise.all(Array.from({ length: 30 }, (_, i) => take(i % 2 === 0 ? a : b)));
    expect(seen.size).to.equal(60);
    expect(counts.epochs).to.equal(2); // the first start, and one for the restart
  });

  it('replays a keyed create: same number and event; another body under the key is refused', async () => {
    const { numbering } = system();
    await numbering.take(TOKEN, CHATS, null);
    const keyed = { key: 'k-1', fingerprint: 'f-1' };
    const first = await numbering.take(TOKEN, chat(1), keyed);
    const again = await numbering.take(TOKEN, chat(1), keyed);
    expect(again).to.include({
      number: first.number,
      eventId: first.eventId,
      createdAt: first.createdAt,
      replayed: true,
      published: false,
    });
    const other = await numbering
      .take(TOKEN, chat(1), { key: 'k-1', fingerprint: 'f-2' })
      .catch((e: unknown) => e);
    expect(other).to.be.instanceOf(IdempotencyKeyReusedError);
  });

  it('gives every issued number a send deadline of the create deadline from its allocation', async () => {
    const { numbering } = system();
    const before = Date.now();
    const d = await numbering.take(TOKEN, CHATS, null);
    expect(d.sendBy).to.be.within(
      before + OPTIONS.createDeadlineMs,
      Date.now() + OPTIONS.createDeadlineMs,
    );
  });
});

describe('Numbering on a cache trusted per process (Redis Cluster, on fakes)', () => {
  const OTHER = '0a1b2c3d-4e5f-4a6b-8c7d-9e0f1a2b3c4d';
  const cluster = () => {
    const parts = system(new FakeNumberCache({ perProcess: true }));
    parts.ledger.addApplication(OTHER);
    return parts;
  };

  it('never reissues after a failover to an older copy on the same connection, under one epoch per process', async () => {
    const { numbering, cache, ledger, counts } = cluster();
    await numbering.take(TOKEN, CHATS, null);
    await numbering.take(OTHER, CHATS, null);
    const before = await numbers(() => numbering.take(TOKEN, chat(1), null), 10);
    const copy = cache.snapshot(); // what the replica had received
    const after = await numbers(() => numbering.take(TOKEN, chat(1), null), 10);
    ledger.persist(TOKEN, 1, 4); // the consumer is behind
    const epochs = counts.epochs;
    cache.failover(copy);
    const next = await numbers(() => numbering.take(TOKEN, chat(1), null), 5);
    for (const n of next) expect([...before, ...after]).to.not.include(n);
    expect((await numbering.take(OTHER, CHATS, null)).number).to.be.above(1);
    // One new epoch for the new process, shared by every application it holds.
    expect(counts.epochs).to.equal(epochs + 1);
  });

  it('answers 503 chat_pending for a chat queued before the failover, and 404 for a never-issued one once the new process’s fence is persisted', async () => {
    const { numbering, cache, ledger, publisher } = cluster();
    await numbers(() => numbering.take(TOKEN, CHATS, null), 2);
    const copy = cache.snapshot();
    await numbering.take(TOKEN, CHATS, null); // chat 3: answered 201, still queued
    const ceiling = ledger.ceilings.get(`${TOKEN}:0`) ?? 0;
    cache.failover(copy);
    const queued = await numbering.take(TOKEN, chat(3), null).catch((e: unknown) => e);
    expect(queued).to.be.instanceOf(ChatPendingError);
    ledger.now = OPTIONS.createDeadlineMs + OPTIONS.fenceMarginMs;
    await numbering.take(TOKEN, chat(ceiling), null).catch(() => undefined);
    const fence = publisher.published.find((p) => p.event.kind === 'numbering.fence')?.event;
    if (fence?.kind !== 'numbering.fence') throw new Error('no fence');
    ledger.settle(fence.epoch);
    expect(
      await numbering.take(TOKEN, chat(ceiling), null).catch((e: unknown) => e),
    ).to.be.instanceOf(NotFoundError);
    ledger.persist(TOKEN, 3);
    expect((await numbering.take(TOKEN, chat(3), null)).number).to.equal(1);
  });

  it('lets two replicas meet a failover at once: no 503, no number issued twice', async () => {
    const { numbering, cache, ledger, replica } = cluster();
    const other = replica();
    await numbering.take(TOKEN, CHATS, null);
    await numbering.take(TOKEN, chat(1), null);
    ledger.persist(TOKEN, 1);
    cache.failover();
    const got = await Promise.all(
      Array.from({ length: 40 }, (_, i) =>
        (i % 2 === 0 ? numbering : other).take(TOKEN, chat(1), null).then((d) => d.number),
      ),
    );
    expect(new Set(got).size).to.equal(40);
    expect(Math.min(...got)).to.be.above(1);
  });
});
