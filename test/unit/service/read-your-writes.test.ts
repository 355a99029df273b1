import { expect } from 'chai';
import { ChatService } from '../../../internal/service/chats.js';
import { MessageService } from '../../../internal/service/messages.js';
import { SearchService } from '../../../internal/service/search.js';
import type { LiveDeps } from '../../../internal/service/live.js';
import type { WriteEvent } from '../../../internal/domain/model.js';
import {
  BrokerUnavailableError,
  NotFoundError,
  ServiceUnavailableError,
} from '../../../internal/domain/errors.js';
import { FakeApplications, FakeChats, FakeMessages } from '../../support/fakes/repositories.js';
import { FakeDirtyMarks } from '../../support/fakes/counters.js';
import { FakeLiveLog } from '../../support/fakes/live.js';
import { FakeSearch } from '../../support/fakes/search.js';
import { numberingOnFakes } from '../../support/fakes/numbering.js';
import { silentLogger } from '../../support/environment.js';

const TOKEN = '2a7b3bbd-45e2-4eff-b7cd-0123456789ab';

/** The services on fakes, with a "consumer" that persists what was published, on demand. */
function system() {
  const log = new FakeLiveLog();
  let clock = 0;
  const sleeps: number[] = [];
  /** Run at each wait of an edit; by default time just passes. */
  let onSleep: () => Promise<void> = () => Promise.resolve();
  const live: LiveDeps = {
    pending: log,
    log,
    writeWaitMs: 1_000,
    pollMs: 100,
    sleep: async (ms) => {
      sleeps.push(ms);
      clock += ms;
      await onSleep();
    },
    now: () => clock,
    logger: silentLogger,
  };
  const { publisher, numbering, creates } = numberingOnFakes(TOKEN, log);
  const applications = new FakeApplications();
  void applications.create(TOKEN, 'app');
  const chatRows = new FakeChats(applications);
  const messageRows = new FakeMessages(chatRows);
  const common = { creates, numbering, dirty: new FakeDirtyMarks(), logger: silentLogger, live };
  const chats = new ChatService({ applications, chats: chatRows, ...common });
  const messages = new MessageService({
    chats: chatRows,
    messages: messageRows,
    ...common,
    chatExists: (token, chat) => chats.exists(token, chat),
  });
  const search = new SearchService(new FakeSearch(), applications, chatRows, {
    pendingChat: (token, chat) => chats.exists(token, chat),
  });
  let persistedUpTo = 0;
  /** What the consumer does: write the rows, then settle (announce and forget). */
  const persist = async () => {
    const events = publisher.published.slice(persistedUpTo).map((p) => p.event);
    persistedUpTo = publisher.published.length;
    for (const e of events) store(e);
    await log.settle(events, []);
    return events;
  };
  const store = (e: WriteEvent) => {
    if (e.kind === 'chat.created') {
      const at = new Date(e.createdAt);
      chatRows.rows.push({
        id: e.chatNumber,
        applicationToken: TOKEN,
        number: e.chatNumber,
        name: e.chatName,
        messagesCount: 0,
        createdAt: at,
        updatedAt: at,
      });
    } else if (e.kind === 'message.created') {
      const at = new Date(e.createdAt);
      messageRows.rows.push({
        applicationToken: TOKEN,
        chatNumber: e.chatNumber,
        number: e.messageNumber,
        content: e.content,
        createdAt: at,
        updatedAt: at,
      });
    }
  };
  return {
    chats,
    messages,
    search,
    log,
    publisher,
    persist,
    sleeps,
    setOnSleep: (f: () => Promise<void>) => (onSleep = f),
  };
}

describe('read-your-writes and the chats’ logs (services on fakes)', () => {
  it('answers GET of a chat and a message answered 201 with the same representation, before and after persistence', async () => {
    const s = system();
    const chat = (await s.chats.create(TOKEN, 'general', null)).view;
    const message = (await s.messages.create(TOKEN, 1, 'hello', null)).view;
    expect(await s.chats.get(TOKEN, 1)).to.deep.equal(chat);
    expect(await s.messages.get(TOKEN, 1, 1)).to.deep.equal(message);
    await s.persist();
    expect(s.log.pending.size).to.equal(0);
    expect(await s.chats.get(TOKEN, 1)).to.deep.equal(chat);
    expect(await s.messages.get(TOKEN, 1, 1)).to.deep.equal(message);
  });

  it('lists and searches a chat answered 201 as empty, never 404; an unknown chat stays 404', async () => {
    const s = system();
    await s.chats.create(TOKEN, null, null);
    expect((await s.messages.list(TOKEN, 1, 50, null)).items).to.deep.equal([]);
    const request = { terms: ['x'], limit: 20, offset: 0 };
    expect((await s.search.search(TOKEN, 1, request)).items).to.deep.equal([]);
    let error: unknown = null;
    await s.messages.list(TOKEN, 2, 50, null).catch((err: unknown) => (error = err));
    expect(error).to.be.instanceOf(NotFoundError);
    error = null;
    await s.search.search(TOKEN, 2, request).catch((err: unknown) => (error = err));
    expect(error).to.be.instanceOf(NotFoundError);
  });

  it('never shows a create the broker refused', async () => {
    const s = system();
    await s.chats.create(TOKEN, null, null);
    s.publisher.accepting = false;
    let error: unknown = null;
    await s.messages.create(TOKEN, 1, 'refused', null).catch((err: unknown) => (error = err));
    expect(error).to.be.instanceOf(BrokerUnavailableError);
    error = null;
    await s.messages.get(TOKEN, 1, 1).catch((err: unknown) => (error = err));
    expect(error).to.be.instanceOf(NotFoundError);
  });

  it('announces each persisted message once on its chat’s log, also when the batch is redelivered', async () => {
    const s = system();
    await s.chats.create(TOKEN, null, null);
    await s.messages.create(TOKEN, 1, 'a', null);
    await s.messages.create(TOKEN, 1, 'b', null);
    const events = await s.persist();
    await s.log.settle(events, []);
    expect(s.log.types(TOKEN, 1)).to.deep.equal(['message.created', 'message.created']);
    const data = (s.log.logs.get(`${TOKEN}:1`) ?? []).map((e) => JSON.parse(e.data) as unknown);
    expect(data[0]).to.deep.equal(await s.messages.get(TOKEN, 1, 1));
  });

  it('an edit of a message not persisted yet waits for it, then is logged after its create', async () => {
    const s = system();
    await s.chats.create(TOKEN, null, null);
    await s.messages.create(TOKEN, 1, 'draft', null);
    s.setOnSleep(async () => {
      await s.persist();
    });
    const edited = await s.messages.edit(TOKEN, 1, 1, 'final');
    expect(edited.message_content).to.equal('final');
    expect(s.sleeps).to.have.length(1);
    expect(s.log.types(TOKEN, 1)).to.deep.equal(['message.created', 'message.updated']);
    const renamed = await s.chats.rename(TOKEN, 1, 'renamed');
    expect(s.log.types(TOKEN, 1).at(-1)).to.equal('chat.updated');
    expect(JSON.parse(s.log.logs.get(`${TOKEN}:1`)?.at(-1)?.data ?? '')).to.deep.equal(renamed);
  });

  it('an edit whose create stays unpersisted past the bound is a 503, not a 404', async () => {
    const s = system();
    await s.chats.create(TOKEN, null, null);
    await s.messages.create(TOKEN, 1, 'queued', null);
    let error: unknown = null;
    await s.messages.edit(TOKEN, 1, 1, 'x').catch((err: unknown) => (error = err));
    expect(error).to.be.instanceOf(ServiceUnavailableError);
    expect((error as ServiceUnavailableError).status).to.equal(503);
    expect(s.sleeps.reduce((a, b) => a + b, 0)).to.equal(1_000);
  });

  it('a delete of a message not persisted yet hides it at once, and the consumer then announces no create', async () => {
    const s = system();
    await s.chats.create(TOKEN, null, null);
    await s.persist();
    await s.messages.create(TOKEN, 1, 'oops', null);
    await s.messages.delete(TOKEN, 1, 1);
    let error: unknown = null;
    await s.messages.get(TOKEN, 1, 1).catch((err: unknown) => (error = err));
    expect(error).to.be.instanceOf(NotFoundError);
    await s.persist();
    expect(s.log.types(TOKEN, 1)).to.deep.equal(['message.deleted']);
  });

  it('a deleted chat answered 201 is gone from reads, and its log says chat.deleted', async () => {
    const s = system();
    await s.chats.create(TOKEN, null, null);
    await s.chats.delete(TOKEN, 1);
    let error: unknown = null;
    await s.chats.get(TOKEN, 1).catch((err: unknown) => (error = err));
    expect(error).to.be.instanceOf(NotFoundError);
    expect(s.log.types(TOKEN, 1)).to.deep.equal(['chat.deleted']);
  });

  it('an edit is answered even when its event cannot be logged', async () => {
    const s = system();
    await s.chats.create(TOKEN, null, null);
    await s.messages.create(TOKEN, 1, 'a', null);
    await s.persist();
    s.log.failWith = new Error('redis down');
    expect((await s.messages.edit(TOKEN, 1, 1, 'b')).message_content).to.equal('b');
  });
});
