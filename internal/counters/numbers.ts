import type { Redis } from 'ioredis';
import type { KeySpace } from './keys.js';

/** What an idempotent create remembers: enough to answer or finish a retry identically. */
export interface IdempotencyRecord {
  readonly fingerprint: string;
  readonly number: number;
  readonly eventId: string;
  readonly createdAt: string;
  readonly response?: { readonly status: number; readonly body: unknown };
}

export interface IdempotencyRequest {
  readonly key: string;
  readonly fingerprint: string;
  readonly eventId: string;
  readonly createdAt: string;
}

export type Allocation =
  | { readonly kind: 'issued'; readonly number: number }
  | { readonly kind: 'replay'; readonly record: IdempotencyRecord }
  | { readonly kind: 'unknown_application' }
  | { readonly kind: 'unknown_chat' }
  | { readonly kind: 'unseeded_chat' };

// KEYS[1] application hash, KEYS[2] idempotency record (optional).
// ARGV: fingerprint, ttl, eventId, createdAt. Chat N exists once issued: `m:N` is set to 0.
const ALLOCATE_CHAT = `
if KEYS[2] then
  local prior = redis.call('GET', KEYS[2])
  if prior then return {'replay', prior} end
end
if redis.call('EXISTS', KEYS[1]) == 0 then return {'unknown_application'} end
local n = redis.call('HINCRBY', KEYS[1], 'c', 1)
redis.call('HSET', KEYS[1], 'm:' .. n, 0)
if KEYS[2] then
  redis.call('SET', KEYS[2], cjson.encode({fingerprint = ARGV[1], number = n,
    eventId = ARGV[3], createdAt = ARGV[4]}), 'EX', ARGV[2])
end
return {'issued', n}
`;

// KEYS as above; ARGV: chat number, fingerprint, ttl, eventId, createdAt.
const ALLOCATE_MESSAGE = `
if KEYS[2] then
  local prior = redis.call('GET', KEYS[2])
  if prior then return {'replay', prior} end
end
if redis.call('EXISTS', KEYS[1]) == 0 then return {'unknown_application'} end
local chat = tonumber(ARGV[1])
if chat > tonumber(redis.call('HGET', KEYS[1], 'c') or '0') then return {'unknown_chat'} end
local field = 'm:' .. ARGV[1]
if redis.call('HEXISTS', KEYS[1], field) == 0 then return {'unseeded_chat'} end
local n = redis.call('HINCRBY', KEYS[1], field, 1)
if KEYS[2] then
  redis.call('SET', KEYS[2], cjson.encode({fingerprint = ARGV[2], number = n,
    eventId = ARGV[4], createdAt = ARGV[5]}), 'EX', ARGV[3])
end
return {'issued', n}
`;

// Re-seeding after Redis lost its data: NX semantics, so a value another process has
// already seeded or advanced is never lowered.
const SEED_APPLICATION = `return redis.call('HSETNX', KEYS[1], 'c', ARGV[1])`;
const SEED_CHAT = `
if tonumber(ARGV[1]) > tonumber(redis.call('HGET', KEYS[1], 'c') or '-1') then return -1 end
return redis.call('HSETNX', KEYS[1], 'm:' .. ARGV[1], ARGV[2])
`;

const SCRIPTS = {
  allocateChat: ALLOCATE_CHAT,
  allocateMessage: ALLOCATE_MESSAGE,
  seedApplication: SEED_APPLICATION,
  seedChat: SEED_CHAT,
} as const;
const COMMAND_PREFIX = 'chatSystem_';

type ScriptCommand = (...args: (string | number)[]) => Promise<unknown>;
type Reply = [string, (string | number)?];

/** Issues chat and message numbers atomically in Redis; never hands out a number twice. */
export class NumberAllocator {
  constructor(
    private readonly redis: Redis,
    private readonly keys: KeySpace,
    private readonly ttlSeconds: number,
  ) {
    // defineCommand runs scripts with EVALSHA and falls back to EVAL after a script flush.
    for (const [name, lua] of Object.entries(SCRIPTS)) {
      if (!(COMMAND_PREFIX + name in redis)) redis.defineCommand(COMMAND_PREFIX + name, { lua });
    }
  }

  async registerApplication(token: string): Promise<void> {
    await this.eval('seedApplication', [this.keys.application(token)], [0]);
  }

  async seedApplication(token: string, maxChatNumber: number): Promise<void> {
    await this.eval('seedApplication', [this.keys.application(token)], [maxChatNumber]);
  }

  async seedChat(token: string, chatNumber: number, maxMessageNumber: number): Promise<void> {
    await this.eval('seedChat', [this.keys.application(token)], [chatNumber, maxMessageNumber]);
  }

  async allocateChat(token: string, idem: IdempotencyRequest | null): Promise<Allocation> {
    const reply = (await this.eval(
      'allocateChat',
      this.keysFor(token, 'chat', idem),
      idem === null ? [] : [idem.fingerprint, this.ttlSeconds, idem.eventId, idem.createdAt],
    )) as Reply;
    return toAllocation(reply);
  }

  async allocateMessage(
    token: string,
    chatNumber: number,
    idem: IdempotencyRequest | null,
  ): Promise<Allocation> {
    const reply = (await this.eval(
      'allocateMessage',
      this.keysFor(token, `message:${chatNumber}`, idem),
      idem === null
        ? [chatNumber]
        : [chatNumber, idem.fingerprint, this.ttlSeconds, idem.eventId, idem.createdAt],
    )) as Reply;
    return toAllocation(reply);
  }

  /** Stores the answer of a finished create so retries replay it without publishing again. */
  async complete(
    token: string,
    scope: 'chat' | `message:${number}`,
    key: string,
    record: IdempotencyRecord,
  ): Promise<void> {
    await this.redis.set(
      this.keys.idempotency(token, scope, key),
      JSON.stringify(record),
      'KEEPTTL',
    );
  }

  private keysFor(token: string, scope: string, idem: IdempotencyRequest | null): string[] {
    const app = this.keys.application(token);
    return idem === null ? [app] : [app, this.keys.idempotency(token, scope, idem.key)];
  }

  private eval(
    name: keyof typeof SCRIPTS,
    keys: string[],
    args: (string | number)[],
  ): Promise<unknown> {
    const command = (this.redis as unknown as Record<string, ScriptCommand>)[COMMAND_PREFIX + name];
    if (command === undefined) throw new Error(`script ${name} is not defined`);
    return command.call(this.redis, keys.length, ...keys, ...args);
  }
}

function toAllocation(reply: Reply): Allocation {
  const [kind, value] = reply;
  switch (kind) {
    case 'issued':
      return { kind, number: Number(value) };
    case 'replay':
      return { kind, record: JSON.parse(String(value)) as IdempotencyRecord };
    case 'unknown_application':
    case 'unknown_chat':
    case 'unseeded_chat':
      return { kind };
    default:
      throw new Error(`unexpected allocation reply: ${String(kind)}`);
  }
}
