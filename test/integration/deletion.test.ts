import { randomUUID } from 'node:crypto';
import { expect } from 'chai';
import { QueryTypes } from 'sequelize';
import { persistWriteBatch } from '../../internal/db/write-batch.js';
import { SearchOutbox } from '../../internal/db/repositories/search-outbox.js';
import { SqlPurgeStore } from '../../internal/db/repositories/purge.js';
import { SqlNumberLedger } from '../../internal/db/repositories/number-ledger.js';
import { MysqlSearch } from '../../internal/search/mysql.js';
import type { ChatCreated, MessageCreated } from '../../internal/domain/model.js';
import { repositoriesForSuite } from '../support/database.js';

describe('db: deletion with tombstones and the purge (MariaDB)', function () {
  this.timeout(60_000);
  const suite = repositoriesForSuite();

  const newApp = () => suite.applications.create(randomUUID(), 'app');
  const chatEvent = (token: string, chatNumber: number): ChatCreated => ({
    kind: 'chat.created',
    eventId: randomUUID(),
    applicationToken: token,
    chatNumber,
    chatName: 'secret name',
    createdAt: '2026-02-03T04:05:06.789Z',
  });
  const messageEvent = (token: string, chatNumber: number, n: number): MessageCreated => ({
    kind: 'message.created',
    eventId: randomUUID(),
    applicationToken: token,
    chatNumber,
    messageNumber: n,
    content: `secret ${n}`,
    createdAt: '2026-02-03T04:05:07.001Z',
  });
  const count = async (sql: string, replacements: unknown[]) => {
    const [row] = await suite.sequelize.query<{ n: number | string }>(sql, {
      replacements,
      type: QueryTypes.SELECT,
    });
    return Number(row?.n);
  };

  it('reports what a delete finds: live, deleted or missing, and the application', async () => {
    const app = await newApp();
    await persistWriteBatch(suite.sequelize, [
      chatEvent(app.token, 1),
      messageEvent(app.token, 1, 1),
    ]);
    expect(await suite.messages.state(app.token, 1, 1)).to.deep.equal({
      application: true,
      chat: 'live',
      message: 'live',
    });
    expect(await suite.messages.state(app.token, 1, 2)).to.include({ message: 'missing' });
    expect(await suite.messages.state(app.token, 2, 1)).to.include({ chat: 'missing' });
    expect(await suite.messages.markDeleted(app.token, 1, 1)).to.not.equal(null);
    expect(await suite.messages.state(app.token, 1, 1)).to.include({ message: 'deleted' });
    expect(await suite.messages.markDeleted(app.token, 1, 1)).to.equal(null);
    expect(await suite.chats.markDeleted(app.token, 1)).to.deep.equal({ applicationId: app.id });
    expect(await suite.messages.state(app.token, 1, 2)).to.include({ chat: 'deleted' });
    expect(await suite.chats.state(app.token, 1)).to.deep.equal({
      application: true,
      chat: 'deleted',
    });
    expect(await suite.chats.markDeleted(app.token, 1)).to.equal(null);
    expect(await suite.applications.markDeleted(app.token)).to.equal(app.id);
    expect(await suite.applications.markDeleted(app.token)).to.equal(null);
    expect(await suite.chats.state(app.token, 1)).to.deep.equal({
      application: false,
      chat: 'missing',
    });
    expect(await suite.applications.findByToken(app.token)).to.equal(null);
    // Nor does the admin listing show it (the page starting just before its id).
    const later = await newApp();
    const cursor = Buffer.from(`a:${app.id - 1}`).toString('base64url');
    const page = await suite.applications.list(1000, cursor);
    expect(page.items.map((a) => a.token))
      .to.include(later.token)
      .and.not.include(app.token);
  });

  it('hides a deleted message from every read and clears its content at once', async () => {
    const app = await newApp();
    // As the consumer writes them: queued for the search indexer (the built-in search finds
    // what the indexer has not reached yet through that queue).
    await persistWriteBatch(
      suite.sequelize,
      [chatEvent(app.token, 1), ...[1, 2].map((n) => messageEvent(app.token, 1, n))],
      { queueForIndexing: true },
    );
    await suite.messages.markDeleted(app.token, 1, 1);
    expect(await suite.messages.find(app.token, 1, 1)).to.equal(null);
    expect(
      (await suite.messages.list(app.token, 1, 10, null)).items.map((m) => m.number),
    ).to.deep.equal([2]);
    expect(await suite.messages.edit(app.token, 1, 1, 'back')).to.equal(null);
    const search = new MysqlSearch(suite.sequelize);
    const hits = await search.search({ applicationToken: app.token, chatNumber: 1 }, ['secret'], {
      limit: 10,
      offset: 0,
    });
    expect(hits.map((h) => h.number)).to.deep.equal([2]);
    // What an index that still holds message 1 is checked against.
    expect([...(await suite.messages.deletedAmong(app.token, 1, [1, 2, 3]))]).to.deep.equal([1]);
    expect(
      await count(
        `SELECT COUNT(*) AS n FROM messages m JOIN chats c ON c.id = m.chat_id
          WHERE c.application_id = ? AND m.content LIKE '%secret 1%'`,
        [app.id],
      ),
    ).to.equal(0);
    // The search index is told through the outbox, as a removal.
    const pending = await new SearchOutbox(suite.sequelize).pending(1, {
      token: app.token,
      chatNumber: 1,
      number: 1,
    });
    expect(pending.map((e) => e.deleted)).to.deep.equal([true]);
  });

  it('drops creates that arrive after their delete, whatever the order, without dead-lettering', async () => {
    const app = await newApp();
    const other = await newApp();
    // Deleted while still queued: chat 1 (and so its suite.messages), message 2 of chat 2.
    expect(await suite.chats.markDeleted(app.token, 1)).to.not.equal(null);
    expect(await suite.messages.markDeleted(app.token, 2, 2)).to.not.equal(null);
    await suite.applications.markDeleted(other.token);
    const late = [
      messageEvent(app.token, 1, 1),
      chatEvent(app.token, 1),
      chatEvent(app.token, 2),
      messageEvent(app.token, 2, 1),
      messageEvent(app.token, 2, 2),
      chatEvent(other.token, 1),
      messageEvent(other.token, 1, 1),
    ];
    const outcome = await persistWriteBatch(suite.sequelize, late);
    expect(outcome.rejected).to.deep.equal([]);
    expect(outcome.discarded.map((e) => e.eventId).sort()).to.deep.equal(
      [late[0], late[1], late[4], late[5], late[6]].map((e) => e?.eventId).sort(),
    );
    // A redelivery changes nothing.
    const again = await persistWriteBatch(suite.sequelize, late);
    expect(again.rejected).to.deep.equal([]);
    expect(await suite.chats.find(app.token, 1)).to.equal(null);
    expect((await suite.chats.list(app.token, 10, null)).items.map((c) => c.number)).to.deep.equal([
      2,
    ]);
    expect(
      (await suite.messages.list(app.token, 2, 10, null)).items.map((m) => m.number),
    ).to.deep.equal([1]);
    // The tombstone keeps no name, and no message of the deleted chat was written.
    expect(
      await count('SELECT COUNT(*) AS n FROM chats WHERE application_id = ? AND name IS NOT NULL', [
        app.id,
      ]),
    ).to.equal(1);
    expect(
      await count(
        `SELECT COUNT(*) AS n FROM messages m JOIN chats c ON c.id = m.chat_id
          WHERE c.application_id = ? AND c.number = 1`,
        [app.id],
      ),
    ).to.equal(0);
    expect(
      await count('SELECT COUNT(*) AS n FROM chats WHERE application_id = ?', [other.id]),
    ).to.equal(0);
  });

  it('tells numbering that a deleted chat or application is gone after a Redis loss', async () => {
    const app = await newApp();
    await persistWriteBatch(suite.sequelize, [chatEvent(app.token, 1), chatEvent(app.token, 2)]);
    await suite.chats.markDeleted(app.token, 2);
    const ledger = new SqlNumberLedger(suite.sequelize);
    expect(await ledger.chatFloor(app.token, 1)).to.include({ persisted: true, deleted: false });
    expect(await ledger.chatFloor(app.token, 2)).to.include({ persisted: true, deleted: true });
    expect(await ledger.chatsFloor(app.token)).to.equal(2);
    await suite.applications.markDeleted(app.token);
    expect(await ledger.chatsFloor(app.token)).to.equal(null);
    expect(await ledger.chatFloor(app.token, 1)).to.include({ deleted: true });
    expect(await ledger.reserve(app.token, { kind: 'chats' }, 2, 10)).to.equal(null);
  });

  it('purges a deleted application in bounded batches, leaving only its tombstone', async () => {
    const app = await newApp();
    const bystander = await newApp();
    await persistWriteBatch(
      suite.sequelize,
      [
        ...[1, 2, 3].map((c) => chatEvent(app.token, c)),
        ...[1, 2, 3].flatMap((c) => [1, 2, 3, 4].map((n) => messageEvent(app.token, c, n))),
        chatEvent(bystander.token, 1),
        messageEvent(bystander.token, 1, 1),
      ],
      { queueForIndexing: true },
    );
    await suite.chats.markDeleted(app.token, 3); // a chat task, then the application's
    await suite.applications.markDeleted(app.token);
    const store = new SqlPurgeStore(suite.sequelize);
    // What the purge appends chat.deleted to, before the rows go.
    const appTask = { kind: 'application', id: app.id, applicationToken: app.token } as const;
    expect(await store.chatNumbers({ ...appTask, chatNumber: null })).to.deep.equal([1, 2, 3]);
    const seen: { kind: string; rows: number[] }[] = [];
    // The queue is shared: earlier tests' tasks are purged too, as a consumer would.
    for (let task = await store.next(); task !== null; task = await store.next()) {
      const rows: number[] = [];
      for (let n = await store.purgeSome(task, 5); n > 0; n = await store.purgeSome(task, 5)) {
        rows.push(n);
      }
      if (task.applicationToken === app.token) seen.push({ kind: task.kind, rows });
      await store.finish(task);
    }
    // Chat 3's four messages; then the rest of the application, 5 messages at most at a time,
    // then its (now empty) suite.chats.
    expect(seen).to.deep.equal([
      { kind: 'chat', rows: [4] },
      { kind: 'application', rows: [5, 3, 3] },
    ]);
    expect(
      await count('SELECT COUNT(*) AS n FROM chats WHERE application_id = ?', [app.id]),
    ).to.equal(0);
    expect(
      await count(
        'SELECT COUNT(*) AS n FROM applications WHERE id = ? AND deleted_at IS NOT NULL',
        [app.id],
      ),
    ).to.equal(1);
    expect(
      await count('SELECT COUNT(*) AS n FROM purge_queue WHERE target_id IN (?, ?)', [
        app.id,
        app.id,
      ]),
    ).to.equal(0);
    // Another application is untouched, its outbox entry too.
    expect((await suite.messages.list(bystander.token, 1, 10, null)).items).to.have.length(1);
    expect(
      await count(
        `SELECT COUNT(*) AS n FROM search_outbox o JOIN messages m ON m.id = o.message_id
          JOIN chats c ON c.id = m.chat_id WHERE c.application_id = ?`,
        [bystander.id],
      ),
    ).to.equal(1);
    // A create still queued for the purged application is dropped, not dead-lettered.
    const late = await persistWriteBatch(suite.sequelize, [messageEvent(app.token, 1, 9)]);
    expect(late.discarded).to.have.length(1);
    expect(late.rejected).to.deep.equal([]);
  });
});
