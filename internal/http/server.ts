import type { Server } from 'node:http';
import type { Socket } from 'node:net';

/**
 * Open sockets per server. Node's own idle sweep skips a socket that has not sent a byte yet
 * (it counts as a request in progress until headersTimeout), so closeServer needs them all.
 */
const tracked = new WeakMap<Server, Set<Socket>>();

export function listen(server: Server, port: number, host?: string): Promise<number> {
  track(server);
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => {
      server.off('error', reject);
      const address = server.address();
      resolve(typeof address === 'object' && address !== null ? address.port : port);
    });
  });
}

/**
 * Stops accepting and closes every connection as soon as it has nothing in flight: at once
 * for idle keep-alive sockets and for sockets that never sent a byte (a proxy's pre-opened
 * connections), right after their response for busy ones. Whatever is still open after
 * `graceMs` is destroyed, so this always settles within `graceMs` (plus a few milliseconds).
 */
export function closeServer(server: Server, graceMs = 5_000): Promise<void> {
  return new Promise((resolve) => {
    if (!server.listening) return resolve();
    const sockets = tracked.get(server) ?? new Set<Socket>();
    const closeIdle = () => {
      server.closeIdleConnections();
      for (const socket of sockets) if (socket.bytesRead === 0) socket.destroy();
    };
    // A busy socket falls idle when its response ends: close it then, not at a sweep.
    const onRequest = (_req: unknown, res: { once(event: 'finish', f: () => void): unknown }) =>
      void res.once('finish', () => setImmediate(closeIdle));
    server.on('request', onRequest);
    const sweep = setInterval(closeIdle, 100);
    let force: NodeJS.Timeout | undefined = undefined;
    const finish = () => {
      clearInterval(sweep);
      clearTimeout(force);
      server.off('request', onRequest);
      resolve();
    };
    force = setTimeout(() => {
      server.closeAllConnections();
      for (const socket of sockets) socket.destroy();
      // close()'s callback follows once the destroyed sockets are released; don't wait for it.
      finish();
    }, graceMs);
    server.close(finish);
    closeIdle();
  });
}

/** Remembers the open sockets of a server. */
function track(server: Server): void {
  if (tracked.has(server)) return;
  const sockets = new Set<Socket>();
  tracked.set(server, sockets);
  server.on('connection', (socket: Socket) => {
    sockets.add(socket);
    socket.once('close', () => sockets.delete(socket));
  });
}
