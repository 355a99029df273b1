import { randomUUID } from 'node:crypto';
import type { Middleware } from 'koa';
import type { HttpMetrics } from '../../metrics/registry.js';
import type { Logger } from '../../log/logger.js';

const INCOMING_ID = /^[\w.:-]{1,128}$/;

/**
 * Accepts or issues X-Request-Id, echoes it, and records RED metrics by route template
 * (never by raw path, which carries secret tokens and unbounded cardinality).
 */
export function requestContext(metrics: HttpMetrics, logger: Logger): Middleware {
  return async (ctx, next) => {
    const started = process.hrtime.bigint();
    const incoming = ctx.get('X-Request-Id');
    const requestId = INCOMING_ID.test(incoming) ? incoming : randomUUID();
    ctx.state['requestId'] = requestId;
    ctx.set('X-Request-Id', requestId);
    try {
      await next();
    } finally {
      const seconds = Number(process.hrtime.bigint() - started) / 1e9;
      const route = (ctx as { _matchedRoute?: string })._matchedRoute ?? 'unmatched';
      const labels = { method: ctx.method, route, status: String(ctx.status) };
      metrics.requests.inc(labels);
      metrics.duration.observe(labels, seconds);
      if (logger.isLevelEnabled('debug')) {
        logger.debug({ requestId, ...labels, ms: Math.round(seconds * 1e3) }, 'request');
      }
    }
  };
}
