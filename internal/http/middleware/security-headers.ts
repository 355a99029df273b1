import type { Middleware } from 'koa';
import { hasEmptySegment, type MethodsOf } from './method-policy.js';

const EXPOSED = [
  'Link',
  'Retry-After',
  'RateLimit',
  'RateLimit-Policy',
  'X-Request-Id',
  'Idempotent-Replayed',
].join(', ');
const ALLOWED_HEADERS = ['Content-Type', 'Idempotency-Key', 'X-Request-Id', 'Authorization'].join(
  ', ',
);
const PREFLIGHT_MAX_AGE_SECONDS = '600';

/**
 * Headers on every answer, errors included:
 * - `X-Content-Type-Options: nosniff`;
 * - `Cache-Control: no-store` on the API, whose every representation carries an
 *   application's secret token (the OpenAPI document is public and cacheable);
 * - CORS for the configured origins only (none by default: browsers on other origins are
 *   refused), with preflights answered here. No credentials are ever allowed: the API
 *   authenticates by token in the path or a bearer header, never by cookie.
 */
export function securityHeaders(
  corsAllowedOrigins: readonly string[],
  methods: MethodsOf,
): Middleware {
  const anyOrigin = corsAllowedOrigins.includes('*');
  const origins = new Set(corsAllowedOrigins);
  return async (ctx, next) => {
    ctx.set('X-Content-Type-Options', 'nosniff');
    if (ctx.path.startsWith('/api/') && ctx.path !== '/api/openapi.json') {
      ctx.set('Cache-Control', 'no-store');
    }
    const origin = ctx.get('Origin');
    if (origins.size > 0 && !anyOrigin) ctx.vary('Origin');
    const allowed = origin !== '' && (anyOrigin || origins.has(origin));
    if (!allowed) {
      await next();
      return;
    }
    ctx.set('Access-Control-Allow-Origin', anyOrigin ? '*' : origin);
    const requested = ctx.get('Access-Control-Request-Method').toUpperCase();
    if (ctx.method !== 'OPTIONS' || requested === '') {
      ctx.set('Access-Control-Expose-Headers', EXPOSED);
      await next();
      return;
    }
    const allow = hasEmptySegment(ctx.path) ? [] : methods(ctx.path);
    // Unknown paths fall through to the 404; a method the path does not serve gets no grant.
    if (allow.length === 0) {
      await next();
      return;
    }
    ctx.status = 204;
    ctx.set('Allow', allow.join(', '));
    if (allow.includes(requested)) {
      ctx.set('Access-Control-Allow-Methods', allow.join(', '));
      ctx.set('Access-Control-Allow-Headers', ALLOWED_HEADERS);
      ctx.set('Access-Control-Max-Age', PREFLIGHT_MAX_AGE_SECONDS);
    }
  };
}
