import parse from 'co-body';
import type { Middleware } from 'koa';
import { UnsupportedMediaTypeError } from '../../domain/errors.js';

export const BODY_LIMIT = '1mb';
const WRITE_METHODS = new Set(['POST', 'PUT', 'PATCH']);

/**
 * Parses JSON bodies into ctx.request.body. A body of another type on a write is a 415;
 * a GET may carry a JSON body too (the original search contract sends one).
 */
export function jsonBody(): Middleware {
  return async (ctx, next) => {
    const hasBody =
      ctx.get('Transfer-Encoding') !== '' || Number(ctx.get('Content-Length') || 0) > 0;
    if (hasBody) {
      if (ctx.request.is('application/json', '+json')) {
        (ctx.request as { body?: unknown }).body = await parse.json(ctx, {
          limit: BODY_LIMIT,
          strict: false,
        });
      } else if (WRITE_METHODS.has(ctx.method)) {
        throw new UnsupportedMediaTypeError();
      }
    }
    await next();
  };
}

export function bodyOf(ctx: { request: unknown }): unknown {
  return (ctx.request as { body?: unknown }).body;
}
