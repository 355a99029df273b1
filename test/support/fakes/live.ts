import type { WriteEvent } from '../../../internal/domain/model.js';
import type {
  CreateAnnouncer,
  LiveEvent,
  LiveFeed,
  LiveLog,
  LogCursor,
  LoggedEvent,
  PendingCreates,
  PendingRef,
} from '../../../internal/domain/ports.js';
import { messageView } from '../../../internal/domain/representation.js';

const refKey = (token: string, ref: PendingRef) =>
  ref.kind === 'chat' ? `${token}:c:${ref.chat}` : `${token}:m:${ref.chat}:${ref.message}`;
const logKey = (token: string, chat: number) => `${token}:${chat}`;
const seqOf = (id: string) => Number(id.split('-')[1]);

/**
 * In-memory chats' logs and read-your-writes entries with the semantics of redis/live.ts:
 * ids `0-<n>` grow across all chats, a log keeps its last `keep` events (trimmed ones make
 * a resume before them a reset), an entry is announced only while it is still pending.
 * `read` answers at once (no blocking): the hub's loop is driven by `flush()`.
 */
export class FakeLiveLog implements LiveLog, LiveFeed, CreateAnnouncer, PendingCreates {
  readonly logs = new Map<string, LoggedEvent[]>();
  readonly trimmedUpTo = new Map<string, number>();
  readonly pending = new Map<string, { eventId: string; view: object; confirmed: boolean }>();
  private seq = 0;
  private waiters: (() => void)[] = [];
  /** When set, appends reject with it. */
  failWith: Error | null = null;

  constructor(private readonly keep = 1_000) {}

  append(token: string, chatNumber: number, event: LiveEvent): Promise<void> {
    if (this.failWith !== null) return Promise.reject(this.failWith);
    this.add(token, chatNumber, event.type, JSON.stringify(event.data));
    return Promise.resolve();
  }

  settle(persisted: readonly WriteEvent[], discarded: readonly WriteEvent[]): Promise<void> {
    const handle = (event: WriteEvent, announce: boolean) => {
      if (event.kind === 'numbering.fence' || event.kind === 'queue.drained') return;
      const token = event.applicationToken;
      const ref: PendingRef =
        event.kind === 'chat.created'
          ? { kind: 'chat', chat: event.chatNumber }
          : { kind: 'message', chat: event.chatNumber, message: event.messageNumber };
      const entry = this.pending.get(refKey(token, ref));
      if (entry?.eventId !== event.eventId) return;
      this.pending.delete(refKey(token, ref));
      if (!announce || event.kind !== 'message.created') return;
      const at = new Date(event.createdAt);
      const view = messageView({
        applicationToken: token,
        chatNumber: event.chatNumber,
        number: event.messageNumber,
        content: event.content,
        createdAt: at,
        updatedAt: at,
      });
      this.add(token, event.chatNumber, 'message.created', JSON.stringify(view));
    };
    for (const e of persisted) handle(e, true);
    for (const e of discarded) handle(e, false);
    return Promise.resolve();
  }

  stage(token: string, ref: PendingRef, eventId: string, view: object): Promise<void> {
    this.pending.set(refKey(token, ref), { eventId, view, confirmed: false });
    return Promise.resolve();
  }

  confirm(token: string, ref: PendingRef): Promise<void> {
    const entry = this.pending.get(refKey(token, ref));
    if (entry !== undefined) entry.confirmed = true;
    return Promise.resolve();
  }

  find(token: string, ref: PendingRef): Promise<object | null> {
    const entry = this.pending.get(refKey(token, ref));
    return Promise.resolve(entry?.confirmed === true ? entry.view : null);
  }

  remove(token: string, ref: PendingRef): Promise<void> {
    this.pending.delete(refKey(token, ref));
    return Promise.resolve();
  }

  last(token: string, chatNumber: number): Promise<string> {
    return Promise.resolve(this.logs.get(logKey(token, chatNumber))?.at(-1)?.id ?? '0-0');
  }

  since(
    token: string,
    chatNumber: number,
    after: string,
    limit: number,
  ): Promise<readonly LoggedEvent[] | 'reset'> {
    const key = logKey(token, chatNumber);
    const log = this.logs.get(key) ?? [];
    const at = /^0-([0-9]+)$/.exec(after);
    const lastSeq = seqOf(log.at(-1)?.id ?? '0-0');
    if (at === null || Number(at[1]) > lastSeq) return Promise.resolve('reset');
    if (Number(at[1]) < (this.trimmedUpTo.get(key) ?? 0)) return Promise.resolve('reset');
    return Promise.resolve(log.filter((e) => seqOf(e.id) > Number(at[1])).slice(0, limit));
  }

  read(
    cursors: readonly LogCursor[],
  ): Promise<readonly { token: string; chat: number; events: readonly LoggedEvent[] }[]> {
    const found = cursors.flatMap((c) => {
      const events = (this.logs.get(logKey(c.token, c.chat)) ?? []).filter(
        (e) => seqOf(e.id) > seqOf(c.after),
      );
      return events.length === 0 ? [] : [{ token: c.token, chat: c.chat, events }];
    });
    if (found.length > 0) return Promise.resolve(found);
    return new Promise((resolve) => this.waiters.push(() => resolve([])));
  }

  interrupt(): Promise<void> {
    this.wakeReaders();
    return Promise.resolve();
  }

  /** The events of a chat's log, as types. */
  types(token: string, chat: number): string[] {
    return (this.logs.get(logKey(token, chat)) ?? []).map((e) => e.type);
  }

  private add(token: string, chat: number, type: string, data: string): void {
    const key = logKey(token, chat);
    const log = this.logs.get(key) ?? [];
    this.seq += 1;
    log.push({ id: `0-${this.seq}`, type, data, appendedAt: Date.now() });
    while (log.length > this.keep) {
      const gone = log.shift();
      if (gone !== undefined) this.trimmedUpTo.set(key, seqOf(gone.id));
    }
    this.logs.set(key, log);
    this.wakeReaders();
  }

  private wakeReaders(): void {
    const waiters = this.waiters;
    this.waiters = [];
    for (const wake of waiters) wake();
  }
}
