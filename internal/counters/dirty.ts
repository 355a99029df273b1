import type { Redis } from 'ioredis';
import type { KeySpace } from './keys.js';

export type DirtyKind = 'apps' | 'chats';

// Moves what is pending into the processing set and returns all of it. Ids a crashed run
// left in the processing set are returned again, so nothing marked dirty is ever forgotten.
const TAKE = `
if redis.call('EXISTS', KEYS[1]) == 1 then
  redis.call('SUNIONSTORE', KEYS[2], KEYS[2], KEYS[1])
  redis.call('DEL', KEYS[1])
end
return redis.call('SMEMBERS', KEYS[2])
`;

/** The parents whose counters changed since the flusher last recounted them. */
export class DirtySet {
  constructor(
    private readonly redis: Redis,
    private readonly keys: KeySpace,
  ) {}

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

  async take(kind: DirtyKind): Promise<number[]> {
    const { pending, processing } = this.keys.dirty(kind);
    const ids = (await this.redis.eval(TAKE, 2, pending, processing)) as string[];
    return ids.map(Number).sort((a, b) => a - b);
  }

  /** Forgets ids once their counters were written; ids marked again since stay pending. */
  async done(kind: DirtyKind, ids: readonly number[]): Promise<void> {
    if (ids.length > 0) await this.redis.srem(this.keys.dirty(kind).processing, ...ids);
  }
}
