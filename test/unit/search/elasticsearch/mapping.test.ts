import { expect } from 'chai';
import {
  MAX_RESULT_WINDOW,
  indexDefinition,
} from '../../../../internal/search/elasticsearch/mapping.js';
import { toDocument } from '../../../../internal/search/elasticsearch/document.js';
import { buildSearchRequest } from '../../../../internal/search/elasticsearch/query.js';

describe('Elasticsearch index definition', function () {
  const properties = () => indexDefinition().mappings.properties ?? {};
  const typeOf = (field: string) => (properties()[field] as { type?: string } | undefined)?.type;

  it('refuses unmapped fields and writes without the chat routing', function () {
    const { mappings } = indexDefinition();
    expect(mappings.dynamic).to.equal('strict');
    expect(mappings._routing?.required).to.equal(true);
  });

  it('gives every field a query, filter or sort uses the type that query needs', function () {
    const request = JSON.stringify(
      buildSearchRequest('idx', { applicationToken: 't', chatNumber: 1 }, ['two', 'words'], {
        limit: 10,
        offset: 0,
      }),
    );
    // Infix matching is exact only on a wildcard field (see mapping.ts).
    expect(request).to.include('"content_infix"');
    expect(typeOf('content_infix')).to.equal('wildcard');
    // Ranking matches on an analysed field; scope filters and the sort need exact values.
    expect(request).to.include('"match":{"content"');
    expect(typeOf('content')).to.equal('text');
    expect(typeOf('application_token')).to.equal('keyword');
    for (const field of ['chat_number', 'number']) {
      expect(request).to.include(`"${field}"`);
      expect(typeOf(field)).to.equal('integer');
    }
  });

  it('pages no deeper than the index allows', function () {
    expect(indexDefinition().settings.index?.max_result_window).to.equal(MAX_RESULT_WINDOW);
  });

  it('maps every field of a document, and only those', function () {
    const at = new Date(0);
    const document = toDocument({
      applicationToken: 't',
      chatNumber: 1,
      number: 1,
      content: 'x',
      createdAt: at,
      updatedAt: at,
    });
    expect(Object.keys(indexDefinition().mappings.properties ?? {})).to.have.members(
      Object.keys(document),
    );
  });

  it('returns a fresh object each time, so callers may extend it', function () {
    const first = indexDefinition();
    (first.settings.index as Record<string, unknown>).refresh_interval = '-1';
    expect(indexDefinition().settings).to.deep.equal({
      index: { max_result_window: MAX_RESULT_WINDOW },
    });
  });
});
