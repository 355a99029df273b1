import type { ApplicationRepository, ChatRepository, DirtyMarks } from '../domain/ports.js';
import type { ChatCreated, Page } from '../domain/model.js';
import { NotFoundError } from '../domain/errors.js';
import { chatView, type ChatView } from '../domain/representation.js';
import { isWellFormedToken } from '../domain/validation.js';
import type { QueuedCreates } from './queued-create.js';
import type { Numbering } from './numbering.js';
import type { Logger } from '../log/logger.js';
import { announce, awaitPersisted, type LiveDeps } from './live.js';
import { readViews, type CausalReads } from './causal-reads.js';
import type { ReadViews } from '../domain/ports.js';

export interface ChatServiceDeps {
  readonly applications: ApplicationRepository;
  readonly chats: ChatRepository;
  readonly creates: QueuedCreates;
  /** Deletes: whether a chat not persisted yet was issued; no message numbered once deleted. */
  readonly numbering: Pick<Numbering, 'lastIssued' | 'markDeleted'>;
  /** A delete changes the application's chats_count: the flusher recounts it. */
  readonly dirty: Pick<DirtyMarks, 'mark'>;
  readonly logger: Logger;
  /** Event logs and read-your-writes; absent: neither. */
  readonly live?: LiveDeps;
  /** Reads on a MySQL replica that include every write answered; absent: the repositories. */
  readonly reads?: CausalReads;
}

export interface CreateResult<V> {
  readonly view: V;
  readonly replayed: boolean;
}

const CHATS = { kind: 'chats' } as const;

export class ChatService {
  constructor(private readonly deps: ChatServiceDeps) {}

  async create(
    token: string,
    name: string | null,
    idempotencyKey: string | null,
  ): Promise<CreateResult<ChatView>> {
    if (!isWellFormedToken(token)) throw new NotFoundError('application');
    const { creates } = this.deps;
    const decision = await creates.decide(token, CHATS, { chat_name: name }, idempotencyKey);
    const event: ChatCreated = {
      kind: 'chat.created',
      eventId: decision.eventId,
      applicationToken: token,
      chatNumber: decision.number,
      chatName: name,
      createdAt: decision.createdAt,
    };
    const at = new Date(event.createdAt);
    const view = chatView({
      id: 0,
      applicationToken: token,
      number: event.chatNumber,
      name: event.chatName,
      messagesCount: 0,
      createdAt: at,
      updatedAt: at,
    });
    await creates.publish(token, CHATS, event, decision, idempotencyKey, {
      ref: { kind: 'chat', chat: event.chatNumber },
      view,
    });
    return { view, replayed: decision.replayed };
  }

  /** Answered 201 and not persisted yet: its created representation (read-your-writes). */
  async get(token: string, number: number): Promise<ChatView> {
    if (!isWellFormedToken(token)) throw new NotFoundError('chat');
    const pending = await this.pending(token, number);
    if (pending !== null) return pending;
    const chat = await this.read(token, (db) => db.chats.find(token, number));
    if (chat === null) throw new NotFoundError('chat');
    return chatView(chat);
  }

  /** Whether the chat exists, persisted or answered 201 (for lists, searches and streams). */
  async exists(token: string, number: number): Promise<boolean> {
    if (!isWellFormedToken(token)) return false;
    if ((await this.pending(token, number)) !== null) return true;
    return (await this.read(token, (db) => db.chats.find(token, number))) !== null;
  }

  private async pending(token: string, number: number): Promise<ChatView | null> {
    const found = await this.deps.live?.pending.find(token, { kind: 'chat', chat: number });
    return (found ?? null) as ChatView | null;
  }

  async list(token: string, limit: number, after: number | null): Promise<Page<ChatView>> {
    if (!isWellFormedToken(token)) throw new NotFoundError('application');
    const page = await this.read(token, async (db) =>
      (await db.applications.findByToken(token)) === null
        ? null
        : db.chats.list(token, limit, after),
    );
    if (page === null) throw new NotFoundError('application');
    return { items: page.items.map(chatView), next: page.next };
  }

  /** Reads MySQL: on a replica that applied this application's writes, or on the primary. */
  private read<T>(token: string, read: (db: ReadViews) => Promise<T>): Promise<T> {
    return this.deps.reads?.read(token, read) ?? read(readViews(this.deps));
  }

  async rename(token: string, number: number, name: string | null): Promise<ChatView> {
    if (!isWellFormedToken(token)) throw new NotFoundError('chat');
    await awaitPersisted(this.deps.live, token, { kind: 'chat', chat: number });
    const chat = await this.deps.chats.rename(token, number, name);
    if (chat === null) throw new NotFoundError('chat');
    // Before the answer and the event: whoever reads next, anywhere, sees the new name.
    await this.deps.reads?.wrote(token);
    const view = chatView(chat);
    await announce(this.deps.live, token, number, { type: 'chat.updated', data: view });
    return view;
  }

  /**
   * Deletes a chat and (in the background) its messages, persisted or still queued. Numbering
   * is told first, so no message is numbered in it once the tombstone is visible; a message
   * numbered before meets the tombstone in the consumer and is dropped with the chat.
   */
  async delete(token: string, number: number): Promise<void> {
    if (!isWellFormedToken(token)) throw new NotFoundError('application');
    const { chats, numbering } = this.deps;
    const state = await chats.state(token, number);
    if (!state.application) throw new NotFoundError('application');
    if (state.chat === 'deleted') throw new NotFoundError('chat');
    if (state.chat === 'missing' && number > (await numbering.lastIssued(token, CHATS))) {
      throw new NotFoundError('chat');
    }
    await numbering.markDeleted(token, number);
    // The deletion mark already hides it; removing it keeps a stale entry from lingering.
    await this.deps.live?.pending.remove(token, { kind: 'chat', chat: number });
    const deleted = await chats.markDeleted(token, number);
    if (deleted === null) throw new NotFoundError('chat');
    await this.deps.reads?.wrote(token);
    await announce(this.deps.live, token, number, {
      type: 'chat.deleted',
      data: { application_token: token, chat_number: number },
    });
    await this.deps.dirty
      .mark([deleted.applicationId], [])
      .catch((err: unknown) =>
        this.deps.logger.warn({ err }, 'chats_count not marked for recount after a delete'),
      );
  }
}
