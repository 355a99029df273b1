import type { RedisClient } from './client.js';
import type { CommitPosition, PositionStore, StreamPosition } from '../domain/ports.js';
import type { KeySpace } from './keys.js';

// KEYS[1] the application's position hash; ARGV: ttl ms, then (stream, seq, gtid) triples.
// Field per stream, value `<seq> <gtid>`: a stream is only ever raised, so concurrent writers
// (API replicas, consumers) can report in any order. Sequence numbers stay below 2^53.
const ADVANCE = `
for i = 2, #ARGV, 3 do
  local kept = redis.call('HGET', KEYS[1], ARGV[i])
  if not kept or tonumber(string.match(kept, '^(%d+)')) < tonumber(ARGV[i + 1]) then
    redis.call('HSET', KEYS[1], ARGV[i], ARGV[i + 1] .. ' ' .. ARGV[i + 2])
  end
end
redis.call('PEXPIRE', KEYS[1], ARGV[1])
return 1
`;

const COMMAND = 'chatSystemPositionAdvance';
type ScriptCommand = (...args: (string | number)[]) => Promise<unknown>;

/**
 * How long an application's position is kept after its last write. Only memory depends on it:
 * a read that finds none waits for the primary's position at that moment, which covers every
 * write ever answered.
 */
export const POSITION_TTL_MS = 3_600_000;

/** Positions in the application's hash slot (`{token}`), so the layout suits Redis Cluster. */
export class RedisPositionStore implements PositionStore {
  constructor(
    private readonly redis: RedisClient,
    private readonly keys: KeySpace,
    private readonly ttlMs = POSITION_TTL_MS,
  ) {
    // Defined when built, never lazily (see defineScripts in live.ts).
    if (!(COMMAND in redis)) redis.defineCommand(COMMAND, { lua: ADVANCE, numberOfKeys: 1 });
  }

  async advance(token: string, position: CommitPosition): Promise<void> {
    if (position.length === 0) return;
    const command = (this.redis as unknown as Record<string, ScriptCommand>)[COMMAND];
    if (command === undefined) throw new Error('position script is not defined');
    await command.call(
      this.redis,
      this.keys.position(token),
      this.ttlMs,
      ...position.flatMap((p) => [p.stream, p.seq, p.gtid]),
    );
  }

  async get(token: string): Promise<CommitPosition | null> {
    const kept = await this.redis.hgetall(this.keys.position(token));
    const position: StreamPosition[] = [];
    for (const [stream, value] of Object.entries(kept)) {
      const space = value.indexOf(' ');
      position.push({ stream, seq: Number(value.slice(0, space)), gtid: value.slice(space + 1) });
    }
    return position.length === 0 ? null : position;
  }
}
