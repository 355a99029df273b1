import Koa from 'koa';
import Router from '@koa/router';
import type { Logger } from '../log/logger.js';
import type { HttpMetrics } from '../metrics/registry.js';
import type { Readiness } from '../ops/readiness.js';
import { errorMiddleware } from './middleware/errors.js';
import { jsonBody } from './middleware/json-body.js';
import { requestContext } from './middleware/request-context.js';
import { closeUnreadBodies } from './middleware/connection.js';
import { methodPolicy, methodsOf } from './middleware/method-policy.js';
import { rateLimit, type RateLimitOptions } from './middleware/rate-limit.js';
import { securityHeaders } from './middleware/security-headers.js';
import { apiRouter, type ApiServices } from './routes/api.js';
import { LIVE_PAGE } from './live-page.js';

export interface AppDeps {
  readonly logger: Logger;
  readonly metrics: HttpMetrics;
  readonly readiness: Readiness;
  readonly services: ApiServices;
  readonly openapi: object;
  /** Rate limits on creates; absent: none. */
  readonly rateLimit?: RateLimitOptions;
  /** Origins allowed cross-origin access (`*`: any); empty or absent: none. */
  readonly corsAllowedOrigins?: readonly string[];
  /** Serve the live page at `GET /`. */
  readonly livePage?: boolean;
}

export function createApp(deps: AppDeps): Koa {
  const app = new Koa({ proxy: true });
  // Errors are rendered and logged by errorMiddleware; Koa's default handler would log twice.
  app.silent = true;

  const ops = new Router();
  ops.get('/livez', (ctx) => {
    ctx.body = { status: 'ok' };
  });
  ops.get('/readyz', async (ctx) => {
    const report = await deps.readiness.report();
    ctx.status = report.ready ? 200 : 503;
    ctx.body = report;
  });
  if (deps.livePage === true) {
    ops.get('/', (ctx) => {
      ctx.type = 'text/html; charset=utf-8';
      // Its one inline script and same-origin fetches, nothing else.
      ctx.set(
        'Content-Security-Policy',
        "default-src 'none'; script-src 'unsafe-inline'; style-src 'unsafe-inline'; connect-src 'self'; base-uri 'none'; form-action 'none'",
      );
      ctx.body = LIVE_PAGE;
    });
  }
  ops.get('/api/openapi.json', (ctx) => {
    ctx.body = deps.openapi;
  });

  const api = apiRouter(deps.services);
  const methods = methodsOf([ops, api]);
  app
    .use(requestContext(deps.metrics, deps.logger))
    .use(closeUnreadBodies())
    .use(errorMiddleware(deps.logger))
    .use(securityHeaders(deps.corsAllowedOrigins ?? [], methods))
    // Unknown paths and methods, OPTIONS and bad URLs are answered before any body is read.
    .use(methodPolicy(methods));
  if (deps.rateLimit !== undefined) app.use(rateLimit(deps.rateLimit));
  app.use(jsonBody()).use(ops.routes()).use(api.routes());
  return app;
}
