import { BadRequestError, ValidationError, type FieldIssue } from './errors.js';
import { parseSearchQuery } from './search-query.js';

const APPLICATION_NAME_MAX = 255;
export const CHAT_NAME_MAX = 255;
export const MESSAGE_CONTENT_MAX = 10_000;
/** Numbers are stored as INT UNSIGNED. */
export const NUMBER_MAX = 4_294_967_295;

type Body = Record<string, unknown>;

function asObject(body: unknown): Body {
  if (typeof body !== 'object' || body === null || Array.isArray(body)) {
    throw new ValidationError([{ field: 'body', message: 'must be a JSON object' }]);
  }
  return body as Body;
}

/** With the u flag, a paired surrogate is one code point: only lone halves match. */
const LONE_SURROGATE = /\p{Cs}/u;

/** Whether a string can be stored and returned exactly (no lone surrogate). */
function isWellFormedText(value: string): boolean {
  return !LONE_SURROGATE.test(value);
}

/** Lengths count Unicode code points, as utf8mb4 columns do. */
function codePoints(value: string): number {
  let count = 0;
  for (const _ of value) count += 1;
  return count;
}

function checkString(
  issues: FieldIssue[],
  field: string,
  value: unknown,
  { min, max }: { min: number; max: number },
): value is string {
  if (typeof value !== 'string') {
    issues.push({ field, message: value === undefined ? 'is required' : 'must be a string' });
    return false;
  }
  // A lone surrogate cannot be stored as utf8mb4: it would come back as U+FFFD, unlike the
  // 201 that echoed it. It is refused, naming the field, rather than altered.
  if (LONE_SURROGATE.test(value)) {
    issues.push({ field, message: 'must be valid Unicode text (it holds a lone surrogate)' });
    return false;
  }
  const length = codePoints(value);
  if (length < min) issues.push({ field, message: 'must not be empty' });
  else if (length > max) issues.push({ field, message: `must be at most ${max} characters` });
  return length >= min && length <= max;
}

function fail(issues: FieldIssue[]): never {
  throw new ValidationError(issues);
}

export function parseApplicationInput(body: unknown): { name: string } {
  const b = asObject(body);
  const issues: FieldIssue[] = [];
  const name = b['application_name'];
  if (!checkString(issues, 'application_name', name, { min: 1, max: APPLICATION_NAME_MAX })) {
    fail(issues);
  }
  return { name };
}

/** `chat_name` is optional on create (as in the original challenge); null clears it. */
export function parseChatInput(body: unknown, { required }: { required: boolean }) {
  const b = body === undefined && !required ? {} : asObject(body);
  const issues: FieldIssue[] = [];
  const name = b['chat_name'];
  if (name === null || (name === undefined && !required)) return { name: null };
  if (!checkString(issues, 'chat_name', name, { min: 1, max: CHAT_NAME_MAX })) fail(issues);
  return { name };
}

export function parseMessageInput(body: unknown): { content: string } {
  const b = asObject(body);
  const issues: FieldIssue[] = [];
  const content = b['message_content'];
  if (!checkString(issues, 'message_content', content, { min: 1, max: MESSAGE_CONTENT_MAX })) {
    fail(issues);
  }
  return { content };
}

const CANONICAL_POSITIVE_INT = /^[1-9][0-9]{0,9}$/;

/**
 * Path numbers must be canonical: "1", not "01", "1.0", "+1" or "1e3". Anything else is a
 * 400; a canonical number out of range cannot exist, so it is a 404 of the given kind.
 */
export function parseNumberParam(raw: string, name: string): number {
  if (!CANONICAL_POSITIVE_INT.test(raw)) {
    throw new BadRequestError(`${name} must be a positive integer.`, 'invalid_path_parameter');
  }
  const value = Number(raw);
  if (value > NUMBER_MAX) {
    throw new BadRequestError(`${name} must be at most ${NUMBER_MAX}.`, 'invalid_path_parameter');
  }
  return value;
}

const TOKEN = /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/;

/** Tokens are UUID v4; anything else cannot name an application. */
export function isWellFormedToken(raw: string): boolean {
  return TOKEN.test(raw);
}

export interface ListQuery {
  readonly limit: number;
  readonly after: string | null;
}

export function parseListQuery(
  query: Record<string, string | string[] | undefined>,
  { defaultLimit, maxLimit }: { defaultLimit: number; maxLimit: number },
): ListQuery {
  const limit = single(query, 'limit');
  const after = single(query, 'after');
  let parsedLimit = defaultLimit;
  if (limit !== undefined) {
    if (!/^[0-9]{1,4}$/.test(limit) || Number(limit) < 1 || Number(limit) > maxLimit) {
      throw new BadRequestError(`limit must be an integer from 1 to ${maxLimit}.`, 'invalid_query');
    }
    parsedLimit = Number(limit);
  }
  if (after !== undefined && after === '') {
    throw new BadRequestError('after must not be empty.', 'invalid_query');
  }
  return { limit: parsedLimit, after: after ?? null };
}

/** A numeric `after` cursor for lists ordered by number. */
export function parseNumberCursor(after: string | null): number | null {
  if (after === null) return null;
  if (after !== '0' && !CANONICAL_POSITIVE_INT.test(after)) {
    throw new BadRequestError('after must be a non-negative integer.', 'invalid_query');
  }
  return Math.min(Number(after), NUMBER_MAX);
}

export function single(
  query: Record<string, string | string[] | undefined>,
  name: string,
): string | undefined {
  const value = query[name];
  if (Array.isArray(value)) {
    throw new BadRequestError(`${name} must be given once.`, 'invalid_query');
  }
  return value;
}

const KEY = /^[\x21-\x7e]{1,255}$/;

/** Keys that replay a new application's secret token must be unguessable themselves. */
export const APPLICATION_KEY_MIN_LENGTH = 32;

/**
 * Idempotency-Key: 1–255 visible ASCII characters, or absent. Chat and message keys live
 * under the application's secret token; application keys are global, so they must be long
 * enough to be unguessable (a random UUID), or anyone could replay someone else's token.
 */
export function parseIdempotencyKey(
  raw: string | undefined,
  { minLength = 1 }: { minLength?: number } = {},
): string | null {
  if (raw === undefined) return null;
  if (!KEY.test(raw)) {
    throw new BadRequestError(
      'Idempotency-Key must be 1 to 255 visible ASCII characters.',
      'invalid_idempotency_key',
    );
  }
  if (raw.length < minLength) {
    throw new BadRequestError(
      `Idempotency-Key must be at least ${minLength} characters here (use a random UUID): the answer carries a secret token.`,
      'invalid_idempotency_key',
    );
  }
  return raw;
}

export interface SearchRequest {
  readonly terms: readonly string[];
  readonly limit: number;
  readonly offset: number;
}

const DEFAULT_LIMIT = 20;
const MAX_LIMIT = 100;
/** Deep pages are refused: Elasticsearch's default result window is 10 000. */
export const MAX_WINDOW = 10_000;

type Query = Record<string, string | string[] | undefined>;

/** The search request: the text comes from ?q=, ?search_query=, or a JSON body {"search_query"} (original API). */
export function parseSearchRequest(query: Query, body: unknown): SearchRequest {
  const text = single(query, 'q') ?? single(query, 'search_query') ?? fromBody(body);
  const terms = parseSearchQuery(text ?? '');
  if (terms.length === 0) {
    throw new BadRequestError(
      'A search query is required: ?q=<text>, ?search_query=<text> or {"search_query": "<text>"}.',
      'missing_query',
    );
  }
  const limit = integer(single(query, 'limit'), 'limit', 1, MAX_LIMIT) ?? DEFAULT_LIMIT;
  // Any offset inside the result window is accepted; the page is cut at the window's end.
  const offset = integer(single(query, 'offset'), 'offset', 0, MAX_WINDOW - 1) ?? 0;
  return { terms, limit, offset };
}

function fromBody(body: unknown): string | undefined {
  if (typeof body !== 'object' || body === null) return undefined;
  const value = (body as Record<string, unknown>)['search_query'];
  if (value === undefined || value === null) return undefined;
  if (typeof value !== 'string') {
    throw new BadRequestError('search_query must be a string.', 'invalid_query');
  }
  if (!isWellFormedText(value)) {
    throw new ValidationError([
      { field: 'search_query', message: 'must be valid Unicode text (it holds a lone surrogate)' },
    ]);
  }
  return value;
}

function integer(raw: string | undefined, name: string, min: number, max: number): number | null {
  if (raw === undefined) return null;
  const value = /^[0-9]{1,6}$/.test(raw) ? Number(raw) : NaN;
  if (!(value >= min && value <= max)) {
    throw new BadRequestError(`${name} must be an integer from ${min} to ${max}.`, 'invalid_query');
  }
  return value;
}
