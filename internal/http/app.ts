import Koa from 'koa';
import Router from '@koa/router';
import type { Logger } from '../log/logger.js';
import type { HttpMetrics } from '../metrics/registry.js';
import type { Readiness } from './health.js';
import { errorMiddleware } from './middleware/errors.js';
import { jsonBody } from './middleware/json-body.js';
import { requestContext } from './middleware/request-context.js';
import { apiRouter, type ApiServices } from './routes/api.js';

export interface AppDeps {
  readonly logger: Logger;
  readonly metrics: HttpMetrics;
  readonly readiness: Readiness;
  readonly services: ApiServices;
  readonly openapi: object;
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
  ops.get('/api/openapi.json', (ctx) => {
    ctx.body = deps.openapi;
  });

  const api = apiRouter(deps.services);
  app
    .use(requestContext(deps.metrics, deps.logger))
    .use(errorMiddleware(deps.logger))
    .use(jsonBody())
    .use(ops.routes())
    .use(api.routes())
    .use(api.allowedMethods());
  return app;
}
