import { randomUUID } from 'node:crypto';
import type { RedisClient } from './client.js';
import type { LeaderLock, LockHandle } from '../domain/ports.js';
import type { Logger } from '../log/logger.js';

const RENEW = `
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('PEXPIRE', KEYS[1], ARGV[2]) end
return 0`;
const RELEASE = `
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end
return 0`;

/** The flusher's lock outside Kubernetes: SET NX PX with an owner token, renewed while held. */
export class RedisLock implements LeaderLock {
  constructor(
    private readonly redis: RedisClient,
    private readonly key: string,
    private readonly ttlMs: number,
    private readonly logger: Logger,
  ) {}

  async tryAcquire(): Promise<LockHandle | null> {
    const owner = randomUUID();
    const taken = await this.redis.set(this.key, owner, 'PX', this.ttlMs, 'NX');
    if (taken !== 'OK') return null;
    const controller = new AbortController();
    let renewedAt = Date.now();
    const renew = setInterval(
      () => {
        this.redis.eval(RENEW, 1, this.key, owner, this.ttlMs).then(
          (ok) => {
            if (ok === 1) renewedAt = Date.now();
            else controller.abort(new Error('lock lost'));
          },
          (err: unknown) => {
            this.logger.warn({ err }, 'lock renewal failed');
            if (Date.now() - renewedAt > this.ttlMs) controller.abort(new Error('lock expired'));
          },
        );
      },
      Math.max(Math.floor(this.ttlMs / 3), 50),
    );
    renew.unref();
    return {
      signal: controller.signal,
      release: async () => {
        clearInterval(renew);
        await this.redis.eval(RELEASE, 1, this.key, owner);
      },
    };
  }
}

/** For a single flusher where no lock is wanted (FLUSHER_LOCK=none). */
export const noLock: LeaderLock = {
  tryAcquire: () =>
    Promise.resolve({ signal: new AbortController().signal, release: () => Promise.resolve() }),
};
