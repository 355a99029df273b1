import type { Middleware } from 'koa';

/**
 * A request answered before its body was read to the end (refused as too large, of the wrong
 * type, rate limited…) leaves the rest of that body on the connection, where it would be
 * parsed as the next request, or wait for ever. Such a connection is closed after the answer
 * (`Connection: close`); what is still arriving is discarded meanwhile.
 */
export function closeUnreadBodies(): Middleware {
  return async (ctx, next) => {
    try {
      await next();
    } finally {
      const declared =
        ctx.get('Transfer-Encoding') !== '' || Number(ctx.get('Content-Length') || 0) > 0;
      if (declared && !ctx.req.complete) {
        ctx.set('Connection', 'close');
        ctx.req.resume();
      }
    }
  };
}
