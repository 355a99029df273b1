/**
 * An in-memory stand-in for the slice of Elasticsearch the adapter uses, served through the
 * client's official mock so the real client serialises every request. It is deliberately strict:
 * unknown query clauses, fields outside the strict mapping, missing routing or a write to a
 * non-alias under require_alias are errors, as they would be (or should be) on a real cluster.
 * Wildcard patterns follow Lucene's syntax: `*`, `?`, and `\` escaping the next code point.
 */
import { createRequire } from 'node:module';
import { Client, type ClientOptions, type estypes } from '@elastic/elasticsearch';
import type * as Elasticsearch from '@elastic/elasticsearch';
import type * as MockModule from '@elastic/elasticsearch-mock';
import type { MockPattern } from '@elastic/elasticsearch-mock';

const require = createRequire(import.meta.url);
/**
 * The client's official mock. Its module.exports is the class, while its typings declare an ES
 * default export, which NodeNext types as `module.exports.default`; hence the require and cast.
 */
export const Mock = require('@elastic/elasticsearch-mock') as typeof MockModule.default.default;
export type Mock = InstanceType<typeof Mock>;
// The mock recognises errors by the CommonJS build's classes, which differ from the ES module's.
const cjs = require('@elastic/elasticsearch') as typeof Elasticsearch;

/** A client whose every request is answered by `mock`. */
export function clientFor(mock: Mock): Client {
  return new Client({
    node: 'http://localhost:9200',
    // Typed against the CommonJS build; the ES module build's client runs it just the same.
    Connection: mock.getConnection() as unknown as NonNullable<ClientOptions['Connection']>,
    maxRetries: 0,
  });
}

export function mockClient(setup: (mock: Mock) => void): Client {
  const mock = new Mock();
  setup(mock);
  return clientFor(mock);
}

export interface RecordedRequest {
  readonly method: string;
  readonly path: string;
  readonly querystring: Record<string, string>;
  readonly body: unknown;
}

interface StoredDocument {
  readonly routing: string | undefined;
  readonly version: number;
  readonly source: Record<string, unknown>;
}

interface FakeIndex {
  readonly mappings: estypes.MappingTypeMapping;
  readonly settings: Record<string, unknown>;
  readonly docs: Map<string, StoredDocument>;
}

type Json = Record<string, unknown>;

export class FakeError extends Error {
  constructor(
    readonly status: number,
    readonly type: string,
    reason: string,
  ) {
    super(reason);
  }
}

export function responseError(status: number, type: string, reason = type): Error {
  const meta = { body: { error: { type, reason }, status }, statusCode: status };
  return new cjs.errors.ResponseError(meta as Elasticsearch.DiagnosticResult);
}

export class FakeElasticsearch {
  readonly mock = new Mock();
  readonly client: Client;
  readonly requests: RecordedRequest[] = [];
  readonly indices = new Map<string, FakeIndex>();
  /** alias → (index → is_write_index) */
  readonly aliases = new Map<string, Map<string, boolean>>();

  constructor() {
    this.client = clientFor(this.mock);
    this.#route('HEAD', '/_alias/:name', (p) => {
      if (!this.aliases.has(p('name')))
        throw new FakeError(404, 'aliases_not_found_exception', p('name'));
      return '';
    });
    this.#route('GET', '/_alias/:name', (p) => {
      const targets = this.aliases.get(p('name'));
      if (targets === undefined) throw new FakeError(404, 'aliases_not_found_exception', p('name'));
      return Object.fromEntries(
        [...targets].map(([index, write]) => [
          index,
          { aliases: { [p('name')]: write ? { is_write_index: true } : {} } },
        ]),
      );
    });
    this.#route('POST', '/_aliases', (_p, req) => this.#updateAliases(req.body as Json));
    this.#route('HEAD', '/:index', (p) => {
      if (!this.indices.has(p('index')) && !this.aliases.has(p('index'))) {
        throw new FakeError(404, 'index_not_found_exception', p('index'));
      }
      return '';
    });
    this.#route('PUT', '/:index', (p, req) => this.#createIndex(p('index'), req.body as Json));
    this.#route('DELETE', '/:index', (p) => {
      if (!this.indices.delete(p('index')))
        throw new FakeError(404, 'index_not_found_exception', p('index'));
      for (const targets of this.aliases.values()) targets.delete(p('index'));
      for (const [alias, targets] of this.aliases)
        if (targets.size === 0) this.aliases.delete(alias);
      return { acknowledged: true };
    });
    this.#route('PUT', '/:index/_settings', (p, req) => {
      Object.assign(this.#index(p('index')).settings, req.body as Json);
      return { acknowledged: true };
    });
    for (const method of ['GET', 'POST']) {
      this.#route(method, '/:index/_refresh', (p) => {
        this.#resolve(p('index'));
        return { _shards: { total: 1, successful: 1, failed: 0 } };
      });
    }
    this.#route('POST', '/:index/_bulk', (p, req) =>
      this.#bulk(p('index'), req.querystring, req.body as Json[]),
    );
    this.#route('POST', '/:index/_search', (p, req) =>
      this.#search(p('index'), req.querystring, req.body as Json),
    );
    this.#route('POST', '/:index/_delete_by_query', (p, req) =>
      this.#deleteByQuery(p('index'), req.querystring, req.body as Json),
    );
  }

  /** Document sources of an index or alias, by id. */
  documents(target: string): Map<string, Record<string, unknown>> {
    const result = new Map<string, Record<string, unknown>>();
    for (const index of this.#resolve(target)) {
      for (const [id, doc] of this.#index(index).docs) result.set(id, doc.source);
    }
    return result;
  }

  requestsTo(method: string, pathSuffix: string): RecordedRequest[] {
    return this.requests.filter((r) => r.method === method && r.path.endsWith(pathSuffix));
  }

  #route(
    method: string,
    path: string,
    handler: (param: (name: string) => string, request: RecordedRequest) => unknown,
  ): void {
    this.mock.add({ method, path }, (pattern: MockPattern) => {
      const request: RecordedRequest = {
        method,
        path: String(pattern.path),
        querystring: pattern.querystring ?? {},
        body: pattern.body,
      };
      this.requests.push(request);
      try {
        const params = pathParams(path, request.path);
        const param = (name: string): string => {
          const value = params[name];
          if (value === undefined) throw new Error(`no path parameter ${name}`);
          return value;
        };
        return handler(param, request) as Json | string;
      } catch (error) {
        if (error instanceof FakeError)
          return responseError(error.status, error.type, error.message);
        throw error;
      }
    });
  }

  #index(name: string): FakeIndex {
    const index = this.indices.get(name);
    if (index === undefined) throw new FakeError(404, 'index_not_found_exception', name);
    return index;
  }

  #resolve(target: string): string[] {
    const targets = this.aliases.get(target);
    if (targets !== undefined) return [...targets.keys()];
    this.#index(target);
    return [target];
  }

  #writeIndex(alias: string): string {
    const targets = this.aliases.get(alias);
    if (targets === undefined) return this.#index(alias) && alias;
    const writers = [...targets].filter(([, write]) => write).map(([index]) => index);
    const all = [...targets.keys()];
    const write = writers[0] ?? (all.length === 1 ? all[0] : undefined);
    if (write === undefined)
      throw new FakeError(400, 'illegal_argument_exception', 'no write index');
    return write;
  }

  #createIndex(name: string, body: Json): Json {
    if (this.indices.has(name)) throw new FakeError(400, 'resource_already_exists_exception', name);
    if (this.aliases.has(name)) throw new FakeError(400, 'invalid_index_name_exception', name);
    this.indices.set(name, {
      mappings: body.mappings as estypes.MappingTypeMapping,
      settings: structuredClone((body.settings ?? {}) as Json),
      docs: new Map(),
    });
    for (const [alias, options] of Object.entries((body.aliases ?? {}) as Json)) {
      const targets = this.aliases.get(alias) ?? new Map<string, boolean>();
      targets.set(name, (options as Json).is_write_index === true);
      this.aliases.set(alias, targets);
    }
    return { acknowledged: true, shards_acknowledged: true, index: name };
  }

  #updateAliases(body: Json): Json {
    const actions = body.actions as Json[];
    for (const action of actions) {
      const remove = action.remove as Json | undefined;
      if (remove === undefined) continue;
      const present =
        this.aliases.get(remove.alias as string)?.has(remove.index as string) === true;
      if (!present && remove.must_exist === true) {
        throw new FakeError(404, 'aliases_not_found_exception', String(remove.alias));
      }
    }
    for (const action of actions) {
      const [kind, options] = Object.entries(action)[0] as [string, Json];
      const alias = options.alias as string;
      const index = options.index as string;
      if (kind === 'add') {
        this.#index(index);
        const targets = this.aliases.get(alias) ?? new Map<string, boolean>();
        targets.set(index, options.is_write_index === true);
        this.aliases.set(alias, targets);
      } else if (kind === 'remove') {
        this.aliases.get(alias)?.delete(index);
        if (this.aliases.get(alias)?.size === 0) this.aliases.delete(alias);
      } else {
        throw new FakeError(400, 'parsing_exception', `unsupported alias action ${kind}`);
      }
    }
    return { acknowledged: true };
  }

  #bulk(target: string, query: Record<string, string>, lines: Json[]): Json {
    const items: Json[] = [];
    for (let i = 0; i < lines.length; i += 2) {
      const action = lines[i] as Json;
      const source = lines[i + 1] as Json;
      const op = action.index as Json | undefined;
      if (op === undefined)
        throw new FakeError(400, 'illegal_argument_exception', 'only index ops');
      const id = op._id as string;
      try {
        const name = (op._index as string | undefined) ?? target;
        if (query.require_alias === 'true' && !this.aliases.has(name)) {
          throw new FakeError(
            404,
            'index_not_found_exception',
            `[require_alias] ${name} is not an alias`,
          );
        }
        const indexName = this.#writeIndex(name);
        const index = this.#index(indexName);
        validateDocument(index.mappings, source, op.routing);
        const version = op.version as number;
        if (op.version_type !== 'external_gte' || !Number.isInteger(version)) {
          throw new FakeError(400, 'action_request_validation_exception', 'expected external_gte');
        }
        const existing = index.docs.get(id);
        if (existing !== undefined && existing.version > version) {
          throw new FakeError(409, 'version_conflict_engine_exception', `${id}: version conflict`);
        }
        index.docs.set(id, { routing: op.routing as string, version, source });
        items.push({
          index: {
            _index: indexName,
            _id: id,
            _version: version,
            result: existing === undefined ? 'created' : 'updated',
            status: existing === undefined ? 201 : 200,
          },
        });
      } catch (error) {
        if (!(error instanceof FakeError)) throw error;
        items.push({
          index: {
            _index: target,
            _id: id,
            status: error.status,
            error: { type: error.type, reason: error.message },
          },
        });
      }
    }
    return {
      took: 1,
      errors: items.some((item) => (item.index as Json).error !== undefined),
      items,
    };
  }

  #search(target: string, query: Record<string, string>, body: Json): Json {
    const docs = this.#matching(target, query.routing, body.query as Json);
    const sort = (body.sort ?? [{ _score: { order: 'desc' } }]) as Json[];
    docs.sort((a, b) => compareBy(sort, a, b));
    const from = (body.from as number | undefined) ?? 0;
    const size = (body.size as number | undefined) ?? 10;
    const fields = body._source as string[] | undefined;
    return {
      took: 1,
      timed_out: false,
      _shards: { total: 1, successful: 1, skipped: 0, failed: 0 },
      hits: {
        max_score: null,
        hits: docs.slice(from, from + size).map((d) => ({
          _index: d.index,
          _id: d.id,
          _score: d.score,
          _source:
            fields === undefined
              ? d.source
              : Object.fromEntries(
                  fields.filter((f) => f in d.source).map((f) => [f, d.source[f]]),
                ),
          sort: sort.map((s) => sortValue(Object.keys(s)[0] as string, d)),
        })),
      },
    };
  }

  #deleteByQuery(target: string, query: Record<string, string>, body: Json): Json {
    const docs = this.#matching(target, query.routing, body.query as Json);
    for (const doc of docs) this.#index(doc.index).docs.delete(doc.id);
    return { took: 1, deleted: docs.length, failures: [], version_conflicts: 0 };
  }

  #matching(target: string, routing: string | undefined, query: Json): Hit[] {
    const hits: Hit[] = [];
    for (const index of this.#resolve(target)) {
      for (const [id, doc] of this.#index(index).docs) {
        const score = evaluate(query, doc.source, this.#index(index).mappings);
        if (score === null) continue;
        // One shard holds everything here, so routing filters nothing, as on a one-shard index.
        // A match under another routing would be missed (or be a leak) on a multi-shard index.
        if (routing !== undefined && doc.routing !== routing) {
          throw new FakeError(500, 'fake_routing_mismatch', `${id} matched under other routing`);
        }
        hits.push({ index, id, score, source: doc.source });
      }
    }
    return hits;
  }
}

interface Hit {
  readonly index: string;
  readonly id: string;
  readonly score: number;
  readonly source: Record<string, unknown>;
}

function pathParams(pattern: string, path: string): Record<string, string> {
  const names = pattern.split('/');
  const values = path.split('?')[0]!.split('/');
  const params: Record<string, string> = {};
  names.forEach((name, i) => {
    if (name.startsWith(':')) params[name.slice(1)] = decodeURIComponent(values[i] ?? '');
  });
  return params;
}

function validateDocument(
  mappings: estypes.MappingTypeMapping,
  source: Json,
  routing: unknown,
): void {
  if (mappings._routing?.required === true && typeof routing !== 'string') {
    throw new FakeError(400, 'routing_missing_exception', 'routing is required');
  }
  const properties = mappings.properties ?? {};
  for (const [field, value] of Object.entries(source)) {
    const property = properties[field];
    if (property === undefined) {
      throw new FakeError(400, 'strict_dynamic_mapping_exception', `field [${field}] not allowed`);
    }
    const ok =
      property.type === 'integer'
        ? Number.isInteger(value)
        : property.type === 'date'
          ? typeof value === 'string' && !Number.isNaN(Date.parse(value))
          : typeof value === 'string';
    if (!ok) throw new FakeError(400, 'document_parsing_exception', `bad value for [${field}]`);
  }
}

/** Score of `source` under `query`, or null when it does not match. */
function evaluate(query: Json, source: Json, mappings: estypes.MappingTypeMapping): number | null {
  const [kind, spec] = single(query);
  switch (kind) {
    case 'bool':
      return evaluateBool(spec, source, mappings);
    case 'term': {
      const [field, raw] = singleEntry(spec);
      const value = typeof raw === 'object' && raw !== null ? (raw as Json).value : raw;
      return source[field] === value ? 0 : null;
    }
    case 'wildcard': {
      const [field, options] = single(spec);
      const { value, case_insensitive: ci, ...rest } = options;
      if (Object.keys(rest).length > 0)
        throw new FakeError(400, 'parsing_exception', 'wildcard option');
      if (mappings.properties?.[field]?.type !== 'wildcard') {
        throw new FakeError(400, 'query_shard_exception', `[${field}] is not a wildcard field`);
      }
      const text = source[field];
      return typeof text === 'string' && wildcardRegExp(value as string, ci === true).test(text)
        ? 0
        : null;
    }
    case 'match':
    case 'match_phrase': {
      const [field, options] = single(spec);
      const { query: text, boost = 1, ...rest } = options;
      if (Object.keys(rest).length > 0)
        throw new FakeError(400, 'parsing_exception', `${kind} option`);
      const queryTokens = tokens(text as string);
      const fieldValue = source[field];
      const docTokens = tokens(typeof fieldValue === 'string' ? fieldValue : '');
      const matched =
        kind === 'match'
          ? queryTokens.filter((t) => docTokens.includes(t)).length
          : containsSequence(docTokens, queryTokens)
            ? queryTokens.length
            : 0;
      return matched > 0 ? (matched * (boost as number)) / Math.sqrt(docTokens.length) : null;
    }
    default:
      throw new FakeError(400, 'parsing_exception', `unknown query [${kind}]`);
  }
}

function evaluateBool(
  spec: Json,
  source: Json,
  mappings: estypes.MappingTypeMapping,
): number | null {
  const { filter = [], must = [], should = [], must_not: mustNot = [], ...rest } = spec;
  if (Object.keys(rest).length > 0) throw new FakeError(400, 'parsing_exception', 'bool option');
  let score = 0;
  for (const clause of filter as Json[])
    if (evaluate(clause, source, mappings) === null) return null;
  for (const clause of mustNot as Json[])
    if (evaluate(clause, source, mappings) !== null) return null;
  for (const clause of must as Json[]) {
    const s = evaluate(clause, source, mappings);
    if (s === null) return null;
    score += s;
  }
  let anyShould = false;
  for (const clause of should as Json[]) {
    const s = evaluate(clause, source, mappings);
    if (s !== null) {
      anyShould = true;
      score += s;
    }
  }
  const shouldRequired =
    (should as Json[]).length > 0 &&
    (filter as Json[]).length === 0 &&
    (must as Json[]).length === 0;
  return shouldRequired && !anyShould ? null : score;
}

export function wildcardRegExp(pattern: string, caseInsensitive: boolean): RegExp {
  let source = '';
  const chars = Array.from(pattern);
  for (let i = 0; i < chars.length; i++) {
    const c = chars[i]!;
    if (c === '*') source += '.*';
    else if (c === '?') source += '.';
    else if (c === '\\' && i + 1 < chars.length) source += escapeRegExp(chars[++i]!);
    else source += escapeRegExp(c);
  }
  return new RegExp(`^${source}$`, caseInsensitive ? 'isu' : 'su');
}

function escapeRegExp(c: string): string {
  return c.replace(/[\\^$.*+?()[\]{}|]/g, '\\$&');
}

function tokens(text: string): string[] {
  return (text.toLowerCase().match(/[\p{L}\p{N}]+/gu) ?? []) as string[];
}

function containsSequence(haystack: readonly string[], needle: readonly string[]): boolean {
  if (needle.length === 0) return false;
  outer: for (let i = 0; i + needle.length <= haystack.length; i++) {
    for (let j = 0; j < needle.length; j++) if (haystack[i + j] !== needle[j]) continue outer;
    return true;
  }
  return false;
}

function single(object: unknown): [string, Json] {
  const [key, value] = singleEntry(object);
  return [key, value as Json];
}

function singleEntry(object: unknown): [string, unknown] {
  const entries = Object.entries(object as Json);
  if (entries.length !== 1) throw new FakeError(400, 'parsing_exception', 'expected one key');
  return entries[0]!;
}

function sortValue(field: string, hit: Hit): unknown {
  return field === '_score' ? hit.score : hit.source[field];
}

function compareBy(sort: readonly Json[], a: Hit, b: Hit): number {
  for (const clause of sort) {
    const [field, options] = single(clause);
    const direction = options.order === 'asc' ? 1 : -1;
    const x = sortValue(field, a) as number;
    const y = sortValue(field, b) as number;
    if (x !== y) return x < y ? -direction : direction;
  }
  return 0;
}
