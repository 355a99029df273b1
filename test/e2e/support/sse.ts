import { request, type ClientRequest, type IncomingMessage } from 'node:http';

export interface SseEvent {
  readonly id: string;
  readonly event: string;
  readonly data: string;
}

/**
 * A server-sent events client over node:http, as a browser's EventSource reads a stream:
 * frames split on blank lines, `id:`/`event:`/`data:` fields, comments ignored.
 */
export class SseClient {
  readonly events: SseEvent[] = [];
  /** When each event arrived (Date.now()), in the same order. */
  readonly arrivals: number[] = [];
  readonly retries: string[] = [];
  comments = 0;
  status = 0;
  contentType = '';
  ended = false;
  private req: ClientRequest | null = null;
  private buffer = '';

  /** Resolves once the answer's headers arrived; `lastEventId` is sent as the header. */
  static open(url: string, lastEventId?: string): Promise<SseClient> {
    const client = new SseClient();
    return new Promise((resolve, reject) => {
      const headers: Record<string, string> = { Accept: 'text/event-stream' };
      if (lastEventId !== undefined) headers['Last-Event-ID'] = lastEventId;
      client.req = request(url, { headers, agent: false }, (res: IncomingMessage) => {
        client.status = res.statusCode ?? 0;
        client.contentType = String(res.headers['content-type'] ?? '');
        res.setEncoding('utf8');
        res.on('data', (chunk: string) => client.take(chunk));
        res.on('end', () => (client.ended = true));
        res.on('close', () => (client.ended = true));
        res.on('error', () => (client.ended = true));
        resolve(client);
      });
      client.req.on('error', (err) => {
        client.ended = true;
        reject(err);
      });
      client.req.end();
    });
  }

  of(type: string): SseEvent[] {
    return this.events.filter((e) => e.event === type);
  }

  get lastId(): string | undefined {
    return this.events.at(-1)?.id;
  }

  close(): void {
    this.req?.destroy();
    this.ended = true;
  }

  private take(chunk: string): void {
    this.buffer += chunk;
    let at: number;
    while ((at = this.buffer.indexOf('\n\n')) >= 0) {
      const block = this.buffer.slice(0, at);
      this.buffer = this.buffer.slice(at + 2);
      const fields: Record<string, string> = {};
      for (const line of block.split('\n')) {
        if (line.startsWith(':')) {
          this.comments += 1;
          continue;
        }
        const colon = line.indexOf(':');
        const name = colon < 0 ? line : line.slice(0, colon);
        const value = colon < 0 ? '' : line.slice(colon + 1).replace(/^ /, '');
        fields[name] = fields[name] === undefined ? value : `${fields[name]}\n${value}`;
      }
      if (fields['retry'] !== undefined) this.retries.push(fields['retry']);
      if (fields['event'] !== undefined || fields['data'] !== undefined) {
        this.arrivals.push(Date.now());
        this.events.push({
          id: fields['id'] ?? '',
          event: fields['event'] ?? 'message',
          data: fields['data'] ?? '',
        });
      }
    }
  }
}
