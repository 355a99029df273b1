import { expect } from 'chai';
import type { IndexedMessage } from '../../../../internal/domain/ports.js';
import {
  chatKey,
  documentId,
  documentVersion,
  toDocument,
} from '../../../../internal/search/elasticsearch/document.js';

const TOKEN = 'Secr3tApplicationToken0000000001';

function message(overrides: Partial<IndexedMessage> = {}): IndexedMessage {
  return {
    applicationToken: TOKEN,
    chatNumber: 7,
    number: 42,
    content: 'Hello CAFÉ',
    createdAt: new Date('2024-05-01T12:00:00.000Z'),
    updatedAt: new Date('2024-05-01T12:30:00.123Z'),
    ...overrides,
  };
}

describe('Elasticsearch documents', function () {
  it('derive a deterministic id from application, chat and message number', function () {
    expect(documentId(message())).to.equal(documentId(message({ content: 'edited' })));
    expect(documentId(message())).to.match(/^[0-9a-f]{32}:42$/);
    expect(documentId(message())).to.equal(`${chatKey(message())}:42`);
  });

  it('give every application, chat and number its own id', function () {
    const ids = [
      message(),
      message({ number: 43 }),
      message({ chatNumber: 8 }),
      message({ applicationToken: `${TOKEN}x` }),
      // Concatenation without a separator would make these two collide.
      message({ applicationToken: 'ab', chatNumber: 12 }),
      message({ applicationToken: 'ab1', chatNumber: 2 }),
    ].map(documentId);
    expect(new Set(ids).size).to.equal(ids.length);
  });

  it('never expose the application token in the id or routing key', function () {
    expect(documentId(message())).not.to.include(TOKEN);
    expect(chatKey(message())).not.to.include(TOKEN.slice(0, 8));
  });

  it('route a whole chat with one key', function () {
    expect(chatKey(message({ number: 1 }))).to.equal(chatKey(message({ number: 2 })));
    expect(chatKey(message())).to.equal(chatKey({ applicationToken: TOKEN, chatNumber: 7 }));
  });

  it('are versioned by the update time in milliseconds', function () {
    expect(documentVersion(message())).to.equal(Date.parse('2024-05-01T12:30:00.123Z'));
  });

  it('carry the original content and its folded form', function () {
    expect(toDocument(message())).to.deep.equal({
      application_token: TOKEN,
      chat_number: 7,
      number: 42,
      content: 'Hello CAFÉ',
      content_infix: 'hello café',
      created_at: '2024-05-01T12:00:00.000Z',
      updated_at: '2024-05-01T12:30:00.123Z',
    });
  });
});
