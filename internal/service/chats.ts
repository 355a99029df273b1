import type { ApplicationRepository, ChatRepository, WritePublisher } from '../domain/ports.js';
import type { ChatCreated, Page } from '../domain/model.js';
import { NotFoundError } from '../domain/errors.js';
import { chatView, type ChatView } from '../domain/representation.js';
import { isWellFormedToken } from '../domain/validation.js';
import type { NumberAllocator } from '../counters/numbers.js';
import type { Logger } from '../log/logger.js';
import { runQueuedCreate, type CreateResult } from './queued-create.js';

export interface ChatServiceDeps {
  readonly applications: ApplicationRepository;
  readonly chats: ChatRepository;
  readonly numbers: NumberAllocator;
  readonly publisher: WritePublisher;
  readonly logger: Logger;
  readonly onReseed?: (level: 'application' | 'chat') => void;
}

export class ChatService {
  constructor(private readonly deps: ChatServiceDeps) {}

  create(
    token: string,
    name: string | null,
    idempotencyKey: string | null,
  ): Promise<CreateResult<ChatView>> {
    if (!isWellFormedToken(token)) throw new NotFoundError('application');
    const { numbers, applications } = this.deps;
    return runQueuedCreate<ChatView>(
      {
        input: { chat_name: name },
        idempotencyKey,
        allocate: (idem) => numbers.allocateChat(token, idem),
        reseed: async () => {
          const max = await applications.maxChatNumber(token);
          if (max === null) throw new NotFoundError('application');
          this.deps.onReseed?.('application');
          await numbers.seedApplication(token, max);
        },
        event: (number, eventId, createdAt): ChatCreated => ({
          kind: 'chat.created',
          eventId,
          applicationToken: token,
          chatNumber: number,
          chatName: name,
          createdAt,
        }),
        view: (event) => {
          const e = event as ChatCreated;
          const at = new Date(e.createdAt);
          return chatView({
            id: 0,
            applicationToken: token,
            number: e.chatNumber,
            name: e.chatName,
            messagesCount: 0,
            createdAt: at,
            updatedAt: at,
          });
        },
        complete: (key, record) => numbers.complete(token, 'chat', key, record),
      },
      this.deps.publisher,
      this.deps.logger,
    );
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
