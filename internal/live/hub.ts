import type { LiveFeed, LoggedEvent } from '../domain/ports.js';
import { ServiceUnavailableError } from '../domain/errors.js';
import type { Logger } from '../log/logger.js';

/** Where a stream's bytes go: an HTTP response, or a test's array. */
export interface StreamSink {
  /** Queues the chunk; returns how many bytes are queued and not yet taken by the client. */
  write(chunk: string): number;
  /** Ends the stream cleanly (the client reconnects with Last-Event-ID). */
  end(): void;
  /** Cuts the connection (a client too slow to read). */
  destroy(): void;
}

export interface HubOptions {
  readonly heartbeatMs: number;
  readonly retryMs: number;
  readonly maxStreams: number;
  /** A stream with more bytes than this queued for its client is cut. */
  readonly maxBufferBytes: number;
  /** How long one blocking read of the logs waits. */
  readonly blockMs?: number;
  /** Events read per page while replaying after a Last-Event-ID. */
  readonly pageSize?: number;
}

export interface HubMetrics {
  open(count: number): void;
  sent(type: string, delaySeconds: number): void;
  cut(reason: 'slow_client'): void;
}

interface Subscriber {
  readonly sink: StreamSink;
  /** The last id this connection was given (null: none yet). */
  sent: string | null;
  /** Live events held while the replay after Last-Event-ID runs; null once live. */
  held: LoggedEvent[] | null;
  closed: boolean;
  /** Its reserve() was given back. */
  released: boolean;
}

interface Channel {
  readonly token: string;
  readonly chat: number;
  /** The last id the read loop handed out for this chat. */
  lastId: string;
  readonly subscribers: Set<Subscriber>;
}

export class TooManyStreamsError extends ServiceUnavailableError {
  constructor() {
    super('event streaming (this replica is at its cap)', 5);
  }
}

export interface Subscription {
  close(): void;
}

const keyOf = (token: string, chat: number) => `${token}\n${chat}`;
const frame = (e: LoggedEvent) => `id: ${e.id}\nevent: ${e.type}\ndata: ${e.data}\n\n`;
/** Stream ids are `ms-seq`; longer or larger compares as later. */
function later(a: string, than: string | null): boolean {
  if (than === null) return true;
  const [am = 0, as = 0] = a.split('-').map(Number);
  const [bm = 0, bs = 0] = than.split('-').map(Number);
  return am !== bm ? am > bm : as > bs;
}

/**
 * Server-sent event streams of chats, for one API process. One read loop per process reads
 * every watched chat's log (one blocking read for all of them) and fans each event out to
 * that chat's connections. A connection resuming after Last-Event-ID first replays the log
 * from there while live events are held back, then gets the held ones it has not seen: ids
 * only grow, so an event is never given twice on one connection and none is skipped.
 */
export class StreamHub {
  private readonly channels = new Map<string, Channel>();
  private opening = new Map<string, Promise<Channel>>();
  private count = 0;
  private closed = false;
  private wake: (() => void) | null = null;
  private loop: Promise<void> | null = null;
  /** Reads started so far, and whether one is in progress. */
  private reads = 0;
  private reading = false;
  private readonly heartbeat: NodeJS.Timeout;

  constructor(
    private readonly feed: LiveFeed,
    private readonly options: HubOptions,
    private readonly metrics: HubMetrics,
    private readonly logger: Logger,
  ) {
    this.heartbeat = setInterval(() => this.beat(), options.heartbeatMs);
    this.heartbeat.unref();
  }

  get open(): number {
    return this.count;
  }

  /** Throws TooManyStreamsError at the cap: call before the answer's headers are sent. */
  reserve(): void {
    if (this.closed || this.count >= this.options.maxStreams) throw new TooManyStreamsError();
    this.count += 1;
    this.metrics.open(this.count);
  }

  /**
   * Starts the stream of a chat on a sink reserved with reserve(). `lastEventId`: resume
   * after it (null: from now on).
   */
  async subscribe(
    token: string,
    chat: number,
    lastEventId: string | null,
    sink: StreamSink,
  ): Promise<Subscription> {
    const subscriber: Subscriber = { sink, sent: null, held: [], closed: false, released: false };
    const subscription = { close: () => this.drop(token, chat, subscriber) };
    try {
      this.write(subscriber, `retry: ${this.options.retryMs}\n: connected\n\n`);
      const channel = await this.channel(token, chat);
      channel.subscribers.add(subscriber);
      // Its last other subscriber may have left while this one was opening it.
      const key = keyOf(token, chat);
      if (!this.channels.has(key)) this.channels.set(key, channel);
      if (lastEventId === null) {
        subscriber.sent = channel.lastId;
      } else {
        await this.replay(token, chat, lastEventId, subscriber);
      }
      const held = subscriber.held ?? [];
      subscriber.held = null;
      for (const event of held) this.deliver(subscriber, event);
      this.ensureLoop();
    } catch (err) {
      this.logger.warn({ err }, 'event stream could not start');
      subscription.close();
      sink.end();
    }
    return subscription;
  }

  /** Ends every stream cleanly: clients reconnect (to another replica) with Last-Event-ID. */
  async close(): Promise<void> {
    this.closed = true;
    clearInterval(this.heartbeat);
    for (const channel of this.channels.values()) {
      for (const s of channel.subscribers) {
        s.closed = true;
        s.sink.end();
      }
    }
    this.channels.clear();
    this.wake?.();
    await this.feed.interrupt().catch(() => undefined);
    await this.loop;
  }

  private async replay(
    token: string,
    chat: number,
    after: string,
    subscriber: Subscriber,
  ): Promise<void> {
    const pageSize = this.options.pageSize ?? 500;
    let cursor = after;
    for (;;) {
      const page = await this.feed.since(token, chat, cursor, pageSize);
      if (page === 'reset') {
        // Events after `after` are gone: tell the client to re-list, then go on from now.
        const last = await this.feed.last(token, chat);
        this.write(subscriber, `id: ${last}\nevent: reset\ndata: {}\n\n`);
        subscriber.sent = last;
        this.metrics.sent('reset', 0);
        return;
      }
      subscriber.sent = cursor;
      for (const event of page) this.deliver(subscriber, event, true);
      const tail = page.at(-1);
      if (page.length < pageSize || tail === undefined || subscriber.closed) return;
      cursor = tail.id;
    }
  }

  private async channel(token: string, chat: number): Promise<Channel> {
    const key = keyOf(token, chat);
    const existing = this.channels.get(key);
    if (existing !== undefined) return existing;
    const pending = this.opening.get(key);
    if (pending !== undefined) return pending;
    const opened = (async () => {
      const lastId = await this.feed.last(token, chat);
      const channel: Channel = { token, chat, lastId, subscribers: new Set() };
      this.channels.set(key, channel);
      return channel;
    })();
    this.opening.set(key, opened);
    try {
      const channel = await opened;
      this.kick();
      return channel;
    } finally {
      this.opening.delete(key);
    }
  }

  /**
   * The read in progress does not know a new chat: end it, and again every 50 ms until a new
   * read started (an interrupt that reaches Redis before the read itself is lost).
   */
  private kick(): void {
    const started = this.reads;
    const again = () => {
      if (this.closed || this.reads !== started || !this.reading) return;
      this.feed.interrupt().catch(() => undefined);
      setTimeout(again, 50).unref();
    };
    again();
  }

  private ensureLoop(): void {
    if (this.loop !== null || this.closed) {
      this.wake?.();
      return;
    }
    this.loop = this.run();
  }

  private async run(): Promise<void> {
    let backoffMs = 100;
    while (!this.closed) {
      if (this.channels.size === 0) {
        await new Promise<void>((resolve) => (this.wake = resolve));
        this.wake = null;
        continue;
      }
      const channels = [...this.channels.values()];
      let batches;
      this.reads += 1;
      this.reading = true;
      try {
        batches = await this.feed.read(
          channels.map((c) => ({ token: c.token, chat: c.chat, after: c.lastId })),
          this.options.blockMs ?? 5_000,
        );
        backoffMs = 100;
      } catch (err) {
        this.reading = false;
        if (this.closed) break;
        this.logger.warn({ err }, 'reading the chats’ event logs failed; retrying');
        await new Promise((resolve) => setTimeout(resolve, backoffMs));
        backoffMs = Math.min(backoffMs * 2, 5_000);
        continue;
      }
      this.reading = false;
      for (const batch of batches) {
        const channel = this.channels.get(keyOf(batch.token, batch.chat));
        if (channel === undefined) continue;
        for (const event of batch.events) {
          if (!later(event.id, channel.lastId)) continue;
          channel.lastId = event.id;
          const text = frame(event);
          for (const s of channel.subscribers) this.deliver(s, event, false, text);
        }
      }
    }
  }

  private deliver(
    subscriber: Subscriber,
    event: LoggedEvent,
    replaying = false,
    text = frame(event),
  ): void {
    if (subscriber.closed) return;
    if (subscriber.held !== null && !replaying) {
      subscriber.held.push(event);
      return;
    }
    if (!later(event.id, subscriber.sent)) return;
    subscriber.sent = event.id;
    this.write(subscriber, text);
    this.metrics.sent(event.type, Math.max(0, Date.now() - event.appendedAt) / 1000);
    // A deleted chat has nothing more to say; a reconnect gets its 404.
    if (event.type === 'chat.deleted') {
      subscriber.closed = true;
      subscriber.sink.end();
    }
  }

  private write(subscriber: Subscriber, chunk: string): void {
    if (subscriber.closed) return;
    const queued = subscriber.sink.write(chunk);
    if (queued > this.options.maxBufferBytes) {
      // It resumes with Last-Event-ID once it reads again; holding more would grow without end.
      subscriber.closed = true;
      this.metrics.cut('slow_client');
      subscriber.sink.destroy();
    }
  }

  private beat(): void {
    for (const channel of this.channels.values()) {
      for (const s of channel.subscribers) this.write(s, ': keep-alive\n\n');
    }
  }

  private drop(token: string, chat: number, subscriber: Subscriber): void {
    const key = keyOf(token, chat);
    const channel = this.channels.get(key);
    subscriber.closed = true;
    if (!subscriber.released) {
      subscriber.released = true;
      this.count -= 1;
      this.metrics.open(this.count);
    }
    if (channel === undefined) return;
    channel.subscribers.delete(subscriber);
    if (channel.subscribers.size === 0) this.channels.delete(key);
  }
}
