import { createHash, timingSafeEqual } from 'node:crypto';
import type { Middleware } from 'koa';
import { ForbiddenError, UnauthorizedError } from '../../domain/errors.js';

const digest = (value: string) => createHash('sha256').update(value).digest();

/** Admin-only routes: `Authorization: Bearer <ADMIN_TOKEN>`, compared in constant time. */
export function requireAdmin(adminToken: string | undefined): Middleware {
  const expected = adminToken === undefined ? null : digest(adminToken);
  return async (ctx, next) => {
    if (expected === null) {
      throw new ForbiddenError(
        'Listing applications is disabled: set ADMIN_TOKEN on the API to enable it.',
      );
    }
    const match = /^Bearer (.+)$/.exec(ctx.get('Authorization'));
    if (match?.[1] === undefined || !timingSafeEqual(digest(match[1]), expected)) {
      throw new UnauthorizedError();
    }
    await next();
  };
}
