import type { RedisClient } from './client.js';
import type {
  ApplicationKeys,
  CacheAllocation,
  CacheIdentity,
  EpochTicket,
  IdempotencyClaim,
  IdempotencyRecord,
  NumberCache,
  NumberScope,
} from '../domain/ports.js';
import { NumberingUnavailableError } from '../domain/errors.js';
import type { KeySpace } from './keys.js';

/*
 * An application's numbering hash `{token}`:
 *   e    epoch the hash was last validated under
 *   c    last chat number issued          C    chat ceiling reserved in MySQL
 *   a    chats ≤ a may have been issued before the last revalidation and not be persisted
 *   m:N  last message number of chat N (present ⇔ chat N is known to exist)
 *   M:N  message ceiling of chat N
 *   d    the application was deleted      d:N  chat N was deleted
 *   r    (Redis Cluster) the Redis process the hash was last validated in
 * Deletion marks are only ever added: revalidation keeps them, and after a loss the tombstones
 * in MySQL say the same (a revalidation or seed finds the application or chat deleted).
 * A number is issued only while it is ≤ its ceiling; raising a ceiling needs a reservation in
 * MySQL first, so every number ever issued is ≤ the durable ceiling of its scope.
 */

// The deletion and epoch checks every use of the hash starts with.
const CHECKS = `
if redis.call('HEXISTS', KEYS[1], 'd') == 1 then return {'unknown_application'} end
local e = redis.call('HGET', KEYS[1], 'e')
if not e then return {'revalidate'} end
e = tonumber(e)
local epoch = tonumber(ARGV[1])
if e < epoch then return {'revalidate'} end
if e > epoch then return {'stale_epoch'} end
`;

// The Redis process (and its replication history) a script runs in. A cluster client sends a
// command to whichever node holds the slot now: after a failover that is a promoted replica
// whose copy may lag what the old primary issued, so each script checks where it runs. The
// replication id changes when a replica is promoted, the run id when a process starts: a
// primary that was a replica in between (and took an older copy) is never trusted either.
const HERE = `
local info = redis.call('INFO', 'server', 'replication')
local here = string.sub(string.match(info, 'run_id:(%x+)'), 1, 24) ..
  string.sub(string.match(info, 'master_replid:(%x+)'), 1, 24)
`;

// On a cluster: the hash must have been validated in this very process (no epoch compare:
// each process has epochs of its own, see Numbering.revalidateIn).
const CLUSTER_CHECKS = `
if redis.call('HEXISTS', KEYS[1], 'd') == 1 then return {'unknown_application'} end
${HERE}
if redis.call('HGET', KEYS[1], 'r') ~= here then return {'revalidate', here} end
`;

type Mode = 'standalone' | 'cluster';

/** The scripts, with the checks of `mode`: an epoch per connection, or per process. */
function scriptsFor(mode: Mode) {
  const checks = mode === 'cluster' ? CLUSTER_CHECKS : CHECKS;
  // Is the hash validated here? (standalone: under the caller's epoch ARGV[1]).
  const validated =
    mode === 'cluster'
      ? `${HERE}\nlocal validated = redis.call('HGET', KEYS[1], 'r') == here\n`
      : `local validated = tonumber(redis.call('HGET', KEYS[1], 'e') or '-1') == tonumber(ARGV[1])\n`;

  // Shared head of both allocations: the idempotency replay (a keyed retry gets its first
  // answer, even once the parent is deleted), then the checks.
  const head = `
if KEYS[2] then
  local prior = redis.call('GET', KEYS[2])
  if prior then return {'replay', prior} end
end
${checks}`;

  // ARGV[2] is a chat number: the chat must exist, not be deleted, and have its numbering
  // loaded. An unseeded chat comes with the bound of ambiguous chats and the hash's epoch.
  const chatChecks = `
if redis.call('HEXISTS', KEYS[1], 'd:' .. ARGV[2]) == 1 then return {'unknown_chat'} end
if tonumber(ARGV[2]) > tonumber(redis.call('HGET', KEYS[1], 'c') or '0') then
  return {'unknown_chat'}
end
if redis.call('HEXISTS', KEYS[1], 'm:' .. ARGV[2]) == 0 then
  return {'unseeded_chat', tonumber(redis.call('HGET', KEYS[1], 'a') or '0'),
    tonumber(redis.call('HGET', KEYS[1], 'e') or '0')}
end
`;

  const remember = `
if KEYS[2] then
  redis.call('SET', KEYS[2], cjson.encode({f = ARGV[3], n = n, i = ARGV[5], t = ARGV[6]}),
    'EX', ARGV[4])
end
return {'issued', n}
`;

  return {
    // KEYS: hash, idempotency record (optional). ARGV: epoch, scope ('c' or the chat number),
    // then with a record: fingerprint, ttl, eventId, createdAt.
    allocate: `${head}
local last, ceiling
if ARGV[2] == 'c' then
  last, ceiling = 'c', 'C'
else
  ${chatChecks}
  last, ceiling = 'm:' .. ARGV[2], 'M:' .. ARGV[2]
end
local current = tonumber(redis.call('HGET', KEYS[1], last) or '0')
if current + 1 > tonumber(redis.call('HGET', KEYS[1], ceiling) or '0') then
  return {'reserve', current}
end
local n = redis.call('HINCRBY', KEYS[1], last, 1)
if ARGV[2] == 'c' then redis.call('HSET', KEYS[1], 'm:' .. n, 0) end
${remember}`,

    // KEYS: hash. ARGV: epoch, scope. The allocation's checks, then the last number issued.
    lastIssued: `${checks}
if ARGV[2] == 'c' then return {'issued', tonumber(redis.call('HGET', KEYS[1], 'c') or '0')} end
${chatChecks}
return {'issued', tonumber(redis.call('HGET', KEYS[1], 'm:' .. ARGV[2]))}
`,

    // ARGV: epoch, chats floor (cluster: and the process it is meant for). Per-chat state may
    // be rolled back too: it is dropped, and each chat reloads from MySQL on first use. Every
    // value only ever rises.
    revalidate:
      mode === 'cluster'
        ? `${HERE}
if here ~= ARGV[3] then return 'stale_epoch' end
if redis.call('HGET', KEYS[1], 'r') == here then return 'ok' end
${DROP_CHATS}
local c = math.max(tonumber(redis.call('HGET', KEYS[1], 'c') or '0'), tonumber(ARGV[2]))
redis.call('HSET', KEYS[1], 'c', c, 'C', c, 'a', c, 'e', ARGV[1], 'r', here)
return 'ok'
`
        : `
local e = tonumber(redis.call('HGET', KEYS[1], 'e') or '0')
local epoch = tonumber(ARGV[1])
if e > epoch then return 'stale_epoch' end
if e == epoch then return 'ok' end
${DROP_CHATS}
local c = math.max(tonumber(redis.call('HGET', KEYS[1], 'c') or '0'), tonumber(ARGV[2]))
redis.call('HSET', KEYS[1], 'c', c, 'C', c, 'a', c, 'e', epoch)
return 'ok'
`,

    // ARGV: epoch, chat, messages floor.
    seedChat: `${validated}
if not validated then return 'revalidate' end
if tonumber(ARGV[2]) > tonumber(redis.call('HGET', KEYS[1], 'c') or '0') then
  return 'unknown_chat'
end
if redis.call('HEXISTS', KEYS[1], 'd:' .. ARGV[2]) == 1 then return 'unknown_chat' end
local floor = tonumber(ARGV[3])
local last, ceiling = 'm:' .. ARGV[2], 'M:' .. ARGV[2]
if floor > tonumber(redis.call('HGET', KEYS[1], last) or '-1') then
  redis.call('HSET', KEYS[1], last, floor)
end
if floor > tonumber(redis.call('HGET', KEYS[1], ceiling) or '0') then
  redis.call('HSET', KEYS[1], ceiling, floor)
end
return 'ok'
`,

    // ARGV: epoch, ceiling field, ceiling.
    raiseCeiling: `${validated}
if not validated then return 0 end
if tonumber(ARGV[3]) > tonumber(redis.call('HGET', KEYS[1], ARGV[2]) or '0') then
  redis.call('HSET', KEYS[1], ARGV[2], ARGV[3])
end
return 1
`,

    // ARGV: epoch. Only a hash that does not exist yet: an existing one is left alone.
    register:
      mode === 'cluster'
        ? `
if redis.call('EXISTS', KEYS[1]) == 1 then return 0 end
${HERE}
redis.call('HSET', KEYS[1], 'e', ARGV[1], 'c', 0, 'C', 0, 'a', 0, 'r', here)
return 1
`
        : `
if redis.call('EXISTS', KEYS[1]) == 1 then return 0 end
redis.call('HSET', KEYS[1], 'e', ARGV[1], 'c', 0, 'C', 0, 'a', 0)
return 1
`,
    markPublished: MARK_PUBLISHED,
    claimEpoch: CLAIM_EPOCH,
    claimKey: CLAIM_KEY,
  } as const;
}

// Message numbering of every chat, dropped by a revalidation (reloaded from MySQL).
const DROP_CHATS = `
for _, f in ipairs(redis.call('HKEYS', KEYS[1])) do
  local p = string.sub(f, 1, 2)
  if p == 'm:' or p == 'M:' then redis.call('HDEL', KEYS[1], f) end
end
`;

const MARK_PUBLISHED = `
local v = redis.call('GET', KEYS[1])
if not v then return 0 end
local r = cjson.decode(v)
r.p = 1
redis.call('SET', KEYS[1], cjson.encode(r), 'KEEPTTL')
return 1
`;

// Compare-and-set of the epoch record, so API replicas meeting a new Redis agree on one.
const CLAIM_EPOCH = `
local current = redis.call('GET', KEYS[1])
if (current or '') == ARGV[1] then
  redis.call('SET', KEYS[1], ARGV[2])
  return ARGV[2]
end
return current
`;

// First claim of an application Idempotency-Key wins; returns the claim that holds.
const CLAIM_KEY = `
if redis.call('SET', KEYS[1], ARGV[1], 'NX', 'EX', ARGV[2]) then return ARGV[1] end
return redis.call('GET', KEYS[1])
`;

type ScriptName = keyof ReturnType<typeof scriptsFor>;
const COMMAND_PREFIX = 'chatSystemNumbering_';

type ScriptCommand = (...args: (string | number)[]) => Promise<unknown>;
type Reply = [string, (string | number)?, (string | number)?];

function defineScripts(redis: RedisClient): void {
  // defineCommand runs scripts with EVALSHA and falls back to EVAL after a script flush.
  const scripts = scriptsFor(redis.isCluster ? 'cluster' : 'standalone');
  for (const [name, lua] of Object.entries(scripts)) {
    if (!(COMMAND_PREFIX + name in redis)) redis.defineCommand(COMMAND_PREFIX + name, { lua });
  }
}

function run(
  redis: RedisClient,
  name: ScriptName,
  keys: readonly string[],
  args: readonly (string | number)[],
): Promise<unknown> {
  const command = (redis as unknown as Record<string, ScriptCommand>)[COMMAND_PREFIX + name];
  if (command === undefined) throw new Error(`script ${name} is not defined`);
  return command.call(redis, keys.length, ...keys, ...args);
}

const scopeArg = (scope: NumberScope) => (scope.kind === 'chats' ? 'c' : String(scope.chat));
const idempotencyScope = (scope: NumberScope) =>
  scope.kind === 'chats' ? 'chat' : `message:${scope.chat}`;

/**
 * Numbering in Redis, trusted only under a verified epoch. Every new connection gets a new
 * id; a command carrying a ticket for another connection is refused before it is sent, so a
 * command issued before Redis restarted can never run against the restarted one. The client
 * must not resend unfulfilled commands after a reconnect (see redis/client.ts).
 */
export class RedisNumberCache implements NumberCache {
  private generation = 0;

  constructor(
    private readonly redis: RedisClient,
    private readonly keys: KeySpace,
    private readonly idempotencyTtlSeconds: number,
  ) {
    defineScripts(redis);
    redis.on('ready', () => {
      this.generation += 1;
    });
    if (redis.status === 'ready') this.generation += 1;
  }

  connection(): number | null {
    return this.redis.status === 'ready' ? this.generation : null;
  }

  async identity(): Promise<CacheIdentity> {
    const connection = this.connection();
    if (connection === null) throw new NumberingUnavailableError();
    const raw = await this.redis.get(this.keys.epoch());
    // A cluster's scripts check the process they run in (HERE): its epoch record only needs
    // to be stable, not tied to whichever node would answer INFO.
    const runId = this.redis.isCluster
      ? 'cluster'
      : /run_id:([0-9a-f]+)/.exec(await this.redis.info('server'))?.[1];
    if (runId === undefined) throw new Error('Redis INFO has no run_id');
    return { connection, runId, stored: parseEpoch(raw) };
  }

  async claimEpoch(
    expectedRaw: string | null,
    runId: string,
    epoch: number,
  ): Promise<{ runId: string; epoch: number }> {
    const holds = (await run(
      this.redis,
      'claimEpoch',
      [this.keys.epoch()],
      [expectedRaw ?? '', JSON.stringify({ r: runId, e: epoch })],
    )) as string | null;
    const parsed = parseEpoch(holds);
    if (parsed === null) throw new Error('numbering epoch record is unreadable');
    return parsed;
  }

  async allocate(
    token: string,
    scope: NumberScope,
    ticket: EpochTicket,
    claim: IdempotencyClaim | null,
  ): Promise<CacheAllocation> {
    const keys = [this.keys.application(token)];
    const args: (string | number)[] = [ticket.epoch, scopeArg(scope)];
    if (claim !== null) {
      keys.push(this.keys.idempotency(token, idempotencyScope(scope), claim.key));
      args.push(claim.fingerprint, this.idempotencyTtlSeconds, claim.eventId, claim.createdAt);
    }
    const reply = (await this.send(ticket, 'allocate', keys, args)) as Reply;
    return toAllocation(reply);
  }

  async revalidate(token: string, ticket: EpochTicket, chatsFloor: number, process?: string) {
    return (await this.send(
      ticket,
      'revalidate',
      [this.keys.application(token)],
      process === undefined ? [ticket.epoch, chatsFloor] : [ticket.epoch, chatsFloor, process],
    )) as 'ok' | 'stale_epoch';
  }

  async seedChat(token: string, chat: number, ticket: EpochTicket, messagesFloor: number) {
    return (await this.send(
      ticket,
      'seedChat',
      [this.keys.application(token)],
      [ticket.epoch, chat, messagesFloor],
    )) as 'ok' | 'revalidate' | 'unknown_chat';
  }

  async raiseCeiling(
    token: string,
    scope: NumberScope,
    ticket: EpochTicket,
    ceiling: number,
  ): Promise<boolean> {
    const field = scope.kind === 'chats' ? 'C' : `M:${scope.chat}`;
    const done = await this.send(
      ticket,
      'raiseCeiling',
      [this.keys.application(token)],
      [ticket.epoch, field, ceiling],
    );
    return Number(done) === 1;
  }

  async register(token: string, ticket: EpochTicket): Promise<void> {
    await this.send(ticket, 'register', [this.keys.application(token)], [ticket.epoch]);
  }

  async markPublished(token: string, scope: NumberScope, key: string): Promise<void> {
    await run(
      this.redis,
      'markPublished',
      [this.keys.idempotency(token, idempotencyScope(scope), key)],
      [],
    );
  }

  async lastIssued(
    token: string,
    scope: NumberScope,
    ticket: EpochTicket,
  ): Promise<CacheAllocation> {
    const reply = (await this.send(
      ticket,
      'lastIssued',
      [this.keys.application(token)],
      [ticket.epoch, scopeArg(scope)],
    )) as Reply;
    return toAllocation(reply);
  }

  async markDeleted(token: string, chat: number | null): Promise<void> {
    await this.redis.hset(this.keys.application(token), chat === null ? 'd' : `d:${chat}`, 1);
  }

  private send(
    ticket: EpochTicket,
    name: ScriptName,
    keys: readonly string[],
    args: readonly (string | number)[],
  ): Promise<unknown> {
    // Synchronous with the write (or the auto-pipeline's flush on the next tick), and a new
    // connection needs at least a reconnect timer: nothing can slip onto a newer connection.
    if (ticket.connection !== this.connection()) throw new NumberingUnavailableError();
    return run(this.redis, name, keys, args);
  }
}

/** Application Idempotency-Keys are global: the key alone names the record. */
export class RedisApplicationKeys implements ApplicationKeys {
  constructor(
    private readonly redis: RedisClient,
    private readonly keys: KeySpace,
    private readonly ttlSeconds: number,
  ) {
    defineScripts(redis);
  }

  async claim(key: string, claim: { fingerprint: string; token: string }) {
    const value = JSON.stringify({ f: claim.fingerprint, k: claim.token });
    const holds = (await run(
      this.redis,
      'claimKey',
      [this.keys.idempotency(null, 'application', key)],
      [value, this.ttlSeconds],
    )) as string | null;
    if (holds === null) return claim; // expired between SET NX and GET: ours is as good
    const parsed = JSON.parse(holds) as { f: string; k: string };
    return { fingerprint: parsed.f, token: parsed.k };
  }
}

function parseEpoch(raw: string | null): CacheIdentity['stored'] {
  if (raw === null || raw === '') return null;
  try {
    const parsed = JSON.parse(raw) as { r?: unknown; e?: unknown };
    if (typeof parsed.r !== 'string' || typeof parsed.e !== 'number') return null;
    return { runId: parsed.r, epoch: parsed.e, raw };
  } catch {
    return null;
  }
}

function toAllocation(reply: Reply): CacheAllocation {
  const [kind, value] = reply;
  switch (kind) {
    case 'issued':
      return { kind, number: Number(value) };
    case 'replay': {
      const r = JSON.parse(String(value)) as { f: string; n: number; i: string; t: string; p?: 1 };
      return {
        kind,
        record: {
          fingerprint: r.f,
          number: r.n,
          eventId: r.i,
          createdAt: r.t,
          published: r.p === 1,
        } satisfies IdempotencyRecord,
      };
    }
    case 'unseeded_chat':
      return reply[2] === undefined || Number(reply[2]) === 0
        ? { kind, ambiguousUpTo: Number(value) }
        : { kind, ambiguousUpTo: Number(value), epoch: Number(reply[2]) };
    case 'reserve':
      return { kind, last: Number(value) };
    case 'revalidate':
      return value === undefined ? { kind } : { kind, process: String(value) };
    case 'stale_epoch':
    case 'unknown_chat':
    case 'unknown_application':
      return { kind };
    default:
      throw new Error(`unexpected allocation reply: ${String(kind)}`);
  }
}
