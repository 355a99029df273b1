import { expect } from 'chai';
import { reindexEdits } from '../../../internal/service/reindex-edits.js';
import type {
  IndexedMessage,
  OutboxEntry,
  SearchOutboxPort,
} from '../../../internal/domain/ports.js';
import type { MessageView } from '../../../internal/domain/representation.js';
import { silentLogger } from '../../support/environment.js';

const at = new Date('2026-01-01T00:00:00.000Z');
const view: MessageView = {
  type: 'message',
  application_token: 't',
  chat_number: 2,
  message_number: 3,
  message_content: 'edited',
  created_at: at.toISOString(),
  updated_at: at.toISOString(),
};
const entry: OutboxEntry = {
  messageId: 7,
  queuedAt: at,
  message: {
    applicationToken: 't',
    chatNumber: 2,
    number: 3,
    content: 'edited',
    createdAt: at,
    updatedAt: at,
  },
};

function fakeOutbox() {
  const calls = { pending: [] as unknown[], done: [] as OutboxEntry[][] };
  const outbox = {
    pending: (limit: number, where: unknown) => {
      calls.pending.push({ limit, where });
      return Promise.resolve([entry]);
    },
    done: (entries: OutboxEntry[]) => {
      calls.done.push(entries);
      return Promise.resolve();
    },
  } as unknown as SearchOutboxPort;
  return { outbox, calls };
}

describe('service/reindexEdits', () => {
  it('indexes what the outbox holds for the message, then clears that entry', async () => {
    const { outbox, calls } = fakeOutbox();
    const indexed: IndexedMessage[] = [];
    await reindexEdits(
      outbox,
      { index: (m) => (indexed.push(...m), Promise.resolve()) },
      silentLogger,
    )(view);
    expect(calls.pending).to.deep.equal([
      { limit: 1, where: { token: 't', chatNumber: 2, number: 3 } },
    ]);
    expect(indexed).to.deep.equal([entry.message]);
    expect(calls.done).to.deep.equal([[entry]]);
  });

  it('keeps the entry for the flusher and does not fail the edit when the index is down', async () => {
    const { outbox, calls } = fakeOutbox();
    await reindexEdits(
      outbox,
      { index: () => Promise.reject(new Error('es down')) },
      silentLogger,
    )(view);
    expect(calls.done).to.deep.equal([]);
  });
});
