import type { estypes } from '@elastic/elasticsearch';
import type { SearchScope } from '../../domain/ports.js';
import { foldForMatch } from '../../domain/search-query.js';
import { chatKey } from './document.js';

export interface SearchPage {
  readonly limit: number;
  readonly offset: number;
}

/** The fields a hit needs; everything else stays on the server. */
const HIT_SOURCE_FIELDS = ['number', 'content'] as const;

/**
 * Escapes the three characters the wildcard syntax gives meaning to (`*`, `?` and the escape
 * `\` itself). Nothing else is special there: user text reaches the server as a JSON string
 * value and is never parsed as Lucene query syntax.
 */
export function escapeWildcard(text: string): string {
  return text.replace(/[\\*?]/g, '\\$&');
}

/** Restricts a query to one chat of one application. */
function scopeFilters(scope: SearchScope): estypes.QueryDslQueryContainer[] {
  return [
    { term: { application_token: scope.applicationToken } },
    { term: { chat_number: scope.chatNumber } },
  ];
}

/**
 * The search for `terms` inside one chat. Scope and every term are non-scoring filters, so each
 * term must occur as a substring of the folded content; `should` clauses on the analysed
 * `content` only rank (whole words first, then the words as a phrase). Ties fall back to the
 * newest message, which keeps pages stable.
 */
export function buildSearchRequest(
  index: string,
  scope: SearchScope,
  terms: readonly string[],
  page: SearchPage,
): estypes.SearchRequest {
  if (terms.length === 0) throw new RangeError('A search needs at least one term.');
  const text = terms.join(' ');
  const should: estypes.QueryDslQueryContainer[] = [{ match: { content: { query: text } } }];
  if (terms.length > 1) should.push({ match_phrase: { content: { query: text, boost: 2 } } });
  return {
    index,
    routing: chatKey(scope),
    // The same shard copy for every page of one chat: copies score slightly differently.
    preference: chatKey(scope),
    from: page.offset,
    size: page.limit,
    track_total_hits: false,
    track_scores: true,
    _source: [...HIT_SOURCE_FIELDS],
    query: {
      bool: {
        filter: [
          ...scopeFilters(scope),
          ...terms.map((term): estypes.QueryDslQueryContainer => ({
            wildcard: { content_infix: { value: `*${escapeWildcard(foldForMatch(term))}*` } },
          })),
        ],
        should,
      },
    },
    sort: [{ _score: { order: 'desc' } }, { number: { order: 'desc' } }],
  };
}
