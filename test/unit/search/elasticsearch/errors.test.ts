import { expect } from 'chai';
import {
  SearchIndexingError,
  isUnavailable,
} from '../../../../internal/search/elasticsearch/errors.js';

const failure = (status: number) => ({ id: `doc-${status}`, status, type: 't', reason: 'r' });
const responseError = (statusCode: number, type?: string) =>
  Object.assign(new Error('response'), {
    name: 'ResponseError',
    statusCode,
    body: type === undefined ? {} : { error: { type } },
  });

describe('search/elasticsearch errors', () => {
  it('retries a bulk while any document was only throttled or hit a server error', () => {
    expect(new SearchIndexingError([failure(429), failure(400)], 3).retryable).to.equal(true);
    expect(new SearchIndexingError([failure(503)], 1).retryable).to.equal(true);
    expect(new SearchIndexingError([failure(400), failure(409)], 2).retryable).to.equal(false);
  });

  it('treats bad credentials and a missing index as temporary, bad requests as final', () => {
    expect(isUnavailable(responseError(401))).to.equal(true);
    expect(isUnavailable(responseError(403))).to.equal(true);
    expect(isUnavailable(responseError(404, 'index_not_found_exception'))).to.equal(true);
    expect(isUnavailable(responseError(404))).to.equal(false);
    expect(isUnavailable(responseError(400, 'parsing_exception'))).to.equal(false);
  });
});
