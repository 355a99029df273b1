/**
 * The smoke test of a deployed release, over its public REST API (through the ingress or a
 * port-forward): create an application, a chat and a message, read the message back once the
 * consumer persisted it, and find it by an infix fragment once search has indexed it.
 */
import { randomBytes, randomUUID } from 'node:crypto';
import { pollUntil } from './poll.js';

export interface SmokeOptions {
  /** Base URL of the API, e.g. http://localhost or http://localhost:8080 (no /api suffix). */
  readonly baseUrl: string;
  /** Overall budget for each eventually-consistent step (API reachable, persisted, indexed). */
  readonly timeoutMs: number;
  readonly intervalMs?: number;
  /** Per-request timeout. */
  readonly requestTimeoutMs?: number;
  readonly fetch?: typeof fetch;
  readonly log?: (message: string) => void;
  readonly signal?: AbortSignal;
}

export interface SmokeResult {
  readonly applicationToken: string;
  readonly chatNumber: number;
  readonly messageNumber: number;
  readonly messageContent: string;
  readonly searchFragment: string;
  /** Milliseconds from the 201 of the message to reading it back, and to finding it. */
  readonly persistedAfterMs: number;
  readonly searchableAfterMs: number;
}

export class SmokeTestError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'SmokeTestError';
  }
}

interface JsonResponse {
  readonly status: number;
  readonly body: unknown;
  readonly text: string;
}

export async function runSmokeTest(options: SmokeOptions): Promise<SmokeResult> {
  const doFetch = options.fetch ?? fetch;
  const log = options.log ?? (() => undefined);
  const base = options.baseUrl.replace(/\/+$/, '');
  const intervalMs = options.intervalMs ?? 1_000;
  const requestTimeoutMs = options.requestTimeoutMs ?? 10_000;
  const poll = <T>(
    description: string,
    check: () => Promise<T | undefined>,
    reason: () => string,
  ) =>
    pollUntil(
      async () => {
        try {
          const value = await check();
          return value === undefined ? { done: false, reason: reason() } : { done: true, value };
        } catch (error) {
          // A wrong answer is a failure at once; anything else (network, timeout) is retried.
          if (error instanceof SmokeTestError)
            return { done: false, reason: error.message, fatal: true };
          throw error;
        }
      },
      {
        description,
        timeoutMs: options.timeoutMs,
        intervalMs,
        ...(options.signal === undefined ? {} : { signal: options.signal }),
      },
    );

  const request = async (
    method: string,
    path: string,
    body?: unknown,
    idempotencyKey?: string,
  ): Promise<JsonResponse> => {
    const signals = [AbortSignal.timeout(requestTimeoutMs)];
    if (options.signal !== undefined) signals.push(options.signal);
    const headers: Record<string, string> = { accept: 'application/json' };
    if (body !== undefined) headers['content-type'] = 'application/json';
    if (idempotencyKey !== undefined) headers['idempotency-key'] = idempotencyKey;
    const response = await doFetch(`${base}${path}`, {
      method,
      headers,
      ...(body === undefined ? {} : { body: JSON.stringify(body) }),
      signal: AbortSignal.any(signals),
    });
    const text = await response.text();
    let parsed: unknown = undefined;
    try {
      parsed = text === '' ? undefined : JSON.parse(text);
    } catch {
      // not JSON (an ingress error page): keep the text for the message
    }
    return { status: response.status, body: parsed, text };
  };

  /** POST that must answer 201; 502/503/504 (ingress or a dependency warming up) are retried. */
  const create = async (
    path: string,
    body: unknown,
    what: string,
  ): Promise<Record<string, unknown>> => {
    let last: JsonResponse | undefined;
    // One key for every attempt: a retry after a lost answer replays instead of creating twice.
    const idempotencyKey = randomUUID();
    const created = await poll(
      `${what} to be created`,
      async () => {
        last = await request('POST', path, body, idempotencyKey);
        if (last.status === 201 && isRecord(last.body)) return last.body;
        if ([502, 503, 504].includes(last.status)) return undefined;
        throw new SmokeTestError(describe(`POST ${path}`, last, 201));
      },
      () => (last === undefined ? 'no answer' : describe(`POST ${path}`, last, 201)),
    );
    return created;
  };

  // 1. The route through the ingress may lag behind the pods: wait for the API to answer.
  let probe: JsonResponse | undefined;
  await poll(
    `${base}/api/openapi.json to answer 200`,
    async () => {
      probe = await request('GET', '/api/openapi.json');
      return probe.status === 200 ? true : undefined;
    },
    () => (probe === undefined ? 'no answer' : `status ${probe.status}`),
  );
  log(`API reachable at ${base}`);

  // 2. Application, chat, message.
  const application = await create(
    '/api/applications',
    { application_name: `e2e-k8s ${new Date().toISOString()}` },
    'an application',
  );
  const token = application['application_token'];
  if (typeof token !== 'string' || token === '') {
    throw new SmokeTestError(
      `POST /api/applications: no application_token in ${JSON.stringify(application)}`,
    );
  }
  const app = `/api/applications/${encodeURIComponent(token)}`;
  log(`application created (${token.slice(0, 8)}…)`);

  const chat = await create(`${app}/chats`, { chat_name: 'e2e-k8s smoke' }, 'a chat');
  const chatNumber = chat['chat_number'];
  if (!isPositiveInteger(chatNumber)) {
    throw new SmokeTestError(`POST ${app}/chats: no chat_number in ${JSON.stringify(chat)}`);
  }
  log(`chat ${chatNumber} created`);

  const word = `k8ssmoke${randomBytes(6).toString('hex')}`;
  const content = `hello ${word} from the kubernetes smoke test`;
  const message = await create(
    `${app}/chats/${chatNumber}/messages`,
    { message_content: content },
    'a message',
  );
  const messageNumber = message['message_number'];
  if (!isPositiveInteger(messageNumber)) {
    throw new SmokeTestError(`POST messages: no message_number in ${JSON.stringify(message)}`);
  }
  const acceptedAt = Date.now();
  log(`message ${messageNumber} accepted`);

  // 3. The consumer persists it asynchronously: read it back.
  const messagePath = `${app}/chats/${chatNumber}/messages/${messageNumber}`;
  let read: JsonResponse | undefined;
  await poll(
    `message ${messageNumber} to be persisted`,
    async () => {
      read = await request('GET', messagePath);
      if (read.status !== 200) return undefined;
      const stored = isRecord(read.body) ? read.body['message_content'] : undefined;
      if (stored !== content) {
        throw new SmokeTestError(
          `GET ${messagePath}: content ${JSON.stringify(stored)}, expected ${JSON.stringify(content)}`,
        );
      }
      return true;
    },
    () => (read === undefined ? 'no answer' : `status ${read.status}`),
  );
  const persistedAfterMs = Date.now() - acceptedAt;
  log(`message read back after ${persistedAfterMs} ms`);

  // 4. Search by a fragment from the middle of a word (infix matching).
  const fragment = word.slice(3, -3);
  const searchPath = `${app}/chats/${chatNumber}/search?q=${encodeURIComponent(fragment)}`;
  let search: JsonResponse | undefined;
  await poll(
    `message ${messageNumber} to be found by "${fragment}"`,
    async () => {
      search = await request('GET', searchPath);
      if (search.status !== 200) return undefined;
      if (!Array.isArray(search.body)) {
        throw new SmokeTestError(
          `GET ${searchPath}: expected an array, got ${search.text.slice(0, 200)}`,
        );
      }
      const hits: unknown[] = search.body;
      const hit = hits.find((h) => isRecord(h) && h['number'] === messageNumber);
      if (hit === undefined) return undefined;
      if (!isRecord(hit) || hit['content'] !== content) {
        throw new SmokeTestError(
          `GET ${searchPath}: hit ${JSON.stringify(hit)} has the wrong content`,
        );
      }
      return true;
    },
    () =>
      search === undefined ? 'no answer' : `status ${search.status}, ${search.text.slice(0, 200)}`,
  );
  const searchableAfterMs = Date.now() - acceptedAt;
  log(`message found by search after ${searchableAfterMs} ms`);

  return {
    applicationToken: token,
    chatNumber,
    messageNumber,
    messageContent: content,
    searchFragment: fragment,
    persistedAfterMs,
    searchableAfterMs,
  };
}

function describe(what: string, response: JsonResponse, expected: number): string {
  return `${what} answered ${response.status} (expected ${expected}): ${response.text.slice(0, 300)}`;
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function isPositiveInteger(value: unknown): value is number {
  return typeof value === 'number' && Number.isInteger(value) && value > 0;
}
