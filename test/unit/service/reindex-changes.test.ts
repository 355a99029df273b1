import { expect } from 'chai';
import { reindexChanges } from '../../../internal/service/reindex-changes.js';
import type { IndexedMessage } from '../../../internal/domain/ports.js';
import { silentLogger } from '../../support/environment.js';
import { FakeSearchIndexer, FakeSearchOutbox } from '../../support/fakes/search-outbox.js';

const at = new Date('2026-01-01T00:00:00.000Z');
const message = (number: number, content = 'edited'): IndexedMessage => ({
  applicationToken: 't',
  chatNumber: 2,
  number,
  content,
  createdAt: at,
  updatedAt: at,
});
const ref = (number: number) => ({ token: 't', chatNumber: 2, number });

function outboxWith(...entries: [id: number, message: IndexedMessage, deleted: boolean][]) {
  const outbox = new FakeSearchOutbox();
  for (const [id, m, deleted] of entries) outbox.queue(id, m, at, deleted);
  return outbox;
}

describe('service/reindexChanges', () => {
  it('indexes an edited message from what the outbox holds, then clears that entry only', async () => {
    const outbox = outboxWith([7, message(3), false], [8, message(4), false]);
    const indexer = new FakeSearchIndexer();
    await reindexChanges(outbox, indexer, silentLogger)(ref(3));
    expect(indexer.indexed).to.deep.equal([message(3)]);
    expect(indexer.removed).to.deep.equal([]);
    expect(outbox.size).to.equal(1);
  });

  it('removes a deleted message from the index, then clears its entry', async () => {
    const outbox = outboxWith([7, message(3, ''), true]);
    const indexer = new FakeSearchIndexer();
    await reindexChanges(outbox, indexer, silentLogger)(ref(3));
    expect(indexer.indexed).to.deep.equal([]);
    expect(indexer.removed).to.deep.equal([message(3, '')]);
    expect(outbox.size).to.equal(0);
  });

  it('keeps the entry for the indexer and does not fail the change when the index is down', async () => {
    const outbox = outboxWith([7, message(3), false]);
    const indexer = new FakeSearchIndexer();
    indexer.down = true;
    await reindexChanges(outbox, indexer, silentLogger)(ref(3));
    expect(outbox.size).to.equal(1);
  });

  it('does nothing without a search index', async () => {
    const outbox = outboxWith([7, message(3), false]);
    await reindexChanges(outbox, null, silentLogger)(ref(3));
    expect(outbox.size).to.equal(1);
  });
});
