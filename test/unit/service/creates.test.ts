import { expect } from 'chai';
import { ChatService } from '../../../internal/service/chats.js';
import { MessageService } from '../../../internal/service/messages.js';
import { ApplicationService } from '../../../internal/service/applications.js';
import {
  BrokerUnavailableError,
  IdempotencyKeyReusedError,
  NotFoundError,
  OutcomeUnknownError,
} from '../../../internal/domain/errors.js';
import {
  FakeApplicationKeys,
  FakeApplications,
  FakeChats,
  FakeMessages,
} from '../../support/fakes/repositories.js';
import { FakeDirtyMarks } from '../../support/fakes/counters.js';
import { numberingOnFakes } from '../../support/fakes/numbering.js';
import { silentLogger } from '../../support/environment.js';

const TOKEN = '2a7b3bbd-45e2-4eff-b7cd-0123456789ab';

function system() {
  const { cache, ledger, publisher, numbering, creates } = numberingOnFakes(TOKEN);
  const applications = new FakeApplications();
  const dirty = new FakeDirtyMarks();
  const common = { creates, numbering, dirty, logger: silentLogger };
  const chats = new ChatService({ applications, chats: new FakeChats(), ...common });
  const messages = new MessageService({
    chats: new FakeChats(),
    messages: new FakeMessages(),
    ...common,
  });
  return { cache, ledger, publisher, numbering, chats, messages, applications };
}

describe('the create path (services on fakes)', () => {
  it('publishes a chat create as its event and answers with the same number and time', async () => {
    const { chats, publisher } = system();
    const { view, replayed } = await chats.create(TOKEN, 'general', null);
    expect(replayed).to.equal(false);
    expect(view).to.include({ chat_number: 1, chat_name: 'general', messages_count: 0 });
    expect(publisher.published).to.have.length(1);
    const [sent] = publisher.published;
    expect(sent?.event).to.include({
      kind: 'chat.created',
      chatNumber: 1,
      chatName: 'general',
      applicationToken: TOKEN,
      createdAt: view.created_at,
    });
    expect(sent?.deadline.sendBy).to.be.above(Date.now());
  });

  it('carries a message from the request to the published event unchanged', async () => {
    const { chats, messages, publisher } = system();
    await chats.create(TOKEN, null, null);
    const content = 'héllo 🎉 "quoted"';
    const { view } = await messages.create(TOKEN, 1, content, null);
    expect(view).to.include({ chat_number: 1, message_number: 1, message_content: content });
    expect(publisher.published[1]?.event).to.include({
      kind: 'message.created',
      chatNumber: 1,
      messageNumber: 1,
      content,
    });
  });

  it('refuses at once, taking no number, while the broker cannot take anything', async () => {
    const { chats, publisher } = system();
    publisher.accepting = false;
    const err = await chats.create(TOKEN, null, null).catch((e: unknown) => e);
    expect(err)
      .to.be.instanceOf(BrokerUnavailableError)
      .with.property('code', 'broker_unavailable');
    publisher.accepting = true;
    expect((await chats.create(TOKEN, null, null)).view.chat_number).to.equal(1);
  });

  it('republishes the very same event on a keyed retry after an unknown outcome', async () => {
    const { chats, messages, publisher } = system();
    await chats.create(TOKEN, null, null);
    publisher.failWith = new OutcomeUnknownError();
    const err = await messages.create(TOKEN, 1, 'hi', 'key-1').catch((e: unknown) => e);
    expect(err).to.be.instanceOf(OutcomeUnknownError);
    publisher.failWith = null;
    const retry = await messages.create(TOKEN, 1, 'hi', 'key-1');
    expect(retry.replayed).to.equal(true);
    const [first, second] = publisher.published.slice(1).map((p) => p.event);
    expect(second).to.deep.equal(first);
    // Confirmed now: a further retry answers without publishing again.
    await messages.create(TOKEN, 1, 'hi', 'key-1');
    expect(publisher.published).to.have.length(3);
    // Another body under the same key is refused; a new key gets the next number.
    const reused = await messages.create(TOKEN, 1, 'other', 'key-1').catch((e: unknown) => e);
    expect(reused).to.be.instanceOf(IdempotencyKeyReusedError);
    expect((await messages.create(TOKEN, 1, 'other', 'key-2')).view.message_number).to.equal(2);
  });

  it('answers 404 for a malformed token without touching numbering', async () => {
    const { chats, cache } = system();
    const err = await chats.create('not-a-token', null, null).catch((e: unknown) => e);
    expect(err).to.be.instanceOf(NotFoundError).with.property('code', 'application_not_found');
    expect(cache.calls).to.have.length(0);
  });
});

describe('ApplicationService (on fakes)', () => {
  function applications() {
    const repo = new FakeApplications();
    const registered: string[] = [];
    const service = new ApplicationService({
      applications: repo,
      numbering: {
        register: (token: string) => {
          registered.push(token);
          return Promise.resolve();
        },
        markDeleted: () => Promise.resolve(),
      },
      keys: new FakeApplicationKeys(),
      logger: silentLogger,
    });
    return { repo, registered, service };
  }

  it('creates one application for two racing requests with the same key', async () => {
    const { repo, service, registered } = applications();
    const key = 'a'.repeat(40);
    const [a, b] = await Promise.all([service.create('app', key), service.create('app', key)]);
    expect(a.view.application_token).to.equal(b.view.application_token);
    expect(repo.rows.size).to.equal(1);
    expect([a.replayed, b.replayed].sort()).to.deep.equal([false, true]);
    expect(registered).to.deep.equal([a.view.application_token]);
  });

  it('replays a finished keyed create from the row and refuses another body under the key', async () => {
    const { repo, service } = applications();
    const key = 'b'.repeat(40);
    const first = await service.create('app', key);
    const again = await service.create('app', key);
    expect(again).to.deep.equal({ view: first.view, replayed: true });
    expect(repo.inserts).to.equal(1);
    const other = await service.create('another', key).catch((e: unknown) => e);
    expect(other).to.be.instanceOf(IdempotencyKeyReusedError);
  });

  it('creates a fresh token per request without a key', async () => {
    const { service } = applications();
    const [a, b] = await Promise.all([service.create('x', null), service.create('x', null)]);
    expect(a.view.application_token).to.not.equal(b.view.application_token);
  });
});
