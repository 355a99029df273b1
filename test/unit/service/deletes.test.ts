import { expect } from 'chai';
import { ChatService } from '../../../internal/service/chats.js';
import { MessageService } from '../../../internal/service/messages.js';
import { ApplicationService } from '../../../internal/service/applications.js';
import type { MessageRef } from '../../../internal/service/reindex-changes.js';
import { NotFoundError } from '../../../internal/domain/errors.js';
import type { Message } from '../../../internal/domain/model.js';
import { FakeDirtyMarks } from '../../support/fakes/counters.js';
import {
  FakeApplicationKeys,
  FakeApplications,
  FakeChats,
  FakeMessages,
} from '../../support/fakes/repositories.js';
import { numberingOnFakes } from '../../support/fakes/numbering.js';
import { silentLogger } from '../../support/environment.js';

const TOKEN = '2a7b3bbd-45e2-4eff-b7cd-0123456789ab';
const at = new Date('2026-01-01T00:00:00.000Z');

/** Services on fakes; `persist` plays the consumer: a row for what was published. */
async function system() {
  const { cache, ledger, numbering, creates } = numberingOnFakes(TOKEN);
  const appRows = new FakeApplications();
  await appRows.create(TOKEN, 'app');
  const chatRows = new FakeChats(appRows);
  const messageRows = new FakeMessages(chatRows);
  const dirty = new FakeDirtyMarks();
  const changed: MessageRef[] = [];
  const common = { creates, numbering, dirty, logger: silentLogger };
  const applications = new ApplicationService({
    applications: appRows,
    numbering,
    keys: new FakeApplicationKeys(),
    logger: silentLogger,
  });
  const chats = new ChatService({ applications: appRows, chats: chatRows, ...common });
  const messages = new MessageService({
    chats: chatRows,
    messages: messageRows,
    ...common,
    onChanged: (ref) => {
      changed.push(ref);
      return Promise.resolve();
    },
  });
  const persistChat = (number: number) =>
    chatRows.rows.push({
      id: number,
      applicationToken: TOKEN,
      number,
      name: null,
      messagesCount: 0,
      createdAt: at,
      updatedAt: at,
    });
  const persistMessage = (chatNumber: number, number: number) => {
    const row: Message = {
      applicationToken: TOKEN,
      chatNumber,
      number,
      content: 'hi',
      createdAt: at,
      updatedAt: at,
    };
    messageRows.rows.push(row);
  };
  return {
    ...{ cache, ledger, dirty, changed, appRows, chatRows, messageRows },
    ...{ applications, chats, messages, persistChat, persistMessage },
  };
}

const notFound = async (promise: Promise<unknown>, code: string) => {
  const err = await promise.then(
    () => null,
    (e: unknown) => e,
  );
  expect(err).to.be.instanceOf(NotFoundError).with.property('code', code);
};

describe('deletes (services on fakes)', () => {
  it('deletes a persisted message once: reads miss it, its chat is recounted, search is told', async () => {
    const s = await system();
    await s.chats.create(TOKEN, null, null);
    await s.messages.create(TOKEN, 1, 'hi', null);
    s.persistChat(1);
    s.persistMessage(1, 1);
    await s.messages.delete(TOKEN, 1, 1);
    await notFound(s.messages.get(TOKEN, 1, 1), 'message_not_found');
    expect((await s.messages.list(TOKEN, 1, 10, null)).items).to.deep.equal([]);
    expect(s.dirty.pending('chats')).to.deep.equal([1]);
    expect(s.changed).to.deep.equal([{ token: TOKEN, chatNumber: 1, number: 1 }]);
    await notFound(s.messages.delete(TOKEN, 1, 1), 'message_not_found');
    await notFound(s.messages.edit(TOKEN, 1, 1, 'again'), 'message_not_found');
  });

  it('deletes a message answered 201 but not persisted yet, and never reissues its number', async () => {
    const s = await system();
    await s.chats.create(TOKEN, null, null);
    await s.messages.create(TOKEN, 1, 'queued', null);
    await s.messages.delete(TOKEN, 1, 1);
    expect(s.messageRows.deleted.has(`${TOKEN}:1:1`)).to.equal(true);
    expect((await s.messages.create(TOKEN, 1, 'next', null)).view.message_number).to.equal(2);
  });

  it('answers 404 for a number never issued, without writing a tombstone', async () => {
    const s = await system();
    await s.chats.create(TOKEN, null, null);
    await s.messages.create(TOKEN, 1, 'one', null);
    await notFound(s.messages.delete(TOKEN, 1, 2), 'message_not_found');
    await notFound(s.messages.delete(TOKEN, 2, 1), 'chat_not_found');
    await notFound(s.chats.delete(TOKEN, 2), 'chat_not_found');
    await notFound(s.messages.delete('not-a-token', 1, 1), 'application_not_found');
    expect(s.messageRows.deleted.size + s.chatRows.deleted.size).to.equal(0);
  });

  it('deletes a chat: no message is numbered in it any more, and chat numbers go on', async () => {
    const s = await system();
    for (let i = 0; i < 3; i += 1) await s.chats.create(TOKEN, null, null);
    s.persistChat(3);
    await s.chats.delete(TOKEN, 3);
    await notFound(s.chats.get(TOKEN, 3), 'chat_not_found');
    await notFound(s.messages.create(TOKEN, 3, 'late', null), 'chat_not_found');
    await notFound(s.messages.delete(TOKEN, 3, 1), 'chat_not_found');
    await notFound(s.chats.delete(TOKEN, 3), 'chat_not_found');
    expect(s.dirty.pending('apps')).to.deep.equal([1]);
    expect((await s.chats.create(TOKEN, null, null)).view.chat_number).to.equal(4);
  });

  it('keeps a deleted chat closed after Redis lost its state: the tombstone says so again', async () => {
    const s = await system();
    await s.chats.create(TOKEN, null, null);
    s.persistChat(1);
    s.ledger.persist(TOKEN, 1);
    await s.chats.delete(TOKEN, 1);
    s.ledger.deleted.add(`${TOKEN}:1`); // what the chat's tombstone row says in MySQL
    s.cache.flushAll();
    await notFound(s.messages.create(TOKEN, 1, 'late', null), 'chat_not_found');
    expect((await s.chats.create(TOKEN, null, null)).view.chat_number).to.be.above(1);
  });

  it('deletes an application: its token stops working at once, for every read and create', async () => {
    const s = await system();
    await s.chats.create(TOKEN, null, null);
    s.persistChat(1);
    await s.applications.delete(TOKEN);
    await notFound(s.applications.get(TOKEN), 'application_not_found');
    await notFound(s.chats.get(TOKEN, 1), 'chat_not_found');
    await notFound(s.chats.list(TOKEN, 10, null), 'application_not_found');
    await notFound(s.chats.create(TOKEN, null, null), 'application_not_found');
    await notFound(s.messages.create(TOKEN, 1, 'late', null), 'application_not_found');
    await notFound(s.applications.delete(TOKEN), 'application_not_found');
    await notFound(s.chats.delete(TOKEN, 1), 'application_not_found');
    expect((await s.applications.list(10, null)).items).to.deep.equal([]);
  });

  it('keeps a deleted application closed after Redis lost its state', async () => {
    const s = await system();
    await s.applications.delete(TOKEN);
    s.ledger.deleted.add(TOKEN);
    s.cache.flushAll();
    await notFound(s.chats.create(TOKEN, null, null), 'application_not_found');
  });
});
