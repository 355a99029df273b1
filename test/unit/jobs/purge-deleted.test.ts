import { expect } from 'chai';
import { PurgeDeleted } from '../../../internal/jobs/purge-deleted.js';
import { createPurgeMetrics, createRegistry } from '../../../internal/metrics/registry.js';
import type { PurgeTask } from '../../../internal/domain/ports.js';
import { silentLogger } from '../../support/environment.js';
import { FakePurgeStore } from '../../support/fakes/purge.js';
import { FakeLock, FakeSearchIndexer } from '../../support/fakes/search-outbox.js';
import { FakeLiveLog } from '../../support/fakes/live.js';
import { until } from '../../support/until.js';

const TOKEN = '2a7b3bbd-45e2-4eff-b7cd-0123456789ab';
const chat = (id: number, number: number): PurgeTask => ({
  kind: 'chat',
  id,
  applicationToken: TOKEN,
  chatNumber: number,
});
const application = (id: number): PurgeTask => ({
  kind: 'application',
  id,
  applicationToken: TOKEN,
  chatNumber: null,
});

function setup(options: { indexer?: FakeSearchIndexer | null } = {}) {
  const store = new FakePurgeStore();
  const live = new FakeLiveLog();
  const indexer = options.indexer === undefined ? new FakeSearchIndexer() : options.indexer;
  const lock = new FakeLock();
  const registry = createRegistry('test');
  const metrics = createPurgeMetrics(registry, () => store.backlog());
  const job = new PurgeDeleted({
    store,
    indexer,
    lock,
    batchSize: 3,
    intervalMs: 5,
    metrics,
    logger: silentLogger,
    backoff: { baseMs: 5, maxMs: 20 },
    live,
  });
  const value = async (name: string, labels: Record<string, string> = {}) =>
    (await registry.getSingleMetric(name)?.get())?.values.find((v) =>
      Object.entries(labels).every(([k, l]) => v.labels[k] === l),
    )?.value;
  return { store, indexer, lock, job, value, live };
}

describe('jobs/PurgeDeleted', function () {
  this.timeout(5_000);

  it('purges each task in batches of at most batchSize rows, oldest task first', async () => {
    const { store, job, value } = setup();
    store.queue(chat(7, 2), 7);
    store.queue(application(1), 2);
    expect(await job.drain(new AbortController().signal)).to.equal(9);
    // 3 + 3 + 1, then the empty call that says the chat is done; then the application.
    expect(store.calls).to.deep.equal([
      { id: 7, limit: 3 },
      { id: 7, limit: 3 },
      { id: 7, limit: 3 },
      { id: 7, limit: 3 },
      { id: 1, limit: 3 },
      { id: 1, limit: 3 },
    ]);
    expect(store.finished.map((t) => t.id)).to.deep.equal([7, 1]);
    expect(await value('purge_rows_total', { kind: 'chat' })).to.equal(7);
    expect(await value('purge_tasks_total', { kind: 'application' })).to.equal(1);
    expect(await value('purge_backlog_tasks')).to.equal(0);
  });

  it('removes the search documents of a chat or an application after its rows', async () => {
    const { store, indexer, job } = setup();
    store.queue(chat(7, 2), 1);
    store.queue(application(1), 1);
    store.queue({ kind: 'chat', id: 9, applicationToken: null, chatNumber: null }, 0);
    await job.drain(new AbortController().signal);
    expect(indexer?.removedScopes).to.deep.equal([
      { applicationToken: TOKEN, chatNumber: 2 },
      { applicationToken: TOKEN },
    ]);
    expect(store.finished.map((t) => t.id)).to.deep.equal([7, 1, 9]);
  });

  it('keeps a task whose documents could not be removed, and finishes it on a later round', async () => {
    const indexer = new FakeSearchIndexer();
    const { store, job } = setup({ indexer });
    store.queue(chat(7, 2), 4);
    indexer.down = true;
    const failed = await job.drain(new AbortController().signal).catch((e: unknown) => e);
    expect(failed).to.be.instanceOf(Error);
    expect(store.rowsOf(7)).to.equal(0);
    expect(store.finished).to.deep.equal([]);
    indexer.down = false;
    await job.drain(new AbortController().signal);
    expect(store.finished.map((t) => t.id)).to.deep.equal([7]);
  });

  it('resumes a purge cut short by a failure where it stopped, under the lock', async () => {
    const { store, job, lock } = setup({ indexer: null });
    store.queue(chat(7, 2), 10);
    store.failAfter = 2;
    const shutdown = new AbortController();
    const running = job.run(shutdown.signal);
    await until(() => store.rowsOf(7) === 4);
    store.failAfter = Infinity;
    await until(() => store.finished.length === 1);
    shutdown.abort();
    await running;
    expect(store.tasks).to.deep.equal([]);
    expect(lock.heldElsewhere).to.equal(false);
  });

  it('does nothing while another replica holds the lock', async () => {
    const { store, job, lock } = setup();
    store.queue(chat(7, 2), 5);
    lock.heldElsewhere = true;
    const shutdown = new AbortController();
    const running = job.run(shutdown.signal);
    await new Promise((r) => setTimeout(r, 50));
    shutdown.abort();
    await running;
    expect(store.calls).to.deep.equal([]);
  });

  it('ends the event streams of the chats of a deleted application with chat.deleted', async () => {
    const { store, job, live } = setup();
    store.queue(application(1), 2);
    store.chats.set(1, [1, 4]);
    store.queue(chat(7, 2), 1);
    await job.drain(new AbortController().signal);
    expect(live.types(TOKEN, 1)).to.deep.equal(['chat.deleted']);
    expect(live.types(TOKEN, 4)).to.deep.equal(['chat.deleted']);
    expect(
      live.logs.get([...live.logs.keys()].find((k) => k.endsWith(':1')) ?? '')?.[0]?.data,
    ).to.equal(JSON.stringify({ application_token: TOKEN, chat_number: 1 }));
    // A chat deleted on its own got its chat.deleted from the API already.
    expect(live.types(TOKEN, 2)).to.deep.equal([]);
  });
});
