import type { RouterContext } from '@koa/router';
import type { StreamHub, StreamSink } from '../../live/hub.js';

/** The Last-Event-ID a reconnect carries: the header (EventSource), else `?last_event_id=`. */
export function lastEventId(ctx: RouterContext): string | null {
  const header = ctx.get('Last-Event-ID').trim();
  if (header !== '') return header;
  const query = ctx.query['last_event_id'];
  const value = Array.isArray(query) ? query[0] : query;
  return value === undefined || value.trim() === '' ? null : value.trim();
}

/**
 * Turns the answer into a `text/event-stream` served by the hub. Koa steps aside
 * (`ctx.respond = false`): the stream is written to the socket as events come, never
 * buffered, and the headers set so far (request id, nosniff, CORS) are kept.
 */
export async function streamEvents(
  ctx: RouterContext,
  hub: StreamHub,
  token: string,
  chat: number,
): Promise<void> {
  hub.reserve();
  const res = ctx.res;
  const headers: Record<string, string | string[]> = {};
  for (const [name, value] of Object.entries(ctx.response.headers)) {
    if (typeof value === 'string' || Array.isArray(value)) headers[name] = value;
    else if (typeof value === 'number') headers[name] = String(value);
  }
  ctx.status = 200;
  ctx.respond = false;
  res.writeHead(200, {
    ...headers,
    'Content-Type': 'text/event-stream; charset=utf-8',
    'Cache-Control': 'no-store',
    // nginx (ingress-nginx and NGINX Inc.) would otherwise buffer the stream.
    'X-Accel-Buffering': 'no',
  });
  res.flushHeaders();
  res.socket?.setNoDelay(true);
  // A stream is not idle while it waits for events: the heartbeat keeps the socket busy.
  res.socket?.setTimeout(0);
  const sink: StreamSink = {
    write: (chunk) => {
      if (!res.writableEnded && !res.destroyed) res.write(chunk);
      return res.writableLength;
    },
    end: () => {
      if (!res.writableEnded) res.end();
    },
    destroy: () => res.destroy(),
  };
  let closed = false;
  let subscription: { close(): void } | null = null;
  res.once('close', () => {
    closed = true;
    subscription?.close();
  });
  subscription = await hub.subscribe(token, chat, lastEventId(ctx), sink);
  if (closed) subscription.close();
}
