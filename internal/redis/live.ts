import type { RedisClient } from './client.js';
import type {
  CreateAnnouncer,
  LiveEvent,
  LiveFeed,
  LiveLog,
  LogCursor,
  LoggedEvent,
  PendingCreates,
  PendingRef,
} from '../domain/ports.js';
import type { WriteEvent } from '../domain/model.js';
import { messageView } from '../domain/representation.js';
import type { KeySpace } from './keys.js';

/** How long a chat's log keeps events: at least the last `minEvents`, or `minAgeMs`, whichever is more. */
export interface LogRetention {
  readonly minEvents: number;
  readonly minAgeMs: number;
}

// Trims a chat's log to what retention allows: an event goes once it is older than
// `age` ms AND not among the last `keep` events. Cheap on the hot path: a length check, then
// (only past 10 % slack) the first entry's age, and the full tail only when something goes.
// Ids are the Redis server's clock in ms, so ages are measured on one clock.
const TRIM = `
local function trim(key, keep, age)
  local len = redis.call('XLEN', key)
  if len <= keep + math.floor(keep / 10) then return end
  local first = redis.call('XRANGE', key, '-', '+', 'COUNT', 1)[1][1]
  local t = redis.call('TIME')
  local horizon = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000) - age
  if tonumber(string.match(first, '^(%d+)')) >= horizon then return end
  local tail = redis.call('XREVRANGE', key, '+', '-', 'COUNT', keep)
  local keepFrom = tail[#tail][1]
  local minid = keepFrom
  if tonumber(string.match(keepFrom, '^(%d+)')) >= horizon then
    minid = string.format('%d', horizon) .. '-0'
  end
  -- Keep one more, the newest that could go: a client that saw it resumes without a reset.
  local before = redis.call('XREVRANGE', key, '(' .. minid, '-', 'COUNT', 1)[1]
  if before then redis.call('XTRIM', key, 'MINID', before[1]) end
end
`;

// KEYS[1] the chat's log; ARGV: keep, age, type, data, ttl of a deleted chat's log (ms).
// A deleted chat's log is needed only until the streams open on it have read chat.deleted (a
// reconnect is a 404 before any stream starts), so it then goes by itself.
const APPEND = `${TRIM}
local id = redis.call('XADD', KEYS[1], '*', 't', ARGV[3], 'd', ARGV[4])
if ARGV[3] == 'chat.deleted' then
  redis.call('PEXPIRE', KEYS[1], ARGV[5])
else
  trim(KEYS[1], tonumber(ARGV[1]), tonumber(ARGV[2]))
end
return id
`;

/** How long a deleted chat's log outlives its chat.deleted event. */
export const DELETED_LOG_TTL_MS = 60_000;

// KEYS: (pending entry, chat's log) per create; ARGV: keep, age, then (event id, type, data)
// per create, type '' for a create that is only forgotten. The entry is removed, and the
// create announced, only when the entry still names this very create: a redelivered batch
// finds it gone and announces nothing twice; a conflicting create (another event id) leaves
// the real one's entry alone.
const SETTLE = `${TRIM}
local keep, age = tonumber(ARGV[1]), tonumber(ARGV[2])
local announced = 0
for i = 1, #KEYS / 2 do
  local entry, log = KEYS[2 * i - 1], KEYS[2 * i]
  local id, kind, data = ARGV[3 * i], ARGV[3 * i + 1], ARGV[3 * i + 2]
  if redis.call('HGET', entry, 'e') == id then
    redis.call('DEL', entry)
    if kind ~= '' then
      redis.call('XADD', log, '*', 't', kind, 'd', data)
      trim(log, keep, age)
      announced = announced + 1
    end
  end
end
return announced
`;

// KEYS[1] the pending entry; ARGV: ttl ms. Never recreates an entry the consumer removed.
const CONFIRM = `
if redis.call('EXISTS', KEYS[1]) == 1 then
  redis.call('HSET', KEYS[1], 'c', '1')
  return 1
end
return 0
`;

// KEYS[1] the pending entry, KEYS[2] the application's numbering hash; ARGV[1] the chat.
// A deleted application or chat (its mark in the numbering hash) hides every entry under it.
const FIND = `
if redis.call('HGET', KEYS[2], 'd') or redis.call('HGET', KEYS[2], 'd:' .. ARGV[1]) then
  return false
end
local entry = redis.call('HMGET', KEYS[1], 'c', 'v')
if entry[1] ~= '1' then return false end
return entry[2]
`;

// KEYS[1] the pending entry; ARGV: event id, view, ttl in ms. One command, hidden until confirmed.
const STAGE = `
redis.call('HSET', KEYS[1], 'e', ARGV[1], 'v', ARGV[2], 'c', '0')
redis.call('PEXPIRE', KEYS[1], ARGV[3])
return 1
`;

const COMMANDS = { APPEND, SETTLE, CONFIRM, FIND, STAGE } as const;
const PREFIX = 'chatSystemLive_';
type ScriptCommand = (...args: (string | number)[]) => Promise<unknown>;

/**
 * Defines the scripts on the client. Call it when the adapter is built, never lazily: an
 * auto-pipeline created before a command was defined lacks it, and ioredis then fails every
 * command of that pipeline with an uncaught TypeError (redis/ioredis#1931).
 */
function defineScripts(redis: RedisClient): void {
  for (const [name, lua] of Object.entries(COMMANDS)) {
    if (!(PREFIX + name in redis)) redis.defineCommand(PREFIX + name, { lua });
  }
}

function run(
  redis: RedisClient,
  name: keyof typeof COMMANDS,
  keys: readonly string[],
  args: readonly (string | number)[],
): Promise<unknown> {
  const command = (redis as unknown as Record<string, ScriptCommand>)[PREFIX + name];
  if (command === undefined) throw new Error(`script ${name} is not defined`);
  return command.call(redis, keys.length, ...keys, ...args);
}

type RawEntry = [string, string[]];

function toLogged(entry: RawEntry): LoggedEvent {
  const [id, fields] = entry;
  const field = (name: string) => {
    const at = fields.indexOf(name);
    return at >= 0 && at % 2 === 0 ? (fields[at + 1] ?? '') : '';
  };
  return { id, type: field('t'), data: field('d'), appendedAt: Number(id.split('-')[0]) };
}

const ID = /^([0-9]{1,16})-([0-9]{1,16})$/;

/** Compares two stream ids (`ms-seq`); null when either is not one. */
export function compareIds(a: string, b: string): number | null {
  const x = ID.exec(a);
  const y = ID.exec(b);
  if (x === null || y === null) return null;
  const [xm, xs, ym, ys] = [x[1], x[2], y[1], y[2]].map((v) => BigInt(v ?? '0')) as [
    bigint,
    bigint,
    bigint,
    bigint,
  ];
  if (xm !== ym) return xm < ym ? -1 : 1;
  if (xs !== ys) return xs < ys ? -1 : 1;
  return 0;
}

/** How often a cluster's logs are read: the added delay of an event, at most. */
const CLUSTER_POLL_MS = 50;

/**
 * Each chat's event log as a Redis Stream, `{token}:events:<chat>`, in the application's hash
 * slot: every script touches one slot. `blocking` is a connection of its own (no command
 * timeout) for XREAD BLOCK; `redis` is the shared one. On a Redis Cluster one XREAD cannot
 * span slots, and a blocking one would hold a node connection every other command shares: the
 * logs are polled instead, one XREAD per application (one slot) every CLUSTER_POLL_MS.
 */
export class RedisLiveLog implements LiveLog, LiveFeed, CreateAnnouncer {
  private blockingId: number | null = null;
  /** Ends the pause of a cluster poll (interrupt()). */
  private wakePoll: (() => void) | null = null;

  constructor(
    private readonly redis: RedisClient,
    private readonly keys: KeySpace,
    private readonly retention: LogRetention,
    private readonly blocking: RedisClient | null = null,
  ) {
    defineScripts(redis);
    // A new connection has a new id: read() asks for it again before blocking.
    blocking?.on('close', () => {
      this.blockingId = null;
    });
  }

  async append(token: string, chatNumber: number, event: LiveEvent): Promise<void> {
    await run(
      this.redis,
      'APPEND',
      [this.keys.events(token, chatNumber)],
      [
        this.retention.minEvents,
        this.retention.minAgeMs,
        event.type,
        JSON.stringify(event.data),
        DELETED_LOG_TTL_MS,
      ],
    );
  }

  async settle(persisted: readonly WriteEvent[], discarded: readonly WriteEvent[]): Promise<void> {
    // One script per application (one hash slot), creates in the order they were delivered.
    const byToken = new Map<string, { keys: string[]; args: (string | number)[] }>();
    const add = (event: WriteEvent, announce: boolean) => {
      if (event.kind === 'numbering.fence' || event.kind === 'queue.drained') return;
      const token = event.applicationToken;
      const group = byToken.get(token) ?? { keys: [], args: [] };
      byToken.set(token, group);
      if (event.kind === 'chat.created') {
        group.keys.push(
          this.keys.pending(token, { kind: 'chat', chat: event.chatNumber }),
          this.keys.events(token, event.chatNumber),
        );
        group.args.push(event.eventId, '', '');
        return;
      }
      const at = new Date(event.createdAt);
      group.keys.push(
        this.keys.pending(token, {
          kind: 'message',
          chat: event.chatNumber,
          message: event.messageNumber,
        }),
        this.keys.events(token, event.chatNumber),
      );
      group.args.push(
        event.eventId,
        announce ? 'message.created' : '',
        announce
          ? JSON.stringify(
              messageView({
                applicationToken: token,
                chatNumber: event.chatNumber,
                number: event.messageNumber,
                content: event.content,
                createdAt: at,
                updatedAt: at,
              }),
            )
          : '',
      );
    };
    for (const event of persisted) add(event, true);
    for (const event of discarded) add(event, false);
    await Promise.all(
      [...byToken.values()].map(({ keys, args }) =>
        run(this.redis, 'SETTLE', keys, [
          this.retention.minEvents,
          this.retention.minAgeMs,
          ...args,
        ]),
      ),
    );
  }

  async last(token: string, chatNumber: number): Promise<string> {
    const entries = (await this.redis.xrevrange(
      this.keys.events(token, chatNumber),
      '+',
      '-',
      'COUNT',
      1,
    )) as RawEntry[];
    return entries[0]?.[0] ?? '0-0';
  }

  async since(
    token: string,
    chatNumber: number,
    after: string,
    limit: number,
  ): Promise<readonly LoggedEvent[] | 'reset'> {
    const key = this.keys.events(token, chatNumber);
    const info = await this.info(key);
    const last = compareIds(after, info.lastGenerated);
    // An id this log never gave (from a log that was lost, or not an id at all): re-list.
    if (last === null || last > 0) return 'reset';
    // Events after it may have been trimmed: they cannot be replayed. Trimming always keeps
    // the newest event it could have removed, so an id at the first kept event is complete.
    if (info.trimmed && (compareIds(after, info.firstId) ?? -1) < 0) return 'reset';
    const entries = (await this.redis.xrange(key, `(${after}`, '+', 'COUNT', limit)) as RawEntry[];
    return entries.map(toLogged);
  }

  async read(
    cursors: readonly LogCursor[],
    blockMs: number,
  ): Promise<readonly { token: string; chat: number; events: readonly LoggedEvent[] }[]> {
    if (cursors.length === 0) return [];
    if (this.redis.isCluster) return this.poll(cursors, blockMs);
    const connection = this.blocking ?? this.redis;
    // Known before blocking, so that interrupt() can end the read.
    if (this.blocking !== null && this.blockingId === null) {
      this.blockingId = Number(await this.blocking.client('ID'));
    }
    const byKey = new Map(cursors.map((c) => [this.keys.events(c.token, c.chat), c]));
    const reply = await connection.xread(
      'BLOCK',
      blockMs,
      'STREAMS',
      ...byKey.keys(),
      ...cursors.map((c) => c.after),
    );
    if (reply === null) return [];
    return reply.flatMap(([key, entries]) => {
      const cursor = byKey.get(key);
      return cursor === undefined
        ? []
        : [{ token: cursor.token, chat: cursor.chat, events: entries.map(toLogged) }];
    });
  }

  /** A cluster's read: every application's logs at once, then a pause while nothing came. */
  private async poll(
    cursors: readonly LogCursor[],
    blockMs: number,
  ): Promise<readonly { token: string; chat: number; events: readonly LoggedEvent[] }[]> {
    const byToken = new Map<string, LogCursor[]>();
    for (const cursor of cursors) {
      const group = byToken.get(cursor.token) ?? [];
      group.push(cursor);
      byToken.set(cursor.token, group);
    }
    const replies = await Promise.all(
      [...byToken.values()].map(async (group) => {
        const byKey = new Map(group.map((c) => [this.keys.events(c.token, c.chat), c]));
        const reply = await this.redis.xread(
          'STREAMS',
          ...byKey.keys(),
          ...group.map((c) => c.after),
        );
        return (reply ?? []).flatMap(([key, entries]) => {
          const cursor = byKey.get(key);
          return cursor === undefined
            ? []
            : [{ token: cursor.token, chat: cursor.chat, events: entries.map(toLogged) }];
        });
      }),
    );
    const found = replies.flat();
    if (found.length > 0) return found;
    await new Promise<void>((resolve) => {
      const timer = setTimeout(resolve, Math.min(blockMs, CLUSTER_POLL_MS));
      this.wakePoll = () => {
        clearTimeout(timer);
        resolve();
      };
    });
    this.wakePoll = null;
    return [];
  }

  async interrupt(): Promise<void> {
    this.wakePoll?.();
    if (this.blockingId === null) return;
    await this.redis.client('UNBLOCK', this.blockingId);
  }

  /**
   * The log's last id ever given, its first kept id, and whether anything was trimmed (XINFO
   * STREAM; XTRIM does not move max-deleted-entry-id before Redis 7.2, entries-added does).
   */
  private async info(
    key: string,
  ): Promise<{ lastGenerated: string; firstId: string; trimmed: boolean }> {
    let reply: unknown[];
    try {
      reply = (await this.redis.xinfo('STREAM', key)) as unknown[];
    } catch (err) {
      if (err instanceof Error && /no such key/i.test(err.message)) {
        return { lastGenerated: '0-0', firstId: '0-0', trimmed: false };
      }
      throw err;
    }
    const field = (name: string): unknown => {
      const at = reply.indexOf(name);
      return at >= 0 ? reply[at + 1] : null;
    };
    const first = field('first-entry') as RawEntry | null;
    return {
      lastGenerated: (field('last-generated-id') as string | null) ?? '0-0',
      firstId: first?.[0] ?? '0-0',
      trimmed: Number(field('entries-added')) > Number(field('length')),
    };
  }
}

/** Read-your-writes entries: `{token}:pending:c:<chat>` and `{token}:pending:m:<chat>:<n>`. */
export class RedisPendingCreates implements PendingCreates {
  constructor(
    private readonly redis: RedisClient,
    private readonly keys: KeySpace,
    private readonly ttlMs: number,
  ) {
    defineScripts(redis);
  }

  async stage(token: string, ref: PendingRef, eventId: string, view: object): Promise<void> {
    await run(
      this.redis,
      'STAGE',
      [this.keys.pending(token, ref)],
      [eventId, JSON.stringify(view), this.ttlMs],
    );
  }

  async confirm(token: string, ref: PendingRef): Promise<void> {
    await run(this.redis, 'CONFIRM', [this.keys.pending(token, ref)], []);
  }

  async find(token: string, ref: PendingRef): Promise<object | null> {
    const view = await run(
      this.redis,
      'FIND',
      [this.keys.pending(token, ref), this.keys.application(token)],
      [ref.chat],
    );
    return typeof view === 'string' ? (JSON.parse(view) as object) : null;
  }

  async remove(token: string, ref: PendingRef): Promise<void> {
    await this.redis.del(this.keys.pending(token, ref));
  }
}
