import { expect } from 'chai';
import {
  MAX_RESULT_WINDOW,
  indexDefinition,
} from '../../../../internal/search/elasticsearch/mapping.js';
import { toDocument } from '../../../../internal/search/elasticsearch/document.js';

describe('Elasticsearch index definition', function () {
  it('is exactly the strict mapping the adapter writes to', function () {
    expect(indexDefinition()).to.deep.equal({
      settings: { index: { max_result_window: MAX_RESULT_WINDOW } },
      mappings: {
        dynamic: 'strict',
        _routing: { required: true },
        properties: {
          application_token: { type: 'keyword' },
          chat_number: { type: 'integer' },
          number: { type: 'integer' },
          content: { type: 'text', analyzer: 'standard' },
          content_infix: { type: 'wildcard' },
          created_at: { type: 'date' },
          updated_at: { type: 'date' },
        },
      },
    });
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
