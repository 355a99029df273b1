import { createServer, type Server } from 'node:http';
import type { Registry } from 'prom-client';
import type { Readiness } from './readiness.js';

/**
 * The operations port: /metrics for Prometheus, and for the consumer and flusher also
 * /livez and /readyz. Kept off the public API port so it is never exposed by the Ingress.
 */
export function createOpsServer(registry: Registry, readiness: Readiness | null): Server {
  return createServer((req, res) => {
    const path = (req.url ?? '/').split('?')[0];
    const send = (status: number, type: string, body: string) => {
      res.writeHead(status, { 'Content-Type': type, 'Cache-Control': 'no-store' });
      res.end(body);
    };
    if (req.method !== 'GET')
      return send(
        405,
        'application/json',
        '{"error":{"code":"method_not_allowed","message":"GET only."}}',
      );
    if (path === '/metrics') {
      registry.metrics().then(
        (text) => send(200, registry.contentType, text),
        () => send(500, 'text/plain', 'metrics unavailable\n'),
      );
      return;
    }
    if (readiness !== null && path === '/livez')
      return send(200, 'application/json', '{"status":"ok"}');
    if (readiness !== null && path === '/readyz') {
      void readiness
        .report()
        .then((report) =>
          send(report.ready ? 200 : 503, 'application/json', JSON.stringify(report)),
        );
      return;
    }
    send(
      404,
      'application/json',
      '{"error":{"code":"route_not_found","message":"No such route."}}',
    );
  });
}
