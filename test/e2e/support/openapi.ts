import { Ajv2020 } from 'ajv/dist/2020.js';
import { expect } from 'chai';
import { openapiDocument } from '../../../internal/http/openapi.js';

type Json = Record<string, unknown>;
const doc = openapiDocument as Json;
const ajv = new Ajv2020({ strict: false, allErrors: true, validateFormats: false });
ajv.addSchema({ ...doc, $id: 'openapi.json' });

function pointer(ref: string): unknown {
  return ref
    .replace(/^#\//, '')
    .split('/')
    .reduce<unknown>(
      (node, part) => (node as Json)[part.replace(/~1/g, '/').replace(/~0/g, '~')],
      doc,
    );
}

const escape = (part: string) => part.replace(/~/g, '~0').replace(/\//g, '~1');

/** Asserts a real response matches what the OpenAPI document declares for it. */
export function expectMatchesOpenApi(
  method: string,
  template: string,
  status: number,
  body: unknown,
): void {
  const operation = ((doc['paths'] as Json)[template] as Json | undefined)?.[
    method.toLowerCase()
  ] as Json | undefined;
  expect(operation, `${method} ${template} is not documented`).to.not.equal(undefined);
  let response = (operation!['responses'] as Json)[String(status)] as Json | undefined;
  expect(response, `${method} ${template} does not document ${status}`).to.not.equal(undefined);
  let location = `#/paths/${escape(template)}/${method.toLowerCase()}/responses/${status}`;
  if (typeof response!['$ref'] === 'string') {
    location = response!['$ref'];
    response = pointer(location) as Json;
  }
  if (response!['content'] === undefined) return;
  const validate = ajv.getSchema(`openapi.json${location}/content/application~1json/schema`);
  expect(validate, `no schema at ${location}`).to.not.equal(undefined);
  const valid = validate!(body);
  expect(
    valid,
    `${method} ${template} ${status}: ${ajv.errorsText(validate!.errors)}\n${JSON.stringify(body)}`,
  ).to.equal(true);
}
