import type Router from '@koa/router';
import type { Middleware } from 'koa';
import { AppError, BadRequestError, NotFoundError } from '../../domain/errors.js';

const ORDER = ['GET', 'HEAD', 'POST', 'PUT', 'PATCH', 'DELETE', 'OPTIONS'];

export type MethodsOf = (path: string) => readonly string[];

/** The methods the routers serve on a path (HEAD comes with GET); empty for unknown paths. */
export function methodsOf(routers: readonly Router[]): MethodsOf {
  return (path) => {
    const methods = new Set<string>();
    for (const router of routers) {
      for (const layer of router.match(path, 'GET').path) {
        for (const method of layer.methods) methods.add(method);
      }
    }
    if (methods.size > 0) methods.add('OPTIONS');
    return ORDER.filter((method) => methods.has(method));
  };
}

class MethodNotAllowedError extends AppError {
  constructor(method: string, allow: readonly string[]) {
    super(405, 'method_not_allowed', `${method} is not allowed here.`, {
      headers: { Allow: allow.join(', ') },
    });
  }
}

// Raw bytes outside visible ASCII, or a %-escape that is not UTF-8, cannot be taken apart
// honestly (Node would turn them into U+FFFD): they are refused, not guessed at.
function checkUrl(url: string): void {
  if (/[^\x21-\x7e]/.test(url)) {
    throw new BadRequestError('The request target must be ASCII; escape the rest.', 'invalid_url');
  }
  const query = url.indexOf('?') === -1 ? '' : url.slice(url.indexOf('?') + 1);
  try {
    decodeURIComponent(url.slice(0, url.indexOf('?') === -1 ? undefined : url.indexOf('?')));
    for (const part of query.split('&')) decodeURIComponent(part.replace(/\+/g, ' '));
  } catch {
    throw new BadRequestError(
      'The request target holds a %-escape that is not UTF-8.',
      'invalid_url',
    );
  }
}

/** An empty segment is an empty token or number: it names nothing, on any method. */
export function hasEmptySegment(path: string): boolean {
  return path.includes('//') || (path.length > 1 && path.endsWith('/'));
}

/**
 * Answers what the routers do not, in the error shape, before any body is read:
 * - a path with an empty segment (`//`, or a trailing `/`) names nothing: 404;
 * - an unknown path: 404, whatever the method (TRACE and CONNECT included);
 * - OPTIONS: 204 with Allow (CORS preflights are answered by the CORS middleware first);
 * - a method the path does not serve: 405 with Allow.
 */
export function methodPolicy(methods: MethodsOf): Middleware {
  return async (ctx, next) => {
    if (ctx.req.httpVersion === '1.1' && ctx.get('Host') === '') {
      throw new BadRequestError('HTTP/1.1 requests must carry a Host header.', 'missing_host');
    }
    checkUrl(ctx.url);
    if (hasEmptySegment(ctx.path)) throw new NotFoundError('route');
    const allow = methods(ctx.path);
    if (allow.length === 0) throw new NotFoundError('route');
    if (ctx.method === 'OPTIONS') {
      ctx.status = 204;
      ctx.set('Allow', allow.join(', '));
      return;
    }
    if (!allow.includes(ctx.method)) throw new MethodNotAllowedError(ctx.method, allow);
    await next();
  };
}
