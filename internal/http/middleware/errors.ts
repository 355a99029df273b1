import type { Middleware } from 'koa';
import { AppError, NotFoundError, PayloadTooLargeError } from '../../domain/errors.js';
import { BODY_LIMIT_BYTES } from './json-body.js';
import type { Logger } from '../../log/logger.js';
import { asDependencyFailure } from '../dependency-errors.js';

/** Errors thrown by Koa itself and by body parsing carry a status but are not AppErrors. */
function fromHttpError(err: Error): AppError | null {
  switch ((err as { status?: unknown }).status) {
    case 400:
      return new AppError(400, 'malformed_request', 'The request body is not valid JSON.');
    case 413:
      return new PayloadTooLargeError(BODY_LIMIT_BYTES);
    case 415:
      return new AppError(415, 'unsupported_media_type', 'Unsupported request body encoding.');
    default:
      return null;
  }
}

/** The one place errors become responses: `{"error":{"code","message"}}`. */
export function errorMiddleware(logger: Logger): Middleware {
  return async (ctx, next) => {
    try {
      await next();
      if (ctx.status === 404 && ctx.body == null) throw new NotFoundError('route');
      if (ctx.status === 405 && ctx.body == null) {
        throw new AppError(405, 'method_not_allowed', `${ctx.method} is not allowed here.`);
      }
    } catch (caught) {
      const err = caught instanceof Error ? caught : new Error(String(caught));
      const known =
        err instanceof AppError ? err : (asDependencyFailure(err) ?? fromHttpError(err));
      const requestId = ctx.state['requestId'] as string | undefined;
      if (known === null || known.status >= 500) {
        // The route template, never the path: paths carry application tokens.
        const route = (ctx as { _matchedRoute?: string })._matchedRoute ?? 'unmatched';
        logger.error({ err, requestId, method: ctx.method, route }, 'request failed');
      }
      const status = known?.status ?? 500;
      const allow = ctx.response.get('Allow');
      ctx.status = status;
      for (const [name, value] of Object.entries(known?.headers ?? {})) ctx.set(name, value);
      if (allow) ctx.set('Allow', allow);
      ctx.body = {
        error: {
          code: known?.code ?? 'internal_error',
          message: known?.expose ? known.message : 'Internal server error.',
        },
      };
    }
  };
}
