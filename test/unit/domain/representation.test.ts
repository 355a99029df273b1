import { expect } from 'chai';
import { applicationView, chatView, messageView } from '../../../internal/domain/representation.js';

const at = new Date('2026-03-04T05:06:07.089Z');

describe('domain/representation', () => {
  it('renders an application without its internal id', () => {
    expect(
      applicationView({
        id: 7,
        token: 't',
        name: 'n',
        chatsCount: 2,
        createdAt: at,
        updatedAt: at,
      }),
    ).to.deep.equal({
      type: 'application',
      application_token: 't',
      application_name: 'n',
      chats_count: 2,
      created_at: '2026-03-04T05:06:07.089Z',
      updated_at: '2026-03-04T05:06:07.089Z',
    });
  });

  it('renders chats and messages in the documented shapes', () => {
    const chat = chatView({
      id: 9,
      applicationToken: 't',
      number: 3,
      name: null,
      messagesCount: 4,
      createdAt: at,
      updatedAt: at,
    });
    expect(chat).to.deep.equal({
      type: 'chat',
      application_token: 't',
      chat_number: 3,
      chat_name: null,
      messages_count: 4,
      created_at: at.toISOString(),
      updated_at: at.toISOString(),
    });
    expect(
      messageView({
        applicationToken: 't',
        chatNumber: 3,
        number: 5,
        content: 'c',
        createdAt: at,
        updatedAt: at,
      }),
    ).to.deep.equal({
      type: 'message',
      application_token: 't',
      chat_number: 3,
      message_number: 5,
      message_content: 'c',
      created_at: at.toISOString(),
      updated_at: at.toISOString(),
    });
  });
});
