import { expect } from 'chai';
import { likePattern } from '../../../internal/search/mysql.js';
import { fingerprint } from '../../../internal/service/idempotency.js';
import { parseIdempotencyKey, parseSearchRequest } from '../../../internal/domain/validation.js';
import { AppError } from '../../../internal/domain/errors.js';

function codeOf(fn: () => unknown): string | undefined {
  try {
    fn();
  } catch (err) {
    if (err instanceof AppError) return err.code;
    throw err;
  }
  return undefined;
}

describe('service/search request parsing', () => {
  it('takes the text from q, then search_query, then the JSON body', () => {
    expect(parseSearchRequest({ q: 'a b' }, undefined).terms).to.deep.equal(['a', 'b']);
    expect(parseSearchRequest({ search_query: 'x' }, undefined).terms).to.deep.equal(['x']);
    expect(parseSearchRequest({}, { search_query: 'body text' }).terms).to.deep.equal([
      'body',
      'text',
    ]);
    expect(parseSearchRequest({ q: 'query' }, { search_query: 'body' }).terms).to.deep.equal([
      'query',
    ]);
  });

  it('refuses an empty or missing query with 400 missing_query', () => {
    expect(codeOf(() => parseSearchRequest({}, undefined))).to.equal('missing_query');
    expect(codeOf(() => parseSearchRequest({ q: '   ' }, undefined))).to.equal('missing_query');
    expect(codeOf(() => parseSearchRequest({}, { search_query: 5 }))).to.equal('invalid_query');
  });

  it('bounds limit and offset', () => {
    expect(parseSearchRequest({ q: 'a' }, undefined)).to.include({ limit: 20, offset: 0 });
    expect(parseSearchRequest({ q: 'a', limit: '100', offset: '40' }, undefined)).to.include({
      limit: 100,
      offset: 40,
    });
    for (const query of [{ limit: '0' }, { limit: '101' }, { offset: '-1' }, { offset: '99999' }]) {
      expect(codeOf(() => parseSearchRequest({ q: 'a', ...query }, undefined))).to.equal(
        'invalid_query',
      );
    }
  });
});

describe('service/search offset maximum (defect 6)', () => {
  it('accepts exactly the maximum the OpenAPI document states, with any limit', async () => {
    const { openapiDocument } = await import('../../../internal/http/openapi.js');
    const doc = openapiDocument as {
      paths: Record<
        string,
        { get: { parameters: { name: string; schema: { maximum: number } }[] } }
      >;
    };
    const offset = doc.paths['/api/applications/{token}/chats/{chat}/search']!.get.parameters.find(
      (p) => p.name === 'offset',
    )!;
    const max = offset.schema.maximum;
    for (const limit of ['1', '20', '100']) {
      expect(parseSearchRequest({ q: 'a', limit, offset: String(max) }, undefined)).to.include({
        offset: max,
      });
      expect(
        codeOf(() => parseSearchRequest({ q: 'a', limit, offset: String(max + 1) }, undefined)),
      ).to.equal('invalid_query');
    }
  });

  it('refuses a lone surrogate in a JSON search_query with 422 naming the field', () => {
    expect(codeOf(() => parseSearchRequest({}, { search_query: 'a\ud800' }))).to.equal(
      'validation_failed',
    );
  });
});

describe('search/mysql likePattern', () => {
  it('escapes LIKE wildcards and its own escape character', () => {
    expect(likePattern('100%')).to.equal('%100!%%');
    expect(likePattern('a_c')).to.equal('%a!_c%');
    expect(likePattern('wow!')).to.equal('%wow!!%');
    expect(likePattern("' OR 1=1 --")).to.equal("%' OR 1=1 --%");
  });
});

describe('service/idempotency', () => {
  it('accepts 1–255 visible ASCII characters', () => {
    expect(parseIdempotencyKey(undefined)).to.equal(null);
    expect(parseIdempotencyKey('order-42:retry')).to.equal('order-42:retry');
    expect(codeOf(() => parseIdempotencyKey(''))).to.equal('invalid_idempotency_key');
    expect(codeOf(() => parseIdempotencyKey('has space'))).to.equal('invalid_idempotency_key');
    expect(codeOf(() => parseIdempotencyKey('k'.repeat(256)))).to.equal('invalid_idempotency_key');
    expect(codeOf(() => parseIdempotencyKey('k'.repeat(31), { minLength: 32 }))).to.equal(
      'invalid_idempotency_key',
    );
    expect(parseIdempotencyKey('k'.repeat(32), { minLength: 32 })).to.equal('k'.repeat(32));
  });

  it('fingerprints the validated input, not its formatting', () => {
    expect(fingerprint({ message_content: 'hi' })).to.equal(
      fingerprint(JSON.parse('{ "message_content" : "hi" }')),
    );
    expect(fingerprint({ message_content: 'hi' })).not.to.equal(
      fingerprint({ message_content: 'hi!' }),
    );
  });
});
