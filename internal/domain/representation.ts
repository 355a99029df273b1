import type { Application, Chat, Message } from './model.js';

export interface ApplicationView {
  type: 'application';
  application_token: string;
  application_name: string;
  chats_count: number;
  created_at: string;
  updated_at: string;
}

export interface ChatView {
  type: 'chat';
  application_token: string;
  chat_number: number;
  chat_name: string | null;
  messages_count: number;
  created_at: string;
  updated_at: string;
}

export interface MessageView {
  type: 'message';
  application_token: string;
  chat_number: number;
  message_number: number;
  message_content: string;
  created_at: string;
  updated_at: string;
}

export function applicationView(app: Application): ApplicationView {
  return {
    type: 'application',
    application_token: app.token,
    application_name: app.name,
    chats_count: app.chatsCount,
    created_at: app.createdAt.toISOString(),
    updated_at: app.updatedAt.toISOString(),
  };
}

export function chatView(chat: Chat): ChatView {
  return {
    type: 'chat',
    application_token: chat.applicationToken,
    chat_number: chat.number,
    chat_name: chat.name,
    messages_count: chat.messagesCount,
    created_at: chat.createdAt.toISOString(),
    updated_at: chat.updatedAt.toISOString(),
  };
}

export function messageView(message: Message): MessageView {
  return {
    type: 'message',
    application_token: message.applicationToken,
    chat_number: message.chatNumber,
    message_number: message.number,
    message_content: message.content,
    created_at: message.createdAt.toISOString(),
    updated_at: message.updatedAt.toISOString(),
  };
}
