import type { ChatRepository, DirtyMarks, MessageRepository } from '../domain/ports.js';
import type { MessageCreated, Page } from '../domain/model.js';
import { NotFoundError } from '../domain/errors.js';
import { messageView, type MessageView } from '../domain/representation.js';
import { isWellFormedToken } from '../domain/validation.js';
import type { QueuedCreates } from './queued-create.js';
import type { CreateResult } from './chats.js';
import type { Numbering } from './numbering.js';
import type { MessageRef } from './reindex-changes.js';
import type { Logger } from '../log/logger.js';
import { announce, awaitPersisted, type LiveDeps } from './live.js';
import { readViews, type CausalReads } from './causal-reads.js';
import type { ReadViews } from '../domain/ports.js';

export interface MessageServiceDeps {
  readonly chats: ChatRepository;
  readonly messages: MessageRepository;
  readonly creates: QueuedCreates;
  /** Whether a number not persisted yet was ever issued, for deletes. */
  readonly numbering: Pick<Numbering, 'lastIssued'>;
  /** A delete changes the chat's messages_count: the flusher recounts it. */
  readonly dirty: Pick<DirtyMarks, 'mark'>;
  readonly logger: Logger;
  /** Called after a successful edit or delete, e.g. to update the search index at once. */
  readonly onChanged?: (message: MessageRef) => Promise<void>;
  /** Event logs and read-your-writes; absent: neither. */
  readonly live?: LiveDeps;
  /** Whether a chat exists, persisted or answered 201 (see ChatService.exists). */
  readonly chatExists?: (token: string, chat: number) => Promise<boolean>;
  /** Reads on a MySQL replica that include every write answered; absent: the repositories. */
  readonly reads?: CausalReads;
}

export class MessageService {
  constructor(private readonly deps: MessageServiceDeps) {}

  async create(
    token: string,
    chatNumber: number,
    content: string,
    idempotencyKey: string | null,
  ): Promise<CreateResult<MessageView>> {
    if (!isWellFormedToken(token)) throw new NotFoundError('application');
    const { creates } = this.deps;
    const scope = { kind: 'messages', chat: chatNumber } as const;
    const decision = await creates.decide(
      token,
      scope,
      { message_content: content },
      idempotencyKey,
    );
    const event: MessageCreated = {
      kind: 'message.created',
      eventId: decision.eventId,
      applicationToken: token,
      chatNumber,
      messageNumber: decision.number,
      content,
      createdAt: decision.createdAt,
    };
    const at = new Date(event.createdAt);
    const view = messageView({
      applicationToken: token,
      chatNumber,
      number: event.messageNumber,
      content,
      createdAt: at,
      updatedAt: at,
    });
    await creates.publish(token, scope, event, decision, idempotencyKey, {
      ref: { kind: 'message', chat: chatNumber, message: event.messageNumber },
      view,
    });
    return { view, replayed: decision.replayed };
  }

  /** Answered 201 and not persisted yet: its created representation (read-your-writes). */
  async get(token: string, chatNumber: number, number: number): Promise<MessageView> {
    if (!isWellFormedToken(token)) throw new NotFoundError('message');
    const ref = { kind: 'message', chat: chatNumber, message: number } as const;
    const pending = await this.deps.live?.pending.find(token, ref);
    if (pending != null) return pending as MessageView;
    const message = await this.read(token, (db) => db.messages.find(token, chatNumber, number));
    if (message === null) throw new NotFoundError('message');
    return messageView(message);
  }

  async list(
    token: string,
    chatNumber: number,
    limit: number,
    after: number | null,
  ): Promise<Page<MessageView>> {
    const page = isWellFormedToken(token)
      ? await this.read(token, async (db) =>
          (await db.chats.find(token, chatNumber)) === null
            ? null
            : db.messages.list(token, chatNumber, limit, after),
        )
      : null;
    if (page === null) {
      // A chat answered 201 and not persisted yet has no message persisted either.
      if (await this.deps.chatExists?.(token, chatNumber)) return { items: [], next: null };
      throw new NotFoundError('chat');
    }
    return { items: page.items.map(messageView), next: page.next };
  }

  /** Reads MySQL: on a replica that applied this application's writes, or on the primary. */
  private read<T>(token: string, read: (db: ReadViews) => Promise<T>): Promise<T> {
    return this.deps.reads?.read(token, read) ?? read(readViews(this.deps));
  }

  async edit(
    token: string,
    chatNumber: number,
    number: number,
    content: string,
  ): Promise<MessageView> {
    if (!isWellFormedToken(token)) throw new NotFoundError('message');
    await awaitPersisted(this.deps.live, token, {
      kind: 'message',
      chat: chatNumber,
      message: number,
    });
    const message = await this.deps.messages.edit(token, chatNumber, number, content);
    if (message === null) throw new NotFoundError('message');
    // Before the answer and the event: whoever reads next, anywhere, sees the new content.
    await this.deps.reads?.wrote(token);
    await this.deps.onChanged?.({ token, chatNumber, number });
    const view = messageView(message);
    await announce(this.deps.live, token, chatNumber, { type: 'message.updated', data: view });
    return view;
  }

  /**
   * Deletes a message, persisted or still queued (answered 201, not persisted yet: its
   * tombstone waits for it). A number never issued, or deleted already, is a 404.
   */
  async delete(token: string, chatNumber: number, number: number): Promise<void> {
    if (!isWellFormedToken(token)) throw new NotFoundError('application');
    const { messages, numbering } = this.deps;
    const state = await messages.state(token, chatNumber, number);
    if (!state.application) throw new NotFoundError('application');
    if (state.chat === 'deleted') throw new NotFoundError('chat');
    if (state.message === 'deleted') throw new NotFoundError('message');
    if (state.message === 'missing') {
      const chats = await numbering.lastIssued(token, { kind: 'chats' });
      if (state.chat === 'missing' && chatNumber > chats) throw new NotFoundError('chat');
      const issued = await numbering.lastIssued(token, { kind: 'messages', chat: chatNumber });
      if (number > issued) throw new NotFoundError('message');
    }
    // First: once gone, the consumer announces no create for it, and no read shows it.
    await this.deps.live?.pending.remove(token, {
      kind: 'message',
      chat: chatNumber,
      message: number,
    });
    const deleted = await messages.markDeleted(token, chatNumber, number);
    if (deleted === null) throw new NotFoundError('message');
    await this.deps.reads?.wrote(token);
    await announce(this.deps.live, token, chatNumber, {
      type: 'message.deleted',
      data: { application_token: token, chat_number: chatNumber, message_number: number },
    });
    await this.deps.dirty
      .mark([], [deleted.chatId])
      .catch((err: unknown) =>
        this.deps.logger.warn({ err }, 'messages_count not marked for recount after a delete'),
      );
    await this.deps.onChanged?.({ token, chatNumber, number });
  }
}
