import { connect, type Socket } from 'node:net';

export interface RawResponse {
  readonly status: number;
  /** Lower-case names; repeated fields joined with ", ". */
  readonly headers: Record<string, string>;
  readonly body: string;
}

export interface RawExchange {
  /** The first complete response, or null when none came. */
  readonly response: RawResponse | null;
  /** The server closed the connection (after or instead of answering). */
  readonly closed: boolean;
  /** Neither an answer nor a close came in time: a hung connection. */
  readonly hung: boolean;
  readonly socket: Socket;
}

function parse(buffer: Buffer, head: boolean): { response: RawResponse; rest: Buffer } | null {
  const end = buffer.indexOf('\r\n\r\n');
  if (end === -1) return null;
  const [statusLine = '', ...lines] = buffer.subarray(0, end).toString('latin1').split('\r\n');
  const status = Number(/^HTTP\/1\.[01] (\d{3})/.exec(statusLine)?.[1] ?? NaN);
  const headers: Record<string, string> = {};
  for (const line of lines) {
    const colon = line.indexOf(':');
    const name = line.slice(0, colon).trim().toLowerCase();
    const value = line.slice(colon + 1).trim();
    headers[name] = headers[name] === undefined ? value : `${headers[name]}, ${value}`;
  }
  const length =
    head || status === 204 || status === 304 ? 0 : Number(headers['content-length'] ?? 0);
  const bodyEnd = end + 4 + length;
  if (buffer.length < bodyEnd) return null;
  return {
    response: { status, headers, body: buffer.subarray(end + 4, bodyEnd).toString('utf8') },
    rest: buffer.subarray(bodyEnd),
  };
}

/**
 * Writes raw bytes on a new connection (in pieces `delayMs` apart when given) and waits for
 * the first complete answer or the server's close, whichever comes first, up to `timeoutMs`.
 * The socket is left open when the server keeps it: see `followUp`.
 */
export function rawExchange(
  port: number,
  payload: string | Buffer | readonly (string | Buffer)[],
  {
    timeoutMs = 5_000,
    delayMs = 0,
    head = false,
  }: { timeoutMs?: number; delayMs?: number; head?: boolean } = {},
): Promise<RawExchange> {
  const pieces: readonly (string | Buffer)[] =
    typeof payload === 'string' || Buffer.isBuffer(payload) ? [payload] : payload;
  return new Promise((resolve) => {
    const socket = connect(port, '127.0.0.1');
    let buffer = Buffer.alloc(0);
    let response: RawResponse | null = null;
    let done = false;
    const finish = (closed: boolean, hung: boolean) => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      socket.off('data', onData);
      resolve({ response, closed, hung, socket });
    };
    const onData = (chunk: Buffer) => {
      buffer = Buffer.concat([buffer, chunk]);
      const parsed = parse(buffer, head);
      if (parsed !== null && response === null) {
        response = parsed.response;
        // Give a close that follows the answer a moment to arrive with it.
        setTimeout(() => finish(socket.readableEnded || socket.destroyed, false), 50);
      }
    };
    const timer = setTimeout(() => finish(false, response === null), timeoutMs);
    socket.on('data', onData);
    socket.on('error', () => undefined);
    socket.on('close', () => finish(true, false));
    socket.on('end', () => finish(true, false));
    const send = async () => {
      for (const [i, piece] of pieces.entries()) {
        if (socket.destroyed) return;
        if (i > 0 && delayMs > 0) await new Promise((r) => setTimeout(r, delayMs));
        socket.write(piece);
      }
    };
    socket.once('connect', () => void send());
  });
}

/**
 * Whether a connection still serves after an exchange: closed by the server counts as
 * healthy ("answer and close"); open, it must answer a plain GET /livez in time.
 */
export async function connectionStillHealthy(
  exchange: RawExchange,
  timeoutMs = 3_000,
): Promise<boolean> {
  const { socket } = exchange;
  if (exchange.closed || socket.destroyed || socket.readableEnded) {
    socket.destroy();
    return true;
  }
  return new Promise((resolve) => {
    let buffer = Buffer.alloc(0);
    const finish = (healthy: boolean) => {
      clearTimeout(timer);
      socket.destroy();
      resolve(healthy);
    };
    const timer = setTimeout(() => finish(false), timeoutMs);
    socket.on('data', (chunk: Buffer) => {
      buffer = Buffer.concat([buffer, chunk]);
      const parsed = parse(buffer, false);
      if (parsed !== null) finish(parsed.response.status === 200);
    });
    socket.on('close', () => finish(true));
    socket.write('GET /livez HTTP/1.1\r\nHost: x\r\n\r\n');
  });
}

/** A well-formed request with a JSON body and Content-Length. */
export function jsonRequest(
  method: string,
  path: string,
  body: string | Buffer,
  headers: Record<string, string> = {},
): Buffer {
  const bytes = typeof body === 'string' ? Buffer.from(body, 'utf8') : body;
  const head = [
    `${method} ${path} HTTP/1.1`,
    'Host: localhost',
    'Content-Type: application/json',
    `Content-Length: ${bytes.length}`,
    ...Object.entries(headers).map(([name, value]) => `${name}: ${value}`),
    '',
    '',
  ].join('\r\n');
  return Buffer.concat([Buffer.from(head, 'latin1'), bytes]);
}
