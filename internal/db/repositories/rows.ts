import type { Transaction } from 'sequelize';
import type { Application, Chat, Message } from '../../domain/model.js';
import type { RecordState } from '../../domain/ports.js';

export interface ApplicationRow {
  id: number | string;
  token: string;
  name: string;
  chats_count: number;
  created_at: Date;
  updated_at: Date;
}

export interface ChatRow {
  id: number | string;
  token: string;
  number: number;
  name: string | null;
  messages_count: number;
  created_at: Date;
  updated_at: Date;
}

/** A message with its application token and chat number: `FROM messages m` + these joins. */
export const MESSAGE_COLUMNS =
  'a.token, c.number AS chat_number, m.number, m.content, m.created_at, m.updated_at';
export const MESSAGE_JOINS = `JOIN chats c ON c.id = m.chat_id
  JOIN applications a ON a.id = c.application_id`;
/** Neither the message, its chat nor its application is deleted. */
export const LIVE_MESSAGE =
  'm.deleted_at IS NULL AND c.deleted_at IS NULL AND a.deleted_at IS NULL';

/** `x.deleted_at IS NOT NULL` of a row that may be missing (NULL). */
export function recordState(deleted: number | string | null | undefined): RecordState {
  if (deleted === null || deleted === undefined) return 'missing';
  return Number(deleted) === 1 ? 'deleted' : 'live';
}

export interface MessageRow {
  token: string;
  chat_number: number;
  number: number;
  content: string;
  created_at: Date;
  updated_at: Date;
}

export const toApplication = (row: ApplicationRow): Application => ({
  id: Number(row.id),
  token: row.token,
  name: row.name,
  chatsCount: row.chats_count,
  createdAt: row.created_at,
  updatedAt: row.updated_at,
});

export const toChat = (row: ChatRow): Chat => ({
  id: Number(row.id),
  applicationToken: row.token,
  number: row.number,
  name: row.name,
  messagesCount: row.messages_count,
  createdAt: row.created_at,
  updatedAt: row.updated_at,
});

export const toMessage = (row: MessageRow): Message => ({
  applicationToken: row.token,
  chatNumber: row.chat_number,
  number: row.number,
  content: row.content,
  createdAt: row.created_at,
  updatedAt: row.updated_at,
});

/** Lists fetch one row more than asked to learn whether another page follows. */
export function paginate<R, T>(
  rows: readonly R[],
  limit: number,
  map: (row: R) => T,
  cursorOf: (row: R) => string,
): { items: T[]; next: string | null } {
  const page = rows.slice(0, limit);
  const last = page.at(-1);
  return {
    items: page.map(map),
    next: rows.length > limit && last !== undefined ? cursorOf(last) : null,
  };
}

/** Query options that run a statement in `session` when there is one. */
export function inSession(session: Transaction | undefined): { transaction?: Transaction } {
  return session === undefined ? {} : { transaction: session };
}
