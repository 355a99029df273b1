/**
 * Steady, bounded load on the API replicas at 127.0.0.1: mostly messages into the chats the
 * API answered 201 for, a few chat creates. Every request carries unique content, so each
 * response can be traced to what was (or was not) persisted. Every response is recorded.
 */
import { Agent, request } from 'node:http';

export type Kind = 'chat' | 'message';

export interface Outcome {
  readonly kind: Kind;
  /** Message content, or chat name: unique within the run. */
  readonly content: string;
  /** The chat a message was sent to. */
  readonly chat: number | undefined;
  /** HTTP status, or 0 when no response came (timeout, connection error). */
  status: number;
  /** The number a 201 gave. */
  number: number | undefined;
  /** The error code of a non-201 JSON error. */
  code: string | undefined;
  readonly sentAt: number;
  doneAt: number;
}

export interface LoadOptions {
  readonly apis: readonly string[];
  readonly token: string;
  /** Chats answered 201 (and persisted) before the load starts. */
  readonly chats: readonly number[];
  /** Unique prefix of every content in this run. */
  readonly tag: string;
  /** Requests sent at least, whenever the fault ends. */
  readonly total: number;
  /** Requests sent after the fault ended (see faultOver), so recovery is under load too. */
  readonly tail: number;
  /** Requests sent at most, however long the fault takes. */
  readonly maxTotal: number;
  readonly perSecond: number;
  /** One create in `chatEvery` is a chat create. */
  readonly chatEvery?: number;
  readonly maxInFlight?: number;
  readonly requestTimeoutMs?: number;
  /** Requests not yet sent when this much time has passed are not sent at all. */
  readonly maxDurationMs: number;
}

export class Load {
  readonly outcomes: Outcome[] = [];
  readonly #options: LoadOptions;
  readonly #chats: number[];
  readonly #agent = new Agent({ keepAlive: true, maxSockets: 128 });
  #inFlight = 0;
  #startedAt = 0;
  #waiters: { count: number; resolve: () => void }[] = [];
  /** Set when the time bound stopped the load before it was done. */
  truncated = false;
  /** How many requests had been sent when the fault ended; null while it goes on. */
  sentWhenFaultOver: number | null = null;

  #apis: readonly string[];

  constructor(options: LoadOptions) {
    this.#options = options;
    this.#chats = [...options.chats];
    this.#apis = Load.#checked(options.apis);
  }

  static #checked(apis: readonly string[]): readonly string[] {
    if (apis.length === 0) throw new Error('load needs at least one API');
    for (const api of apis) {
      const host = new URL(api).hostname;
      if (host !== '127.0.0.1')
        throw new Error(`load is only ever aimed at 127.0.0.1, not ${host}`);
    }
    return [...apis];
  }

  /** Aims the requests sent from now on at these API replicas (a rolling change). */
  useApis(apis: readonly string[]): void {
    this.#apis = Load.#checked(apis);
  }

  get sent(): number {
    return this.outcomes.length;
  }

  get elapsedMs(): number {
    return Date.now() - this.#startedAt;
  }

  /** Resolves once `count` requests have been sent (or the load ended). */
  sentAtLeast(count: number): Promise<void> {
    if (this.sent >= count) return Promise.resolve();
    return new Promise((resolve) => this.#waiters.push({ count, resolve }));
  }

  /** The fault is over: send `tail` more requests (at least up to `total`), then stop. */
  faultOver(): void {
    this.sentWhenFaultOver ??= this.sent;
  }

  /** How many requests the load sends in all, as far as is known now. */
  #target(): number {
    const o = this.#options;
    if (this.sentWhenFaultOver === null) return o.maxTotal;
    return Math.min(o.maxTotal, Math.max(o.total, this.sentWhenFaultOver + o.tail));
  }

  /**
   * Runs until every request is sent and answered: at least `total`, and on until `tail` more
   * after the fault ended, never more than `maxTotal` nor longer than `maxDurationMs`.
   */
  async run(): Promise<void> {
    const o = this.#options;
    const maxInFlight = o.maxInFlight ?? 256;
    const pending = new Set<Promise<void>>();
    this.#startedAt = Date.now();
    try {
      while (this.sent < this.#target()) {
        const elapsed = this.elapsedMs;
        if (elapsed > o.maxDurationMs) {
          this.truncated = true;
          break;
        }
        const due = Math.min(this.#target(), Math.floor((elapsed / 1000) * o.perSecond) + 1);
        while (this.sent < due && this.#inFlight < maxInFlight) {
          const p = this.#send(this.sent).finally(() => pending.delete(p));
          pending.add(p);
          this.#wake();
        }
        await new Promise((resolve) => setTimeout(resolve, 5));
      }
      await Promise.all(pending);
    } finally {
      for (const waiter of this.#waiters.splice(0)) waiter.resolve();
      this.#agent.destroy();
    }
  }

  #wake(): void {
    this.#waiters = this.#waiters.filter((w) => {
      if (this.sent < w.count) return true;
      w.resolve();
      return false;
    });
  }

  #send(i: number): Promise<void> {
    const o = this.#options;
    const kind: Kind = i % (o.chatEvery ?? 25) === 0 ? 'chat' : 'message';
    const api = this.#apis[i % this.#apis.length]!;
    const content = `${o.tag}-${kind === 'chat' ? 'c' : 'm'}${i}`;
    // Round-robin over the chats known to exist, the newest included as soon as they are 201.
    const chat = kind === 'message' ? this.#chats[i % this.#chats.length] : undefined;
    const path =
      kind === 'chat'
        ? `/api/applications/${o.token}/chats`
        : `/api/applications/${o.token}/chats/${chat}/messages`;
    const body = JSON.stringify(
      kind === 'chat' ? { chat_name: content } : { message_content: content },
    );
    const outcome: Outcome = {
      kind,
      content,
      chat,
      status: 0,
      number: undefined,
      code: undefined,
      sentAt: Date.now(),
      doneAt: 0,
    };
    this.outcomes.push(outcome);
    this.#inFlight++;
    return post(`${api}${path}`, body, this.#agent, o.requestTimeoutMs ?? 30_000)
      .then(({ status, json }) => {
        outcome.status = status;
        if (status === 201) {
          const n = json?.[kind === 'chat' ? 'chat_number' : 'message_number'];
          outcome.number = typeof n === 'number' ? n : undefined;
          if (kind === 'chat' && outcome.number !== undefined) this.#chats.push(outcome.number);
        } else {
          const code = (json?.['error'] as { code?: unknown } | undefined)?.code;
          outcome.code = typeof code === 'string' ? code : `http_${status}`;
        }
      })
      .catch((err: Error) => {
        outcome.code = err.message === 'timeout' ? 'no_response_timeout' : 'no_response_error';
      })
      .finally(() => {
        outcome.doneAt = Date.now();
        this.#inFlight--;
      });
  }
}

function post(
  url: string,
  body: string,
  agent: Agent,
  timeoutMs: number,
): Promise<{ status: number; json: Record<string, unknown> | undefined }> {
  return new Promise((resolve, reject) => {
    const req = request(
      url,
      {
        method: 'POST',
        agent,
        headers: { 'Content-Type': 'application/json', 'Content-Length': Buffer.byteLength(body) },
      },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (chunk: Buffer) => chunks.push(chunk));
        res.on('end', () => {
          const text = Buffer.concat(chunks).toString('utf8');
          let json: Record<string, unknown> | undefined;
          try {
            json = JSON.parse(text) as Record<string, unknown>;
          } catch {
            json = undefined;
          }
          resolve({ status: res.statusCode ?? 0, json });
        });
        res.on('error', reject);
      },
    );
    req.setTimeout(timeoutMs, () => req.destroy(new Error('timeout')));
    req.on('error', reject);
    req.end(body);
  });
}
