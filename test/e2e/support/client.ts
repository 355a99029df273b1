import { request } from 'node:http';
import { expectMatchesOpenApi } from './openapi.js';

export interface Reply<T = unknown> {
  readonly status: number;
  readonly headers: Headers;
  readonly body: T;
}

type Json = Record<string, unknown>;

/** node:http rather than fetch: the original search contract sends a JSON body with a GET. */
function send(
  url: string,
  method: string,
  headers: Record<string, string>,
  body: string | undefined,
): Promise<{ status: number; headers: Headers; text: string }> {
  return new Promise((resolve, reject) => {
    const req = request(url, { method, headers, agent: false }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (chunk: Buffer) => chunks.push(chunk));
      res.on('end', () => {
        const h = new Headers();
        for (const [name, value] of Object.entries(res.headers)) {
          if (value !== undefined) h.set(name, Array.isArray(value) ? value.join(', ') : value);
        }
        resolve({
          status: res.statusCode ?? 0,
          headers: h,
          text: Buffer.concat(chunks).toString('utf8'),
        });
      });
      res.on('error', reject);
    });
    req.on('error', reject);
    req.end(body);
  });
}

/**
 * Calls the API over HTTP. `template` is the documented path of the call; every reply is
 * checked against the OpenAPI document before the test sees it.
 */
export async function call<T = Json>(
  base: string,
  method: string,
  template: string,
  path: string,
  options: { body?: unknown; rawBody?: string; headers?: Record<string, string> } = {},
): Promise<Reply<T>> {
  const headers: Record<string, string> = { ...options.headers };
  let body: string | undefined = options.rawBody;
  if (options.body !== undefined) {
    body = JSON.stringify(options.body);
    headers['Content-Type'] ??= 'application/json';
  }
  if (body !== undefined) headers['Content-Length'] = String(Buffer.byteLength(body));
  const res = await send(`${base}${path}`, method, headers, body);
  const parsed = res.text === '' ? undefined : (JSON.parse(res.text) as T);
  expectMatchesOpenApi(method, template, res.status, parsed);
  return { status: res.status, headers: res.headers, body: parsed as T };
}

export const T = {
  apps: '/api/applications',
  app: '/api/applications/{token}',
  chats: '/api/applications/{token}/chats',
  chat: '/api/applications/{token}/chats/{chat}',
  messages: '/api/applications/{token}/chats/{chat}/messages',
  message: '/api/applications/{token}/chats/{chat}/messages/{message}',
  search: '/api/applications/{token}/chats/{chat}/search',
} as const;

export async function createApplication(base: string, name = 'e2e app'): Promise<string> {
  const reply = await call<{ application_token: string }>(
    base,
    'POST',
    T.apps,
    '/api/applications',
    {
      body: { application_name: name },
    },
  );
  if (reply.status !== 201) throw new Error(`create application: ${reply.status}`);
  return reply.body.application_token;
}
