import type { Middleware } from 'koa';
import { AppError } from '../../domain/errors.js';
import type { RateLimitDecision, RateLimitRule, RateLimiter } from '../../domain/ports.js';
import { isWellFormedToken } from '../../domain/validation.js';
import type { Logger } from '../../log/logger.js';

export interface RateLimitOptions {
  readonly limiter: RateLimiter;
  /** Per client address on POST /api/applications; null: off. */
  readonly applications: RateLimitRule | null;
  /** Per application on chat and message creates; null: off. */
  readonly creates: RateLimitRule | null;
  readonly clientAddress: (ctx: Parameters<Middleware>[0]) => string;
  readonly logger: Logger;
  /** Told of each refusal (metrics). */
  readonly onLimited?: (rule: string) => void;
}

const CREATE = /^\/api\/applications\/([^/]+)\/chats(?:\/[^/]+(?:\/messages)?)?$/;

class TooManyRequestsError extends AppError {
  constructor(headers: Record<string, string>, retryAfter: number) {
    super(429, 'rate_limited', `Too many requests; retry after ${retryAfter} s.`, { headers });
  }
}

/** IETF RateLimit header fields (draft-ietf-httpapi-ratelimit-headers, structured fields). */
function rateLimitHeaders(
  rule: RateLimitRule,
  decision: RateLimitDecision,
): Record<string, string> {
  return {
    'RateLimit-Policy': `"${rule.name}";q=${rule.max};w=${rule.windowSeconds}`,
    RateLimit: `"${rule.name}";r=${decision.remaining};t=${decision.resetSeconds}`,
  };
}

/**
 * Counts creates before their body is read: per client address on POST /api/applications
 * (which writes MySQL at once), per application on chat and message creates. Refusals are
 * 429 with Retry-After. When the store cannot answer, requests pass (fail open): the limit
 * protects the service, and a Redis outage already fails the creates that depend on it.
 */
export function rateLimit(options: RateLimitOptions): Middleware {
  const { limiter, logger } = options;
  return async (ctx, next) => {
    let rule: RateLimitRule | null = null;
    let subject = '';
    if (ctx.method === 'POST') {
      if (ctx.path === '/api/applications' && options.applications !== null) {
        rule = options.applications;
        subject = options.clientAddress(ctx);
      } else if (options.creates !== null) {
        const token = CREATE.exec(ctx.path)?.[1];
        // A malformed token names no application: it is a 404 without counting anything.
        if (token !== undefined && isWellFormedToken(token)) {
          rule = options.creates;
          subject = token;
        }
      }
    }
    if (rule === null) {
      await next();
      return;
    }
    let decision: RateLimitDecision | null = null;
    try {
      decision = await limiter.take(rule, subject);
    } catch (err) {
      logger.warn({ err, rule: rule.name }, 'rate limit store unavailable; request let through');
    }
    if (decision !== null) {
      const headers = rateLimitHeaders(rule, decision);
      if (!decision.allowed) {
        options.onLimited?.(rule.name);
        const retryAfter = decision.resetSeconds;
        throw new TooManyRequestsError(
          { ...headers, 'Retry-After': String(retryAfter) },
          retryAfter,
        );
      }
      ctx.set(headers);
    }
    await next();
  };
}
