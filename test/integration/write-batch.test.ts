import { randomUUID } from 'node:crypto';
import { expect } from 'chai';
import { defineModels } from '../../internal/db/models.js';
import { persistWriteBatch } from '../../internal/db/write-batch.js';
import { SqlApplicationRepository } from '../../internal/db/repositories/applications.js';
import { SqlChatRepository } from '../../internal/db/repositories/chats.js';
import { SqlMessageRepository } from '../../internal/db/repositories/messages.js';
import { CounterRepository } from '../../internal/db/repositories/counters.js';
import { SearchOutbox } from '../../internal/db/repositories/search-outbox.js';
import { SqlNumberLedger } from '../../internal/db/repositories/number-ledger.js';
import type { ChatCreated, MessageCreated } from '../../internal/domain/model.js';
import { repositoriesForSuite, testSequelize } from '../support/database.js';

describe('db: repositories and batch persistence (MariaDB)', function () {
  this.timeout(20_000);
  const suite = repositoriesForSuite();

  const newApp = () => suite.applications.create(randomUUID(), 'app');
  const chatEvent = (
    token: string,
    chatNumber: number,
    chatName: string | null = 'room',
  ): ChatCreated => ({
    kind: 'chat.created',
    eventId: randomUUID(),
    applicationToken: token,
    chatNumber,
    chatName,
    createdAt: '2026-02-03T04:05:06.789Z',
  });
  const messageEvent = (
    token: string,
    chatNumber: number,
    messageNumber: number,
    content = `m${messageNumber}`,
  ): MessageCreated => ({
    kind: 'message.created',
    eventId: randomUUID(),
    applicationToken: token,
    chatNumber,
    messageNumber,
    content,
    createdAt: '2026-02-03T04:05:07.001Z',
  });

  it('persists chats and messages exactly, with millisecond timestamps', async () => {
    const app = await newApp();
    const text = 'héllo \u0000 "quotes" \'single\' مرحبا 你好 🎉👩‍👩‍👧';
    await persistWriteBatch(suite.sequelize, [
      chatEvent(app.token, 1, 'général 🎉'),
      messageEvent(app.token, 1, 1, text),
    ]);
    const chat = await suite.chats.find(app.token, 1);
    expect(chat?.name).to.equal('général 🎉');
    expect(chat?.createdAt.toISOString()).to.equal('2026-02-03T04:05:06.789Z');
    const message = await suite.messages.find(app.token, 1, 1);
    expect(message?.content).to.equal(text);
    expect(message?.createdAt.toISOString()).to.equal('2026-02-03T04:05:07.001Z');
  });

  it('treats a redelivered batch as a no-op', async () => {
    const app = await newApp();
    const batch = [
      chatEvent(app.token, 1),
      messageEvent(app.token, 1, 1),
      messageEvent(app.token, 1, 2),
    ];
    const first = await persistWriteBatch(suite.sequelize, batch);
    const again = await persistWriteBatch(suite.sequelize, batch);
    expect(first.rejected).to.deep.equal([]);
    expect(again.rejected).to.deep.equal([]);
    expect(
      (await suite.messages.list(app.token, 1, 10, null)).items.map((m) => m.number),
    ).to.deep.equal([1, 2]);
  });

  it('persists a message whose chat event comes later, then completes the chat', async () => {
    const app = await newApp();
    await persistWriteBatch(suite.sequelize, [messageEvent(app.token, 4, 1, 'early')]);
    expect((await suite.chats.find(app.token, 4))?.name).to.equal(null);
    const outcome = await persistWriteBatch(suite.sequelize, [
      chatEvent(app.token, 4, 'late name'),
    ]);
    expect(outcome.rejected).to.deep.equal([]);
    expect((await suite.chats.find(app.token, 4))?.name).to.equal('late name');
    expect((await suite.messages.find(app.token, 4, 1))?.content).to.equal('early');
  });

  it('rejects the same number from another create and keeps the original', async () => {
    const app = await newApp();
    await persistWriteBatch(suite.sequelize, [
      chatEvent(app.token, 1, 'first'),
      messageEvent(app.token, 1, 1, 'original'),
    ]);
    const impostorChat = chatEvent(app.token, 1, 'second');
    const impostorMessage = messageEvent(app.token, 1, 1, 'impostor');
    const outcome = await persistWriteBatch(suite.sequelize, [
      impostorChat,
      impostorMessage,
      messageEvent(app.token, 1, 2),
    ]);
    expect(outcome.rejected.map((r) => r.event)).to.have.members([impostorChat, impostorMessage]);
    expect((await suite.chats.find(app.token, 1))?.name).to.equal('first');
    expect((await suite.messages.find(app.token, 1, 1))?.content).to.equal('original');
    expect((await suite.messages.find(app.token, 1, 2))?.content).to.equal('m2');
  });

  it('settles a numbering epoch when its fence is persisted, in the batch that carries it', async () => {
    const ledger = new SqlNumberLedger(suite.sequelize);
    const epoch = await ledger.beginEpoch('test-run');
    expect((await ledger.epochState(epoch)).settled).to.equal(false);
    const app = await newApp();
    const outcome = await persistWriteBatch(suite.sequelize, [
      chatEvent(app.token, 1),
      { kind: 'numbering.fence', eventId: randomUUID(), epoch },
    ]);
    expect(outcome.rejected).to.deep.equal([]);
    expect((await ledger.epochState(epoch)).settled).to.equal(true);
    expect(await suite.chats.find(app.token, 1)).to.not.equal(null);
    // A redelivered fence changes nothing.
    await persistWriteBatch(suite.sequelize, [
      { kind: 'numbering.fence', eventId: randomUUID(), epoch },
    ]);
    expect((await ledger.epochState(epoch)).settled).to.equal(true);
  });

  it('rejects events of an application that does not exist', async () => {
    const ghost = randomUUID();
    const event = messageEvent(ghost, 1, 1);
    const outcome = await persistWriteBatch(suite.sequelize, [event]);
    expect(outcome.rejected).to.deep.equal([
      { event, reason: { code: 'unknown_application', detail: 'the application does not exist' } },
    ]);
  });

  it('recounts counters from the live rows; a count read earlier never overwrites a later one', async () => {
    const app = await newApp();
    const outcome = await persistWriteBatch(suite.sequelize, [
      chatEvent(app.token, 1),
      chatEvent(app.token, 2),
      ...[1, 2, 3].map((n) => messageEvent(app.token, 1, n)),
    ]);
    const counters = new CounterRepository(suite.sequelize);
    await counters.recountChats(outcome.touchedChatIds);
    await counters.recountApplications(outcome.touchedApplicationIds);
    expect((await suite.chats.find(app.token, 1))?.messagesCount).to.equal(3);
    expect((await suite.chats.find(app.token, 2))?.messagesCount).to.equal(0);
    expect((await suite.applications.findByToken(app.token))?.chatsCount).to.equal(2);
    // Another flusher counted later and wrote its figure: this run's older count is skipped.
    await suite.sequelize.query(
      `UPDATE chats SET messages_count = 5, counted_at = UTC_TIMESTAMP(6) + INTERVAL 1 HOUR
        WHERE application_id = ?`,
      { replacements: [app.id] },
    );
    await counters.recountChats(outcome.touchedChatIds);
    expect((await suite.chats.find(app.token, 1))?.messagesCount).to.equal(5);
    // Counts go down with deletes.
    await suite.sequelize.query('UPDATE chats SET counted_at = NULL WHERE application_id = ?', {
      replacements: [app.id],
    });
    expect(await suite.messages.markDeleted(app.token, 1, 2)).to.not.equal(null);
    expect(await suite.chats.markDeleted(app.token, 2)).to.deep.equal({ applicationId: app.id });
    await counters.recountChats(outcome.touchedChatIds);
    await counters.recountApplications(outcome.touchedApplicationIds);
    expect((await suite.chats.find(app.token, 1))?.messagesCount).to.equal(2);
    expect((await suite.applications.findByToken(app.token))?.chatsCount).to.equal(1);
  });

  it('lists by number with a next cursor and reads max numbers for re-seeding', async () => {
    const app = await newApp();
    await persistWriteBatch(
      suite.sequelize,
      [1, 2, 3].map((n) => chatEvent(app.token, n)),
    );
    const first = await suite.chats.list(app.token, 2, null);
    expect(first.items.map((c) => c.number)).to.deep.equal([1, 2]);
    expect(first.next).to.equal('2');
    const second = await suite.chats.list(app.token, 2, 2);
    expect(second.items.map((c) => c.number)).to.deep.equal([3]);
    expect(second.next).to.equal(null);
    expect(await suite.applications.maxChatNumber(app.token)).to.equal(3);
    expect(await suite.applications.maxChatNumber(randomUUID())).to.equal(null);
    expect(await suite.chats.maxMessageNumber(app.token, 1)).to.equal(0);
  });

  it('queues an edited message for re-indexing in the same transaction', async () => {
    const app = await newApp();
    await persistWriteBatch(suite.sequelize, [
      chatEvent(app.token, 1),
      messageEvent(app.token, 1, 1, 'before'),
    ]);
    const edited = await suite.messages.edit(app.token, 1, 1, 'after');
    expect(edited?.content).to.equal('after');
    expect(edited!.updatedAt.getTime()).to.be.greaterThan(edited!.createdAt.getTime());
    expect(await suite.messages.edit(app.token, 1, 2, 'nope')).to.equal(null);
    const outbox = new SearchOutbox(suite.sequelize);
    const where = { token: app.token, chatNumber: 1, number: 1 };
    const pending = await outbox.pending(10, where);
    expect(pending.map((e) => e.message.content)).to.deep.equal(['after']);
    await outbox.done(pending);
    expect(await outbox.pending(10, where)).to.deep.equal([]);
  });

  it('keeps an outbox entry queued again (edited) after it was read', async () => {
    const app = await newApp();
    await persistWriteBatch(suite.sequelize, [
      chatEvent(app.token, 1),
      messageEvent(app.token, 1, 1),
    ]);
    await suite.messages.edit(app.token, 1, 1, 'first edit');
    const outbox = new SearchOutbox(suite.sequelize);
    const where = { token: app.token, chatNumber: 1, number: 1 };
    const read = await outbox.pending(10, where);
    await new Promise((r) => setTimeout(r, 5));
    await suite.messages.edit(app.token, 1, 1, 'second edit');
    await outbox.done(read);
    const left = await outbox.pending(10, where);
    expect(left.map((e) => e.message.content)).to.deep.equal(['second edit']);
    await outbox.done(left);
    expect(await outbox.pending(10, where)).to.deep.equal([]);
  });

  it('queues new messages for indexing in the batch transaction only when asked to', async () => {
    const app = await newApp();
    const outbox = new SearchOutbox(suite.sequelize);
    const queued = async (number: number) =>
      (await outbox.pending(10, { token: app.token, chatNumber: 1, number })).map(
        (e) => e.message.content,
      );
    await persistWriteBatch(suite.sequelize, [
      chatEvent(app.token, 1),
      messageEvent(app.token, 1, 1),
    ]);
    expect(await queued(1)).to.deep.equal([]);

    const impostor = messageEvent(app.token, 1, 1, 'impostor');
    const outcome = await persistWriteBatch(
      suite.sequelize,
      [messageEvent(app.token, 1, 2, 'two'), impostor],
      { queueForIndexing: true },
    );
    expect(outcome.rejected.map((r) => r.event)).to.deep.equal([impostor]);
    expect(await queued(2)).to.deep.equal(['two']);
    // The rejected impostor is not queued; the message it collided with was not either.
    expect(await queued(1)).to.deep.equal([]);

    // A failed transaction queues nothing: the outbox rolls back with the rows.
    const tooLong = messageEvent(app.token, 1, 3, 'x'.repeat(70_000));
    let failed = false;
    await persistWriteBatch(suite.sequelize, [messageEvent(app.token, 1, 4), tooLong], {
      queueForIndexing: true,
    }).catch(() => (failed = true));
    expect(failed).to.equal(true);
    expect(await queued(4)).to.deep.equal([]);
    expect(await suite.messages.find(app.token, 1, 4)).to.equal(null);
  });

  it('lists applications with an opaque cursor', async () => {
    await newApp();
    await newApp();
    const page = await suite.applications.list(1, null);
    expect(page.items).to.have.lengthOf(1);
    expect(page.next).to.be.a('string');
    expect(page.next).not.to.match(/^[0-9]+$/);
    const next = await suite.applications.list(1, page.next);
    expect(next.items[0]?.id).to.be.greaterThan(page.items[0]!.id);
  });
});

describe('db: message source for reindexing (MariaDB)', function () {
  this.timeout(20_000);
  it('streams every message of a scope in id order, in batches, and filters by update time', async () => {
    const { messageBatches } = await import('../../internal/db/repositories/message-source.js');
    const sequelize = testSequelize();
    try {
      const app = await new SqlApplicationRepository(sequelize, defineModels(sequelize)).create(
        randomUUID(),
        'src',
      );
      const events = [1, 2, 3, 4, 5].map((n): MessageCreated => ({
        kind: 'message.created',
        eventId: randomUUID(),
        applicationToken: app.token,
        chatNumber: 1,
        messageNumber: n,
        content: `c${n}`,
        createdAt: '2020-01-01T00:00:00.000Z',
      }));
      await persistWriteBatch(sequelize, events);
      const scope = { applicationToken: app.token, chatNumber: 1 };
      const batches: number[][] = [];
      for await (const batch of messageBatches(sequelize, { scope }, 2))
        batches.push(batch.map((m) => m.number));
      expect(batches).to.deep.equal([[1, 2], [3, 4], [5]]);
      await new SqlMessageRepository(sequelize).edit(app.token, 1, 4, 'edited');
      const recent: string[] = [];
      const changedSince = (idAbove: number) => ({ updatedSince: new Date('2021-01-01'), idAbove });
      for await (const batch of messageBatches(sequelize, {
        scope,
        changedSince: changedSince(Number.MAX_SAFE_INTEGER),
      })) {
        recent.push(...batch.map((m) => m.content));
      }
      expect(recent).to.deep.equal(['edited']);
      const inserted: number[] = [];
      for await (const batch of messageBatches(sequelize, {
        scope,
        changedSince: changedSince(0),
      })) {
        inserted.push(...batch.map((m) => m.number));
      }
      expect(inserted).to.deep.equal([1, 2, 3, 4, 5]);
    } finally {
      await sequelize.close();
    }
  });
});

describe('db: placeholder chats (MariaDB)', function () {
  this.timeout(20_000);
  it('keeps a rename made on a placeholder, and later placeholders change nothing', async () => {
    const sequelize = testSequelize();
    try {
      const app = await new SqlApplicationRepository(sequelize, defineModels(sequelize)).create(
        randomUUID(),
        'p',
      );
      const chats = new SqlChatRepository(sequelize);
      const message = (n: number): MessageCreated => ({
        kind: 'message.created',
        eventId: randomUUID(),
        applicationToken: app.token,
        chatNumber: 1,
        messageNumber: n,
        content: `m${n}`,
        createdAt: '2026-02-03T04:05:07.001Z',
      });
      await persistWriteBatch(sequelize, [message(1)]);
      await chats.rename(app.token, 1, 'renamed early');
      await persistWriteBatch(sequelize, [message(2)]);
      expect((await chats.find(app.token, 1))?.name).to.equal('renamed early');
      const outcome = await persistWriteBatch(sequelize, [
        {
          kind: 'chat.created',
          eventId: randomUUID(),
          applicationToken: app.token,
          chatNumber: 1,
          chatName: 'original',
          createdAt: '2026-02-03T04:05:06.000Z',
        },
      ]);
      expect(outcome.rejected).to.deep.equal([]);
      const chat = await chats.find(app.token, 1);
      expect(chat?.name).to.equal('renamed early');
      expect(chat?.createdAt.toISOString()).to.equal('2026-02-03T04:05:06.000Z');
    } finally {
      await sequelize.close();
    }
  });
});

describe('db: message edits version the search index (MariaDB)', function () {
  this.timeout(20_000);
  it('moves updated_at forward on every edit, even when the clock is behind the stored time', async () => {
    const sequelize = testSequelize();
    try {
      const app = await new SqlApplicationRepository(sequelize, defineModels(sequelize)).create(
        randomUUID(),
        'v',
      );
      const future = '2099-01-01T00:00:00.000Z';
      await persistWriteBatch(sequelize, [
        {
          kind: 'message.created',
          eventId: randomUUID(),
          applicationToken: app.token,
          chatNumber: 1,
          messageNumber: 1,
          content: 'stamped by a clock ahead',
          createdAt: future,
        },
      ]);
      const messages = new SqlMessageRepository(sequelize);
      const first = await messages.edit(app.token, 1, 1, 'one');
      const second = await messages.edit(app.token, 1, 1, 'two');
      expect(first!.updatedAt.getTime()).to.equal(Date.parse(future) + 1);
      expect(second!.updatedAt.getTime()).to.equal(Date.parse(future) + 2);
    } finally {
      await sequelize.close();
    }
  });
});
