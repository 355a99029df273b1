import type { ApplicationRepository, ChatRepository } from '../domain/ports.js';
import type { ChatCreated, Page } from '../domain/model.js';
import { NotFoundError } from '../domain/errors.js';
import { chatView, type ChatView } from '../domain/representation.js';
import { isWellFormedToken } from '../domain/validation.js';
import type { QueuedCreates } from './queued-create.js';

export interface ChatServiceDeps {
  readonly applications: ApplicationRepository;
  readonly chats: ChatRepository;
  readonly creates: QueuedCreates;
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
    await creates.publish(token, CHATS, event, decision, idempotencyKey);
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
    return { view, replayed: decision.replayed };
  }

  async get(token: string, number: number): Promise<ChatView> {
    const chat = isWellFormedToken(token) ? await this.deps.chats.find(token, number) : null;
    if (chat === null) throw new NotFoundError('chat');
    return chatView(chat);
  }

  async list(token: string, limit: number, after: number | null): Promise<Page<ChatView>> {
    await this.requireApplication(token);
    const page = await this.deps.chats.list(token, limit, after);
    return { items: page.items.map(chatView), next: page.next };
  }

  async rename(token: string, number: number, name: string | null): Promise<ChatView> {
    const chat = isWellFormedToken(token)
      ? await this.deps.chats.rename(token, number, name)
      : null;
    if (chat === null) throw new NotFoundError('chat');
    return chatView(chat);
  }

  private async requireApplication(token: string): Promise<void> {
    const app = isWellFormedToken(token) ? await this.deps.applications.findByToken(token) : null;
    if (app === null) throw new NotFoundError('application');
  }
}
