import type { ApplicationRepository, ChatRepository, SearchPort } from '../domain/ports.js';
import { BadRequestError, NotFoundError, ValidationError } from '../domain/errors.js';
import { isWellFormedText, isWellFormedToken, single } from '../domain/validation.js';
import { parseSearchQuery } from '../search/query.js';

export interface SearchRequest {
  readonly terms: readonly string[];
  readonly limit: number;
  readonly offset: number;
}

export interface SearchPage {
  readonly items: readonly { number: number; content: string }[];
  /** Query parameters of the next page, or null on the last one. */
  readonly next: Record<string, string> | null;
}

const DEFAULT_LIMIT = 20;
const MAX_LIMIT = 100;
/** Deep pages are refused: Elasticsearch's default result window is 10 000. */
const MAX_WINDOW = 10_000;

type Query = Record<string, string | string[] | undefined>;

export class SearchService {
  constructor(
    private readonly backend: SearchPort,
    private readonly applications: ApplicationRepository,
    private readonly chats: ChatRepository,
  ) {}

  /** The text comes from ?q=, ?search_query=, or a JSON body {"search_query"} (original API). */
  parseRequest(query: Query, body: unknown): SearchRequest {
    const text = single(query, 'q') ?? single(query, 'search_query') ?? fromBody(body);
    const terms = parseSearchQuery(text ?? '');
    if (terms.length === 0) {
      throw new BadRequestError(
        'A search query is required: ?q=<text>, ?search_query=<text> or {"search_query": "<text>"}.',
        'missing_query',
      );
    }
    const limit = integer(single(query, 'limit'), 'limit', 1, MAX_LIMIT) ?? DEFAULT_LIMIT;
    // Any offset inside the result window is accepted; the page is cut at the window's end.
    const offset = integer(single(query, 'offset'), 'offset', 0, MAX_WINDOW - 1) ?? 0;
    return { terms, limit, offset };
  }

  async search(token: string, chatNumber: number, request: SearchRequest): Promise<SearchPage> {
    if (!isWellFormedToken(token)) throw new NotFoundError('application');
    if ((await this.chats.find(token, chatNumber)) === null) {
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
    return {
      items: hits.slice(0, limit).map((hit) => ({ number: hit.number, content: hit.content })),
      next: more ? { offset: String(offset + limit), limit: String(limit) } : null,
    };
  }
}

function fromBody(body: unknown): string | undefined {
  if (typeof body !== 'object' || body === null) return undefined;
  const value = (body as Record<string, unknown>)['search_query'];
  if (value === undefined || value === null) return undefined;
  if (typeof value !== 'string') {
    throw new BadRequestError('search_query must be a string.', 'invalid_query');
  }
  if (!isWellFormedText(value)) {
    throw new ValidationError([
      { field: 'search_query', message: 'must be valid Unicode text (it holds a lone surrogate)' },
    ]);
  }
  return value;
}

function integer(raw: string | undefined, name: string, min: number, max: number): number | null {
  if (raw === undefined) return null;
  const value = /^[0-9]{1,6}$/.test(raw) ? Number(raw) : NaN;
  if (!(value >= min && value <= max)) {
    throw new BadRequestError(`${name} must be an integer from ${min} to ${max}.`, 'invalid_query');
  }
  return value;
}
