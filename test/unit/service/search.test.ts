import { expect } from 'chai';
import { SearchService } from '../../../internal/service/search.js';
import { NotFoundError } from '../../../internal/domain/errors.js';
import { FakeApplications, FakeChats, FakeMessages } from '../../support/fakes/repositories.js';
import { FakeSearch } from '../../support/fakes/search.js';

const token = '2a7b3bbd-45e2-4eff-b7cd-0123456789ab';

async function setUp() {
  const applications = new FakeApplications();
  const chats = new FakeChats();
  const index = new FakeSearch();
  await applications.create(token, 'app');
  const at = new Date();
  chats.rows.push({
    id: 1,
    applicationToken: token,
    number: 1,
    name: null,
    messagesCount: 0,
    createdAt: at,
    updatedAt: at,
  });
  for (let n = 1; n <= 5; n += 1) {
    index.messages.push({
      applicationToken: token,
      chatNumber: 1,
      number: n,
      content: n % 2 === 1 ? `hello ${n}` : `bye ${n}`,
    });
  }
  const messages = new FakeMessages(new FakeChats(applications));
  return {
    service: new SearchService(index, applications, chats),
    checked: new SearchService(index, applications, chats, { deletions: messages }),
    index,
    messages,
  };
}

async function notFound(promise: Promise<unknown>): Promise<string | undefined> {
  try {
    await promise;
  } catch (err) {
    if (err instanceof NotFoundError) return err.code;
    throw err;
  }
  return undefined;
}

describe('service/SearchService.search', () => {
  it('returns the chat’s matches and the next page’s parameters', async () => {
    const { service, index } = await setUp();
    const page = await service.search(token, 1, { terms: ['hello'], limit: 2, offset: 0 });
    expect(page.items).to.deep.equal([
      { number: 1, content: 'hello 1' },
      { number: 3, content: 'hello 3' },
    ]);
    expect(page.next).to.deep.equal({ offset: '2', limit: '2' });
    // One hit more than asked tells whether a next page exists.
    expect(index.calls[0]).to.deep.include({ limit: 3, offset: 0 });
    const last = await service.search(token, 1, { terms: ['hello'], limit: 2, offset: 2 });
    expect(last.items).to.deep.equal([{ number: 5, content: 'hello 5' }]);
    expect(last.next).to.equal(null);
  });

  it('never asks the index past its 10 000-hit window', async () => {
    const { service, index } = await setUp();
    const page = await service.search(token, 1, { terms: ['hello'], limit: 100, offset: 9_950 });
    expect(index.calls[0]).to.deep.include({ limit: 50, offset: 9_950 });
    expect(page.next).to.equal(null);
  });

  it('says which of application or chat does not exist, without asking the index', async () => {
    const { service, index } = await setUp();
    const request = { terms: ['hello'], limit: 2, offset: 0 };
    expect(await notFound(service.search(token, 9, request))).to.equal('chat_not_found');
    const other = '3a7b3bbd-45e2-4eff-b7cd-0123456789ab';
    expect(await notFound(service.search(other, 1, request))).to.equal('application_not_found');
    expect(await notFound(service.search('not a token', 1, request))).to.equal(
      'application_not_found',
    );
    expect(index.calls).to.have.lengthOf(0);
  });

  it('drops hits of messages deleted since the index took them, when asked to check', async () => {
    const { service, checked, messages } = await setUp();
    messages.deleted.add(`${token}:1:3`);
    const request = { terms: ['hello'], limit: 10, offset: 0 };
    expect((await checked.search(token, 1, request)).items.map((i) => i.number)).to.deep.equal([
      1, 5,
    ]);
    expect((await service.search(token, 1, request)).items.map((i) => i.number)).to.deep.equal([
      1, 3, 5,
    ]);
  });
});
