import type { SearchHit, SearchPort, SearchScope } from '../../../internal/domain/ports.js';

/**
 * A search index in memory: a message matches when its content holds every term (any case);
 * hits come in message-number order. Records each call's scope and page.
 */
export class FakeSearch implements SearchPort {
  readonly messages: (SearchScope & { number: number; content: string })[] = [];
  readonly calls: {
    scope: SearchScope;
    terms: readonly string[];
    limit: number;
    offset: number;
  }[] = [];

  search(
    scope: SearchScope,
    terms: readonly string[],
    page: { limit: number; offset: number },
  ): Promise<SearchHit[]> {
    this.calls.push({ scope, terms, ...page });
    const hits = this.messages
      .filter(
        (m) =>
          m.applicationToken === scope.applicationToken &&
          m.chatNumber === scope.chatNumber &&
          terms.every((t) => m.content.toLowerCase().includes(t.toLowerCase())),
      )
      .sort((a, b) => a.number - b.number)
      .map((m) => ({ number: m.number, content: m.content }));
    return Promise.resolve(hits.slice(page.offset, page.offset + page.limit));
  }
}
