import type { ChatRepository, MessageRepository } from '../domain/ports.js';
import type { MessageCreated, Page } from '../domain/model.js';
import { NotFoundError } from '../domain/errors.js';
import { messageView, type MessageView } from '../domain/representation.js';
import { isWellFormedToken } from '../domain/validation.js';
import type { QueuedCreates } from './queued-create.js';
import type { CreateResult } from './chats.js';

export interface MessageServiceDeps {
  readonly chats: ChatRepository;
  readonly messages: MessageRepository;
  readonly creates: QueuedCreates;
  /** Called after a successful edit, e.g. to re-index the message for search. */
  readonly onEdited?: (message: MessageView) => Promise<void>;
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
    await creates.publish(token, scope, event, decision, idempotencyKey);
    const at = new Date(event.createdAt);
    const view = messageView({
      applicationToken: token,
      chatNumber,
      number: event.messageNumber,
      content,
      createdAt: at,
      updatedAt: at,
    });
    return { view, replayed: decision.replayed };
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
