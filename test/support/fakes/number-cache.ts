import type {
  CacheAllocation,
  CacheIdentity,
  EpochTicket,
  IdempotencyClaim,
  IdempotencyRecord,
  NumberCache,
  NumberScope,
} from '../../../internal/domain/ports.js';
import { NumberingUnavailableError } from '../../../internal/domain/errors.js';

interface AppState {
  /** perProcess: the process the state was validated in. */
  r?: string;
  e: number;
  c: number;
  C: number;
  a: number;
  m: Map<number, number>;
  M: Map<number, number>;
}

interface Data {
  apps: Map<string, AppState>;
  /** Deletion marks: `token` for an application, `token:N` for chat N. Kept by revalidation. */
  deleted: Set<string>;
  records: Map<string, IdempotencyRecord>;
  epoch: { runId: string; epoch: number; raw: string } | null;
}

const clone = (data: Data): Data => ({
  apps: new Map([...data.apps].map(([k, v]) => [k, { ...v, m: new Map(v.m), M: new Map(v.M) }])),
  deleted: new Set(data.deleted),
  records: new Map(data.records),
  epoch: data.epoch === null ? null : { ...data.epoch },
});

const ceilingOf = (app: AppState, scope: NumberScope) =>
  scope.kind === 'chats' ? app.C : (app.M.get(scope.chat) ?? 0);

/**
 * In-memory NumberCache with the semantics of the Redis scripts (redis/numbers.ts), plus
 * the faults a real Redis meets: state lost with the connection kept (FLUSHALL), a restart
 * with nothing, a restore from an older snapshot (new process, older values), and dropped
 * connections. A ticket for an older connection is refused, as the Redis adapter does.
 * `perProcess` behaves as the adapter does on a Redis Cluster: state is trusted only in the
 * process it was validated in, whatever the connection (`failover()` swaps the process and
 * keeps connections, as a cluster client re-routing to a promoted replica does).
 */
export class FakeNumberCache implements NumberCache {
  constructor(private readonly options: { perProcess?: boolean } = {}) {}

  private data: Data = { apps: new Map(), deleted: new Set(), records: new Map(), epoch: null };
  private runId = 'run-1';
  private runs = 1;
  private conn: number | null = 1;
  /** Every allocate call, for tests that check what reached the cache. */
  readonly calls: { kind: string; ticket: EpochTicket }[] = [];

  connection(): number | null {
    return this.conn;
  }

  identity(): Promise<CacheIdentity> {
    const connection = this.live();
    return Promise.resolve({ connection, runId: this.runId, stored: this.data.epoch });
  }

  claimEpoch(expectedRaw: string | null, runId: string, epoch: number) {
    this.live();
    if ((this.data.epoch?.raw ?? '') === (expectedRaw ?? '')) {
      this.data.epoch = { runId, epoch, raw: JSON.stringify({ r: runId, e: epoch }) };
    }
    const held = this.data.epoch;
    if (held === null) throw new Error('no epoch');
    return Promise.resolve({ runId: held.runId, epoch: held.epoch });
  }

  allocate(
    token: string,
    scope: NumberScope,
    ticket: EpochTicket,
    claim: IdempotencyClaim | null,
  ): Promise<CacheAllocation> {
    this.check(ticket);
    this.calls.push({ kind: 'allocate', ticket });
    const recordKey = claim === null ? null : `${token}|${JSON.stringify(scope)}|${claim.key}`;
    const prior = recordKey === null ? undefined : this.data.records.get(recordKey);
    if (prior !== undefined) return Promise.resolve({ kind: 'replay', record: prior });
    const found = this.checks(token, scope, ticket);
    if (found.kind !== 'issued') return Promise.resolve(found);
    const last = found.number;
    const app = this.data.apps.get(token) as AppState;
    if (last + 1 > ceilingOf(app, scope)) return Promise.resolve({ kind: 'reserve', last });
    const n = last + 1;
    if (scope.kind === 'chats') {
      app.c = n;
      app.m.set(n, 0);
    } else {
      app.m.set(scope.chat, n);
    }
    if (recordKey !== null && claim !== null) {
      this.data.records.set(recordKey, {
        fingerprint: claim.fingerprint,
        number: n,
        eventId: claim.eventId,
        createdAt: claim.createdAt,
        published: false,
      });
    }
    return Promise.resolve({ kind: 'issued', number: n });
  }

  lastIssued(token: string, scope: NumberScope, ticket: EpochTicket): Promise<CacheAllocation> {
    this.check(ticket);
    return Promise.resolve(this.checks(token, scope, ticket));
  }

  markDeleted(token: string, chat: number | null): Promise<void> {
    this.live();
    this.data.deleted.add(chat === null ? token : `${token}:${chat}`);
    return Promise.resolve();
  }

  /** The scripts' shared checks; `issued` carries the last number issued in `scope`. */
  private checks(token: string, scope: NumberScope, ticket: EpochTicket): CacheAllocation {
    if (this.data.deleted.has(token)) return { kind: 'unknown_application' };
    const app = this.data.apps.get(token);
    if (this.options.perProcess === true) {
      if (app?.r !== this.runId) return { kind: 'revalidate', process: this.runId };
    } else {
      if (app === undefined || app.e < ticket.epoch) return { kind: 'revalidate' };
      if (app.e > ticket.epoch) return { kind: 'stale_epoch' };
    }
    if (scope.kind === 'chats') return { kind: 'issued', number: app.c };
    if (this.data.deleted.has(`${token}:${scope.chat}`)) return { kind: 'unknown_chat' };
    if (scope.chat > app.c) return { kind: 'unknown_chat' };
    const m = app.m.get(scope.chat);
    if (m === undefined) {
      return this.options.perProcess === true
        ? { kind: 'unseeded_chat', ambiguousUpTo: app.a, epoch: app.e }
        : { kind: 'unseeded_chat', ambiguousUpTo: app.a };
    }
    return { kind: 'issued', number: m };
  }

  revalidate(token: string, ticket: EpochTicket, chatsFloor: number, process?: string) {
    this.check(ticket);
    const app = this.data.apps.get(token);
    if (this.options.perProcess === true) {
      if (process !== this.runId) return Promise.resolve('stale_epoch' as const);
      if (app?.r === this.runId) return Promise.resolve('ok' as const);
      const c = Math.max(app?.c ?? 0, chatsFloor);
      this.data.apps.set(token, {
        r: this.runId,
        e: ticket.epoch,
        ...{ c, C: c, a: c, m: new Map(), M: new Map() },
      });
      return Promise.resolve('ok' as const);
    }
    if (app !== undefined && app.e > ticket.epoch) return Promise.resolve('stale_epoch' as const);
    if (app !== undefined && app.e === ticket.epoch) return Promise.resolve('ok' as const);
    const c = Math.max(app?.c ?? 0, chatsFloor);
    this.data.apps.set(token, { e: ticket.epoch, c, C: c, a: c, m: new Map(), M: new Map() });
    return Promise.resolve('ok' as const);
  }

  seedChat(token: string, chat: number, ticket: EpochTicket, messagesFloor: number) {
    this.check(ticket);
    const app = this.data.apps.get(token);
    if (app === undefined || !this.validated(app, ticket)) {
      return Promise.resolve('revalidate' as const);
    }
    if (chat > app.c) return Promise.resolve('unknown_chat' as const);
    if (this.data.deleted.has(`${token}:${chat}`)) return Promise.resolve('unknown_chat' as const);
    app.m.set(chat, Math.max(app.m.get(chat) ?? -1, messagesFloor));
    app.M.set(chat, Math.max(app.M.get(chat) ?? 0, messagesFloor));
    return Promise.resolve('ok' as const);
  }

  raiseCeiling(token: string, scope: NumberScope, ticket: EpochTicket, ceiling: number) {
    this.check(ticket);
    const app = this.data.apps.get(token);
    if (app === undefined || !this.validated(app, ticket)) return Promise.resolve(false);
    if (scope.kind === 'chats') app.C = Math.max(app.C, ceiling);
    else app.M.set(scope.chat, Math.max(app.M.get(scope.chat) ?? 0, ceiling));
    return Promise.resolve(true);
  }

  register(token: string, ticket: EpochTicket): Promise<void> {
    this.check(ticket);
    if (!this.data.apps.has(token)) {
      this.data.apps.set(token, {
        ...(this.options.perProcess === true ? { r: this.runId } : {}),
        ...{ e: ticket.epoch, c: 0, C: 0, a: 0, m: new Map(), M: new Map() },
      });
    }
    return Promise.resolve();
  }

  markPublished(token: string, scope: NumberScope, key: string): Promise<void> {
    this.live();
    const recordKey = `${token}|${JSON.stringify(scope)}|${key}`;
    const record = this.data.records.get(recordKey);
    if (record !== undefined) this.data.records.set(recordKey, { ...record, published: true });
    return Promise.resolve();
  }

  // ---- faults -------------------------------------------------------------------------

  /** FLUSHALL: everything gone, same process, connections kept. */
  flushAll(): void {
    this.data = { apps: new Map(), deleted: new Set(), records: new Map(), epoch: null };
  }

  /** A copy of the data as an RDB snapshot would hold it. */
  snapshot(): Data {
    return clone(this.data);
  }

  /** A new Redis process: empty, or loaded from an older snapshot; every connection drops. */
  restart(from: Data | null = null): void {
    this.runs += 1;
    this.runId = `run-${this.runs}`;
    this.data =
      from === null
        ? { apps: new Map(), deleted: new Set(), records: new Map(), epoch: null }
        : clone(from);
    this.disconnect();
    this.reconnect();
  }

  /**
   * A cluster's failover: another process (a promoted replica) now serves the data, holding
   * `from` (an older copy) or the same data; connections stay, commands are re-routed.
   */
  failover(from: Data | null = null): void {
    this.runs += 1;
    this.runId = `run-${this.runs}`;
    if (from !== null) this.data = clone(from);
  }

  disconnect(): void {
    this.conn = null;
  }

  reconnect(): void {
    this.conn = this.lastConn += 1;
  }

  private lastConn = 1;

  private live(): number {
    if (this.conn === null) throw new NumberingUnavailableError();
    return this.conn;
  }

  private validated(app: AppState, ticket: EpochTicket): boolean {
    return this.options.perProcess === true ? app.r === this.runId : app.e === ticket.epoch;
  }

  private check(ticket: EpochTicket): void {
    if (ticket.connection !== this.live()) throw new NumberingUnavailableError();
  }
}
