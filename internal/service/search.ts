import type {
  ApplicationRepository,
  ChatRepository,
  MessageRepository,
  SearchPort,
} from '../domain/ports.js';
import { NotFoundError } from '../domain/errors.js';
import { MAX_WINDOW, isWellFormedToken, type SearchRequest } from '../domain/validation.js';

export interface SearchPage {
  readonly items: readonly { number: number; content: string }[];
  /** Query parameters of the next page, or null on the last one. */
  readonly next: Record<string, string> | null;
}

export class SearchService {
  constructor(
    private readonly backend: SearchPort,
    private readonly applications: ApplicationRepository,
    private readonly chats: ChatRepository,
    private readonly options: {
      /**
       * With an index that lags MySQL (Elasticsearch): hits of messages deleted since are
       * dropped, so a deleted message is never found once its DELETE answered.
       */
      readonly deletions?: Pick<MessageRepository, 'deletedAmong'>;
      /** Whether a chat answered 201 is still unpersisted (read-your-writes). */
      readonly pendingChat?: (token: string, chat: number) => Promise<boolean>;
    } = {},
  ) {}

  async search(token: string, chatNumber: number, request: SearchRequest): Promise<SearchPage> {
    if (!isWellFormedToken(token)) throw new NotFoundError('application');
    if ((await this.chats.find(token, chatNumber)) === null) {
      // Answered 201, not persisted yet: nothing of it can be found yet, but it exists.
      if (await this.options.pendingChat?.(token, chatNumber)) return { items: [], next: null };
      const app = await this.applications.findByToken(token);
      throw new NotFoundError(app === null ? 'application' : 'chat');
    }
    const { limit, offset } = request;
    const hits = await this.backend.search({ applicationToken: token, chatNumber }, request.terms, {
      // One hit more than asked tells whether a next page exists, within the result window.
      limit: Math.min(limit + 1, MAX_WINDOW - offset),
      offset,
    });
    const more = hits.length > limit && offset + limit < MAX_WINDOW;
    const page = hits.slice(0, limit);
    const { deletions } = this.options;
    const deleted =
      deletions === undefined || page.length === 0
        ? new Set<number>()
        : await deletions.deletedAmong(
            token,
            chatNumber,
            page.map((hit) => hit.number),
          );
    return {
      items: page
        .filter((hit) => !deleted.has(hit.number))
        .map((hit) => ({ number: hit.number, content: hit.content })),
      next: more ? { offset: String(offset + limit), limit: String(limit) } : null,
    };
  }
}
