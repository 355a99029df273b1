import document from './openapi.json' with { type: 'json' };

/** The OpenAPI 3.1 document of the public API, served at /api/openapi.json. */
export const openapiDocument: object = document;
