import { randomUUID } from 'node:crypto';
import type { RedisClient } from './client.js';
import type { DirtyKind, DirtyMarks } from '../domain/ports.js';
import type { KeySpace } from './keys.js';

// Each take moves what is pending into a processing set of its own (`<processing>:<run>`),
// registered in `<processing>:runs` with a lease deadline. A set is emptied only by its own
// run's done(), so a mark made after one flusher took an id is never removed by that flusher:
// it stays pending, or is in another run's set. Sets of runs whose lease expired (a crashed
// or stuck flusher), of this instance's previous run, and the single shared set older
// versions used are adopted by the next take, so nothing marked dirty is ever forgotten.
const TAKE = `
local function adopt(key)
  if redis.call('EXISTS', key) == 1 then
    redis.call('SUNIONSTORE', KEYS[4], KEYS[4], key)
    redis.call('DEL', key)
  end
end
adopt(KEYS[2])
for _, run in ipairs(redis.call('ZRANGEBYSCORE', KEYS[3], '-inf', ARGV[1])) do
  adopt(ARGV[3] .. ':' .. run)
  redis.call('ZREM', KEYS[3], run)
end
if ARGV[4] ~= '' then
  adopt(ARGV[3] .. ':' .. ARGV[4])
  redis.call('ZREM', KEYS[3], ARGV[4])
end
adopt(KEYS[1])
if redis.call('EXISTS', KEYS[4]) == 1 then redis.call('ZADD', KEYS[3], ARGV[2], ARGV[5]) end
return redis.call('SMEMBERS', KEYS[4])
`;

// Forgets ids of this run's set and extends its lease; once the set is empty, the run is over.
const DONE = `
redis.call('SREM', KEYS[1], unpack(ARGV, 3))
if redis.call('SCARD', KEYS[1]) == 0 then
  redis.call('ZREM', KEYS[2], ARGV[2])
else
  redis.call('ZADD', KEYS[2], 'XX', ARGV[1], ARGV[2])
end
return 0
`;

export interface DirtySetOptions {
  /**
   * How long a run's taken ids stay its own without a done(): past it, another flusher
   * adopts them. Longer than one chunk's recount; a crashed run's ids wait that long.
   */
  readonly leaseMs?: number;
  readonly now?: () => number;
}

/** The parents whose counters changed since the flusher last recounted them. */
export class DirtySet implements DirtyMarks {
  private readonly runs = new Map<DirtyKind, string>();
  private readonly leaseMs: number;
  private readonly now: () => number;

  constructor(
    private readonly redis: RedisClient,
    private readonly keys: KeySpace,
    options: DirtySetOptions = {},
  ) {
    this.leaseMs = options.leaseMs ?? 5 * 60_000;
    this.now = options.now ?? Date.now;
  }

  async mark(applicationIds: readonly number[], chatIds: readonly number[]): Promise<void> {
    const pipeline = this.redis.multi();
    if (applicationIds.length > 0)
      pipeline.sadd(this.keys.dirty('apps').pending, ...applicationIds);
    if (chatIds.length > 0) pipeline.sadd(this.keys.dirty('chats').pending, ...chatIds);
    if (applicationIds.length + chatIds.length === 0) return;
    const results = await pipeline.exec();
    const failed = results?.find(([err]) => err !== null);
    if (failed) throw failed[0] as Error;
  }

  /**
   * Starts a run: returns what is pending, what this instance's previous run left, and what
   * runs whose lease expired left. Another flusher's live run keeps its own ids.
   */
  async take(kind: DirtyKind): Promise<number[]> {
    const { pending, processing } = this.keys.dirty(kind);
    const previous = this.runs.get(kind) ?? '';
    const run = randomUUID();
    this.runs.set(kind, run);
    const now = this.now();
    const ids = (await this.redis.eval(
      TAKE,
      4,
      pending,
      processing,
      `${processing}:runs`,
      `${processing}:${run}`,
      now,
      now + this.leaseMs,
      processing,
      previous,
      run,
    )) as string[];
    return ids.map(Number).sort((a, b) => a - b);
  }

  /** Forgets ids once their counters were written; ids marked again since stay pending. */
  async done(kind: DirtyKind, ids: readonly number[]): Promise<void> {
    const run = this.runs.get(kind);
    if (ids.length === 0 || run === undefined) return;
    const { processing } = this.keys.dirty(kind);
    await this.redis.eval(
      DONE,
      2,
      `${processing}:${run}`,
      `${processing}:runs`,
      this.now() + this.leaseMs,
      run,
      ...ids,
    );
  }
}
