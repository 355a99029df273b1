import { randomUUID } from 'node:crypto';
import { expect } from 'chai';
import {
  partitionOf,
  partitionSet,
  planQueues,
  queueOfEvent,
  retiredAfterMs,
  type RegisteredQueue,
} from '../../../internal/domain/partitions.js';
import type { WriteEvent } from '../../../internal/domain/model.js';

const TOKEN = '2a7b3bbd-45e2-4eff-b7cd-0123456789ab';

const registered = (name: string, over: Partial<RegisteredQueue> = {}): RegisteredQueue => ({
  name,
  partitions: 4,
  idleMs: 0,
  heartbeatAt: '2026-01-01 00:00:00.000000',
  drained: false,
  ...over,
});

describe('partitioned write queues', () => {
  it('keeps the base queue name for one partition, and names each set apart', () => {
    expect(partitionSet('writes', 1).queues).to.deep.equal(['writes']);
    expect(partitionSet('writes', 4).queues).to.deep.equal([
      'writes.p0-of-4',
      'writes.p1-of-4',
      'writes.p2-of-4',
      'writes.p3-of-4',
    ]);
    // A rolling change of N never mixes two hashings in one queue.
    const two = new Set(partitionSet('writes', 2).queues);
    expect(partitionSet('writes', 4).queues.some((q) => two.has(q))).to.equal(false);
    expect(() => partitionSet('writes', 0)).to.throw();
  });

  it('hashes (application, chat) the same way in every process and version', () => {
    // Fixed values: a change here would send a chat's messages to another queue than its create.
    expect([1, 2, 3, 4, 5, 6, 7, 8].map((chat) => partitionOf(TOKEN, chat, 4))).to.deep.equal([
      0, 1, 2, 3, 0, 1, 2, 3,
    ]);
    expect(partitionOf('abc', 1, 4)).to.equal(2);
    expect(partitionOf(TOKEN, 7, 1)).to.equal(0);
    expect(partitionOf('a', 1, 1_000_003)).to.equal(partitionOf('a', 1, 1_000_003));
    expect(partitionOf('abc', 1, 4)).to.equal(fnv1a('abc:1') % 4);
    expect(partitionOf(TOKEN, 42, 7)).to.equal(fnv1a(`${TOKEN}:42`) % 7);
  });

  it('spreads chats over every partition, near evenly', () => {
    const counts = [0, 0, 0, 0];
    for (let i = 0; i < 4_000; i += 1) {
      const token = randomUUID();
      counts[partitionOf(token, 1 + (i % 50), 4)]! += 1;
    }
    for (const count of counts) expect(count).to.be.within(850, 1_150);
  });

  it("sends a chat's create and its messages to one queue; marks to none in particular", () => {
    const set = partitionSet('writes', 4);
    for (let chat = 1; chat <= 40; chat += 1) {
      const create: WriteEvent = {
        kind: 'chat.created',
        eventId: randomUUID(),
        applicationToken: TOKEN,
        chatNumber: chat,
        chatName: null,
        createdAt: new Date().toISOString(),
      };
      const message: WriteEvent = {
        kind: 'message.created',
        eventId: randomUUID(),
        applicationToken: TOKEN,
        chatNumber: chat,
        messageNumber: 3,
        content: 'x',
        createdAt: new Date().toISOString(),
      };
      expect(queueOfEvent(message, set)).to.equal(queueOfEvent(create, set));
    }
    expect(queueOfEvent({ kind: 'numbering.fence', eventId: randomUUID(), epoch: 1 }, set)).to.be
      .null;
  });

  it('retires a set only after its lease and every create deadline under it have passed', () => {
    expect(
      retiredAfterMs({ heartbeatMs: 5_000, leaseMs: 20_000, marginMs: 5_000 }, 5_000),
    ).to.equal(30_000);
  });

  describe('planQueues', () => {
    const depths = new Map<string, number | null>();
    const depth = (name: string) => depths.get(name) ?? null;
    beforeEach(() => depths.clear());

    it('always consumes the base queue, and every queue not drained', () => {
      const plan = planQueues(
        'writes',
        [registered('writes.p0-of-2', { partitions: 2 })],
        depth,
        1_000,
      );
      expect(plan.consume).to.have.members(['writes', 'writes.p0-of-2']);
      expect(plan.mark).to.deep.equal([]);
    });

    it('marks retired queues (idle past the bound) and still consumes them until drained', () => {
      const plan = planQueues(
        'writes',
        [
          registered('writes.p0-of-4', { idleMs: 1_001 }),
          registered('writes.p1-of-4', { idleMs: 999 }),
        ],
        depth,
        1_000,
      );
      expect(plan.consume).to.have.members(['writes', 'writes.p0-of-4', 'writes.p1-of-4']);
      expect(plan.mark.map((q) => q.name)).to.deep.equal(['writes.p0-of-4']);
    });

    it('leaves a drained queue once empty, and takes it again if a message shows up', () => {
      const queues = [registered('writes.p0-of-4', { idleMs: 60_000, drained: true })];
      depths.set('writes.p0-of-4', 0);
      expect(planQueues('writes', queues, depth, 1_000).consume).to.deep.equal(['writes']);
      depths.set('writes.p0-of-4', 2);
      expect(planQueues('writes', queues, depth, 1_000).consume).to.have.members([
        'writes',
        'writes.p0-of-4',
      ]);
      expect(planQueues('writes', queues, depth, 1_000).mark).to.deep.equal([]);
    });

    it('never retires the base queue, whatever its heartbeat', () => {
      const plan = planQueues(
        'writes',
        [registered('writes', { partitions: 1, idleMs: 10_000_000 })],
        depth,
        1_000,
      );
      expect(plan.consume).to.deep.equal(['writes']);
      expect(plan.mark).to.deep.equal([]);
    });
  });
});

function fnv1a(key: string): number {
  let hash = 0x811c9dc5;
  for (const char of key) {
    hash ^= char.charCodeAt(0);
    hash = Math.imul(hash, 0x01000193) >>> 0;
  }
  return hash;
}
