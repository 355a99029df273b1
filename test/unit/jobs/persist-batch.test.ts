import { expect } from 'chai';
import { PersistBatch } from '../../../internal/jobs/persist-batch.js';
import type { BatchOutcome, CreateAnnouncer } from '../../../internal/domain/ports.js';
import { isTransientDatabaseError } from '../../../internal/db/errors.js';
import { FakeDirtyMarks } from '../../support/fakes/counters.js';
import { FakeBatchPersister } from '../../support/fakes/batch-persister.js';
import type { WriteEvent } from '../../../internal/domain/model.js';
import { createConsumerMetrics, createRegistry } from '../../../internal/metrics/registry.js';
import { silentLogger } from '../../support/environment.js';

const token = '2a7b3bbd-45e2-4eff-b7cd-0123456789ab';
const message = (n: number, content = `m${n}`): WriteEvent => ({
  kind: 'message.created',
  eventId: `00000000-0000-4000-8000-${String(n).padStart(12, '0')}`,
  applicationToken: token,
  chatNumber: 1,
  messageNumber: n,
  content,
  createdAt: '2026-01-01T00:00:00.000Z',
});

const ok = (touchedChatIds: number[] = [1]): BatchOutcome => ({
  rejected: [],
  discarded: [],
  touchedApplicationIds: [1],
  touchedChatIds,
});

function handler(options: {
  persist: (events: readonly WriteEvent[]) => Promise<BatchOutcome>;
  dirty?: FakeDirtyMarks;
  signal?: AbortSignal;
  announcer?: CreateAnnouncer;
  positions?: { wrote(tokens: Iterable<string>): Promise<void> };
}) {
  const dirty = options.dirty ?? new FakeDirtyMarks();
  return new PersistBatch({
    persist: options.persist,
    dirty,
    isTransient: isTransientDatabaseError,
    signal: options.signal ?? new AbortController().signal,
    metrics: createConsumerMetrics(createRegistry('test')),
    logger: silentLogger,
    ...(options.announcer === undefined ? {} : { announcer: options.announcer }),
    ...(options.positions === undefined ? {} : { positions: options.positions }),
  });
}

const lostConnection = () => Object.assign(new Error('lost'), { name: 'SequelizeConnectionError' });
const tooLong = () =>
  Object.assign(new Error('Data too long'), {
    name: 'SequelizeDatabaseError',
    original: { errno: 1406 },
  });

describe('jobs/PersistBatch', function () {
  this.timeout(5_000);

  it('records the applications’ positions after the commit and before any entry is settled, retrying', async () => {
    const steps: string[] = [];
    let failures = 1;
    const other = { ...message(9), applicationToken: 'another-token' } as WriteEvent;
    await handler({
      persist: () => {
        steps.push('commit');
        return Promise.resolve(ok());
      },
      positions: {
        wrote: (tokens) => {
          if (failures-- > 0) return Promise.reject(new Error('redis down'));
          steps.push(`positions ${[...tokens].sort().join(',')}`);
          return Promise.resolve();
        },
      },
      announcer: {
        settle: () => {
          steps.push('settle');
          return Promise.resolve();
        },
      },
    }).handle([message(1), message(2), other]);
    expect(steps).to.deep.equal([
      'commit',
      `positions ${['another-token', token].sort().join(',')}`,
      'settle',
    ]);
  });

  it('retries a batch while MySQL is unreachable, then marks it', async () => {
    let calls = 0;
    const dirty = new FakeDirtyMarks();
    const result = await handler({
      persist: () => (++calls < 3 ? Promise.reject(lostConnection()) : Promise.resolve(ok([7]))),
      dirty,
    }).handle([message(1), message(2)]);
    expect(calls).to.equal(3);
    expect(result).to.deep.equal({ deadLetter: [], retry: [] });
    expect(dirty.marks).to.deep.equal([[[1], [7]]]);
  });

  it('isolates a permanently failing event so the rest of the batch is persisted', async () => {
    const bad = message(2, 'bad');
    const persisted: number[] = [];
    const result = await handler({
      persist: (events) => {
        if (events.includes(bad)) return Promise.reject(tooLong());
        persisted.push(...events.map((e) => (e.kind === 'message.created' ? e.messageNumber : 0)));
        return Promise.resolve(ok());
      },
    }).handle([message(1), bad, message(3)]);
    expect(persisted).to.deep.equal([1, 3]);
    expect(result.retry).to.have.lengthOf(1);
    expect(result.retry[0]?.event).to.equal(bad);
    expect(result.retry[0]?.reason).to.match(/Data too long/);
  });

  it('passes rejected events (conflicts) on for dead-lettering with their typed reason', async () => {
    const conflict = message(2);
    const reason = { code: 'conflict', detail: 'message number already taken' } as const;
    const registry = createRegistry('test');
    const metrics = createConsumerMetrics(registry);
    const result = await new PersistBatch({
      persist: () => Promise.resolve({ ...ok(), rejected: [{ event: conflict, reason }] }),
      dirty: new FakeDirtyMarks(),
      isTransient: isTransientDatabaseError,
      signal: new AbortController().signal,
      metrics,
      logger: silentLogger,
    }).handle([message(1), conflict]);
    expect(result.deadLetter).to.deep.equal([{ event: conflict, reason }]);
    const counts = (await metrics.persisted.get()).values.map((v) => [
      v.labels['outcome'],
      v.value,
    ]);
    expect(counts).to.deep.include.members([
      ['persisted', 1],
      ['rejected', 1],
    ]);
  });

  it('gives the batch back (rejects) when shutdown interrupts retrying', async () => {
    const controller = new AbortController();
    const pending = handler({
      persist: () => Promise.reject(lostConnection()),
      signal: controller.signal,
    }).handle([message(1)]);
    setTimeout(() => controller.abort(new Error('shutting down')), 50);
    let caught: unknown;
    try {
      await pending;
    } catch (err) {
      caught = err;
    }
    expect(caught).to.be.instanceOf(Error);
  });

  it('retries marking counters dirty until Redis answers', async () => {
    const dirty = new FakeDirtyMarks();
    dirty.failMarks = 2;
    await handler({ persist: () => Promise.resolve(ok([3])), dirty }).handle([message(1)]);
    expect(dirty.marks).to.deep.equal([[[1], [3]]]);
  });

  it('persists a batch, passes its refused events on and marks only what was written', async () => {
    const store = new FakeBatchPersister();
    const dirty = new FakeDirtyMarks();
    const refused = message(2);
    store.reject = (e) =>
      e === refused ? { code: 'conflict', detail: 'message number already taken' } : null;
    const result = await handler({ persist: store.persist, dirty }).handle([message(1), refused]);
    expect([...store.persisted.keys()]).to.deep.equal([message(1).eventId]);
    expect(result.deadLetter.map((r) => r.event)).to.deep.equal([refused]);
    expect(result.retry).to.deep.equal([]);
    expect(dirty.marks).to.deep.equal([[[1], [1]]]);
  });

  it('announces what was persisted (and forgets what was discarded) after the commit, retrying until it is done', async () => {
    const [kept, dropped, refused] = [message(1), message(2), message(3)];
    const order: string[] = [];
    const settled: [readonly WriteEvent[], readonly WriteEvent[]][] = [];
    let failures = 1;
    const announcer: CreateAnnouncer = {
      settle: (persisted, discarded) => {
        order.push('settle');
        if (failures-- > 0) return Promise.reject(new Error('redis down'));
        settled.push([persisted, discarded]);
        return Promise.resolve();
      },
    };
    await handler({
      persist: () => {
        order.push('commit');
        return Promise.resolve({
          ...ok(),
          discarded: [dropped],
          rejected: [{ event: refused, reason: { code: 'conflict' as const, detail: 'x' } }],
        });
      },
      announcer,
    }).handle([kept, dropped, refused]);
    expect(order).to.deep.equal(['commit', 'settle', 'settle']);
    expect(settled).to.deep.equal([[[kept], [dropped]]]);
  });
});
