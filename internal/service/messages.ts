import type {
  ApplicationRepository,
  ChatRepository,
  MessageRepository,
  WritePublisher,
} from '../domain/ports.js';
import type { MessageCreated, Page } from '../domain/model.js';
import { NotFoundError } from '../domain/errors.js';
import { messageView, type MessageView } from '../domain/representation.js';
import { isWellFormedToken } from '../domain/validation.js';
import type { NumberAllocator } from '../counters/numbers.js';
import type { Logger } from '../log/logger.js';
import { runQueuedCreate, type CreateResult } from './queued-create.js';

export interface MessageServiceDeps {
  readonly applications: ApplicationRepository;
  readonly chats: ChatRepository;
  readonly messages: MessageRepository;
  readonly numbers: NumberAllocator;
  readonly publisher: WritePublisher;
  readonly logger: Logger;
  /** Called after a successful edit, e.g. to re-index the message for search. */
  readonly onEdited?: (message: MessageView) => Promise<void>;
  readonly onReseed?: (level: 'application' | 'chat') => void;
}

export class MessageService {
  constructor(private readonly deps: MessageServiceDeps) {}

  create(
    token: string,
    chatNumber: number,
    content: string,
    idempotencyKey: string | null,
  ): Promise<CreateResult<MessageView>> {
    if (!isWellFormedToken(token)) throw new NotFoundError('application');
    const { numbers, applications, chats } = this.deps;
    return runQueuedCreate<MessageView>(
      {
        input: { message_content: content },
        idempotencyKey,
        allocate: (idem) => numbers.allocateMessage(token, chatNumber, idem),
        reseed: async (kind) => {
          if (kind === 'unknown_application') {
            const max = await applications.maxChatNumber(token);
            if (max === null) throw new NotFoundError('application');
            this.deps.onReseed?.('application');
            await numbers.seedApplication(token, max);
          } else {
            this.deps.onReseed?.('chat');
            await numbers.seedChat(
              token,
              chatNumber,
              await chats.maxMessageNumber(token, chatNumber),
            );
          }
        },
        event: (number, eventId, createdAt): MessageCreated => ({
          kind: 'message.created',
          eventId,
          applicationToken: token,
          chatNumber,
          messageNumber: number,
          content,
          createdAt,
        }),
        view: (event) => {
          const e = event as MessageCreated;
          const at = new Date(e.createdAt);
          return messageView({
            applicationToken: token,
            chatNumber,
            number: e.messageNumber,
            content: e.content,
            createdAt: at,
            updatedAt: at,
          });
        },
        complete: (key, record) => numbers.complete(token, `message:${chatNumber}`, key, record),
      },
      this.deps.publisher,
      this.deps.logger,
    );
  }

  async get(token: string, chatNumber: number, number: number): Promise<MessageView> {
    const message = isWellFormedToken(token)
      ? await this.deps.messages.find(token, chatNumber, number)
      : null;
    if (message === null) throw new NotFoundError('message');
    return messageView(message);
  }

  async list(
    token: string,
    chatNumber: number,
    limit: number,
    after: number | null,
  ): Promise<Page<MessageView>> {
    const chat = isWellFormedToken(token) ? await this.deps.chats.find(token, chatNumber) : null;
    if (chat === null) throw new NotFoundError('chat');
    const page = await this.deps.messages.list(token, chatNumber, limit, after);
    return { items: page.items.map(messageView), next: page.next };
  }

  async edit(
    token: string,
    chatNumber: number,
    number: number,
    content: string,
  ): Promise<MessageView> {
    const message = isWellFormedToken(token)
      ? await this.deps.messages.edit(token, chatNumber, number, content)
      : null;
    if (message === null) throw new NotFoundError('message');
    const view = messageView(message);
    await this.deps.onEdited?.(view);
    return view;
  }
}
