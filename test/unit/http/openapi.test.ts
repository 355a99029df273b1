import { expect } from 'chai';
import { openapiDocument } from '../../../internal/http/openapi.js';
import { UNAVAILABLE_CODES } from '../../../internal/domain/errors.js';

interface CreateUnavailable {
  content: {
    'application/json': {
      schema: {
        allOf: [unknown, { properties: { error: { properties: { code: { enum: string[] } } } } }];
      };
    };
  };
}

describe('the OpenAPI document', () => {
  const doc = openapiDocument as {
    components: { responses: { CreateUnavailable: CreateUnavailable } };
    paths: Record<string, Record<string, { responses: Record<string, { $ref?: string }> }>>;
  };

  it('documents every 503 code a create can answer, and only those', () => {
    const documented =
      doc.components.responses.CreateUnavailable.content['application/json'].schema.allOf[1]
        .properties.error.properties.code.enum;
    expect([...documented].sort()).to.deep.equal([...UNAVAILABLE_CODES].sort());
  });

  it('uses it on every queued create', () => {
    for (const path of [
      '/api/applications/{token}/chats',
      '/api/applications/{token}/chats/{chat}',
      '/api/applications/{token}/chats/{chat}/messages',
    ]) {
      expect(doc.paths[path]?.['post']?.responses['503']?.$ref, path).to.equal(
        '#/components/responses/CreateUnavailable',
      );
    }
  });
});
