import { expect } from 'chai';
import { chatKey } from '../../../../internal/search/elasticsearch/document.js';
import {
  buildSearchRequest,
  escapeWildcard,
} from '../../../../internal/search/elasticsearch/query.js';

const scope = { applicationToken: 'tok_123', chatNumber: 5 };

function filters(terms: string[]): unknown[] {
  const request = buildSearchRequest('messages', scope, terms, { limit: 20, offset: 0 });
  return request.query?.bool?.filter as unknown[];
}

describe('buildSearchRequest', function () {
  it('builds the exact request for one term', function () {
    expect(
      buildSearchRequest('messages', scope, ['Wonder'], { limit: 20, offset: 40 }),
    ).to.deep.equal({
      index: 'messages',
      routing: chatKey(scope),
      preference: chatKey(scope),
      from: 40,
      size: 20,
      track_total_hits: false,
      track_scores: true,
      _source: ['number', 'content'],
      query: {
        bool: {
          filter: [
            { term: { application_token: 'tok_123' } },
            { term: { chat_number: 5 } },
            { wildcard: { content_infix: { value: '*wonder*' } } },
          ],
          should: [{ match: { content: { query: 'Wonder' } } }],
        },
      },
      sort: [{ _score: { order: 'desc' } }, { number: { order: 'desc' } }],
    });
  });

  it('requires every term and ranks by the words and the phrase', function () {
    const request = buildSearchRequest('messages', scope, ['hello', 'World'], {
      limit: 10,
      offset: 0,
    });
    expect(request.query).to.deep.equal({
      bool: {
        filter: [
          { term: { application_token: 'tok_123' } },
          { term: { chat_number: 5 } },
          { wildcard: { content_infix: { value: '*hello*' } } },
          { wildcard: { content_infix: { value: '*world*' } } },
        ],
        should: [
          { match: { content: { query: 'hello World' } } },
          { match_phrase: { content: { query: 'hello World', boost: 2 } } },
        ],
      },
    });
  });

  it('scopes by application token and chat number in filter context, and routes by chat', function () {
    const other = buildSearchRequest('m', { applicationToken: 'other', chatNumber: 6 }, ['x'], {
      limit: 1,
      offset: 0,
    });
    expect(other.query?.bool?.filter).to.deep.include({ term: { application_token: 'other' } });
    expect(other.query?.bool?.filter).to.deep.include({ term: { chat_number: 6 } });
    expect(other.query?.bool?.must).to.equal(undefined);
    expect(other.routing).to.equal(chatKey({ applicationToken: 'other', chatNumber: 6 }));
    expect(other.routing).not.to.equal(chatKey(scope));
  });

  it('escapes wildcard syntax so user text only ever matches literally', function () {
    expect(filters(['*', '?', '\\', 'a*b?c\\d'])).to.deep.include.members([
      { wildcard: { content_infix: { value: '*\\**' } } },
      { wildcard: { content_infix: { value: '*\\?*' } } },
      { wildcard: { content_infix: { value: '*\\\\*' } } },
      { wildcard: { content_infix: { value: '*a\\*b\\?c\\\\d*' } } },
    ]);
  });

  it('passes other syntax characters through verbatim as JSON strings', function () {
    const request = buildSearchRequest(
      'm',
      scope,
      ['"', "'", '%', '_', '(', 'OR', '{"a":1}', '--', '[]'],
      { limit: 1, offset: 0 },
    );
    const values = (
      request.query?.bool?.filter as { wildcard?: { content_infix: { value: string } } }[]
    ).flatMap((f) => (f.wildcard === undefined ? [] : [f.wildcard.content_infix.value]));
    expect(values).to.deep.equal([
      '*"*',
      "*'*",
      '*%*',
      '*_*',
      '*(*',
      '*or*',
      '*{"a":1}*',
      '*--*',
      '*[]*',
    ]);
    expect(JSON.parse(JSON.stringify(request))).to.deep.equal(request);
  });

  it('folds case and composes accents in the infix filter only', function () {
    const request = buildSearchRequest('m', scope, ['CAFE\u0301'], { limit: 1, offset: 0 });
    expect(request.query?.bool?.filter).to.deep.include({
      wildcard: { content_infix: { value: '*caf\u00e9*' } },
    });
    expect(request.query?.bool?.should).to.deep.equal([
      { match: { content: { query: 'CAFE\u0301' } } },
    ]);
  });

  it('refuses an empty term list instead of matching everything', function () {
    expect(() => buildSearchRequest('m', scope, [], { limit: 1, offset: 0 })).to.throw(RangeError);
  });
});

describe('escapeWildcard', function () {
  it('escapes exactly *, ? and backslash', function () {
    expect(escapeWildcard('a*b?c\\d')).to.equal('a\\*b\\?c\\\\d');
    expect(escapeWildcard(`"'%_()[]{}~^:/+-!&|<>=@#$;,.OR`)).to.equal(
      `"'%_()[]{}~^:/+-!&|<>=@#$;,.OR`,
    );
  });
});
