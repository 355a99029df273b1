import type {
  ApplicationRepository,
  ChatRepository,
  MessageRepository,
  ReadViews,
  SearchPort,
} from '../domain/ports.js';
import { NotFoundError } from '../domain/errors.js';
import { MAX_WINDOW, isWellFormedToken, type SearchRequest } from '../domain/validation.js';
import { readViews, type CausalReads } from './causal-reads.js';

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
      /**
       * Reads on a MySQL replica that include every write answered: the chat, and with the
       * built-in search the search itself (its views' `search`).
       */
      readonly reads?: CausalReads;
    } = {},
  ) {}

  async search(token: string, chatNumber: number, request: SearchRequest): Promise<SearchPage> {
    if (!isWellFormedToken(token)) throw new NotFoundError('application');
    const { limit, offset } = request;
    const scope = { applicationToken: token, chatNumber };
    // One hit more than asked tells whether a next page exists, within the result window.
    const window = { limit: Math.min(limit + 1, MAX_WINDOW - offset), offset };
    // The chat, and the built-in search with it, read where the application's writes are.
    const found = await this.read(token, async (db) => {
      if ((await db.chats.find(token, chatNumber)) === null) return null;
      return db.search === undefined ? 'elsewhere' : db.search.search(scope, request.terms, window);
    });
    if (found === null) {
      // Answered 201, not persisted yet: nothing of it can be found yet, but it exists.
      if (await this.options.pendingChat?.(token, chatNumber)) return { items: [], next: null };
      const app = await this.applications.findByToken(token);
      throw new NotFoundError(app === null ? 'application' : 'chat');
    }
    const hits =
      found === 'elsewhere' ? await this.backend.search(scope, request.terms, window) : found;
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

  private read<T>(token: string, read: (db: ReadViews) => Promise<T>): Promise<T> {
    const { reads } = this.options;
    if (reads !== undefined) return reads.read(token, read);
    return read(readViews({ applications: this.applications, chats: this.chats }));
  }
}
