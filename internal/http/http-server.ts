import { createServer, STATUS_CODES, type RequestListener, type Server } from 'node:http';
import type { Duplex } from 'node:stream';
import type { EdgeLimits } from '../config/config.js';

type HttpLimits = EdgeLimits['http'];

/** A complete answer written straight to a socket the HTTP parser gave up on. */
function rawErrorResponse(status: number, code: string, message: string): string {
  const body = JSON.stringify({ error: { code, message } });
  return [
    `HTTP/1.1 ${status} ${STATUS_CODES[status] ?? 'Error'}`,
    'Content-Type: application/json; charset=utf-8',
    `Content-Length: ${Buffer.byteLength(body)}`,
    'X-Content-Type-Options: nosniff',
    'Cache-Control: no-store',
    'Connection: close',
    '',
    body,
  ].join('\r\n');
}

/** What the parser's own failures become: the same error shape as every other answer. */
function clientErrorResponse(err: NodeJS.ErrnoException): string {
  switch (err.code) {
    case 'ERR_HTTP_REQUEST_TIMEOUT':
      return rawErrorResponse(408, 'request_timeout', 'The request took too long to arrive.');
    case 'HPE_HEADER_OVERFLOW':
      return rawErrorResponse(431, 'headers_too_large', 'The request headers are too large.');
    case 'HPE_CHUNK_EXTENSIONS_OVERFLOW':
      return rawErrorResponse(413, 'payload_too_large', 'The chunk extensions are too large.');
    default:
      return rawErrorResponse(400, 'malformed_request', 'The request is not valid HTTP/1.1.');
  }
}

/**
 * The public HTTP server with every limit against slow and abusive clients:
 * - headersTimeout: the whole header block must arrive in time (slowloris);
 * - requestTimeout: the whole request, body included;
 * - keepAliveTimeout: how long an idle keep-alive connection is kept;
 * - socket timeout: inactivity on a socket while a request is in progress (a client that
 *   stops reading its answer);
 * - maxConnections: beyond it, new connections are closed at once, keeping the process alive.
 * Timeouts are checked every second (Node checks every 30 s by default). Answers the parser
 * makes itself (400, 408, 431) have the JSON error shape and close the connection.
 */
export function createHttpServer(handler: RequestListener, limits: HttpLimits): Server {
  const server = createServer(
    {
      headersTimeout: limits.headersTimeoutMs,
      requestTimeout: limits.requestTimeoutMs,
      keepAliveTimeout: limits.keepAliveTimeoutMs,
      connectionsCheckingInterval: Math.min(1_000, limits.headersTimeoutMs),
      // Node would answer a missing Host with a bare 400; the app answers it in the error shape.
      requireHostHeader: false,
    },
    handler,
  );
  server.timeout = limits.socketTimeoutMs;
  server.maxConnections = limits.maxConnections;
  server.on('clientError', (err: NodeJS.ErrnoException, socket: Duplex) => {
    const response = (socket as { _httpMessage?: { headersSent?: boolean } })._httpMessage;
    if (err.code === 'ECONNRESET' || !socket.writable || response?.headersSent === true) {
      socket.destroy();
      return;
    }
    // Written, then destroyed at once, as Node's own handler does: a client that never reads
    // nor closes must not keep a half-open socket.
    socket.write(clientErrorResponse(err));
    socket.destroy();
  });
  // CONNECT is no proxy here: without a listener Node drops the connection without a word.
  server.on('connect', (_req, socket: Duplex) => {
    socket.write(rawErrorResponse(405, 'method_not_allowed', 'CONNECT is not allowed here.'));
    socket.destroy();
  });
  return server;
}
