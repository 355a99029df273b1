import { randomUUID } from 'node:crypto';
import { expect } from 'chai';
import type { RedisClient } from '../../internal/redis/client.js';
import { KeySpace } from '../../internal/redis/keys.js';
import { RedisPositionStore } from '../../internal/redis/positions.js';
import { uniqueSuffix } from '../support/environment.js';
import { removeKeys, testRedis } from '../support/redis.js';

describe('redis: applications’ commit positions for causal reads on a MySQL replica', function () {
  this.timeout(10_000);
  const prefix = `cs-positions-${uniqueSuffix()}:`;
  const keys = new KeySpace(prefix);
  let redis: RedisClient;

  // Standalone or a cluster (npm run test:redis-cluster): one key per application, one slot.
  before(async () => {
    redis = await testRedis('positions-test');
  });
  after(async () => {
    await removeKeys(redis, `${prefix}*`);
    await redis.quit();
  });

  it('raises each stream only upward, whatever order writers report in, under the application’s hash tag', async () => {
    const store = new RedisPositionStore(redis, keys);
    const token = randomUUID();
    expect(await store.get(token)).to.equal(null);
    await store.advance(token, [{ stream: '0', seq: 41, gtid: '0-1-41' }]);
    await Promise.all([
      store.advance(token, [
        { stream: '0', seq: 40, gtid: '0-1-40' },
        { stream: '3', seq: 7, gtid: '3-2-7' },
      ]),
      store.advance(token, [{ stream: '0', seq: 9_007_199_254_740, gtid: '0-2-9007199254740' }]),
    ]);
    const kept = await store.get(token);
    expect([...(kept ?? [])].sort((a, b) => a.stream.localeCompare(b.stream))).to.deep.equal([
      { stream: '0', seq: 9_007_199_254_740, gtid: '0-2-9007199254740' },
      { stream: '3', seq: 7, gtid: '3-2-7' },
    ]);
    const key = keys.position(token);
    expect(key).to.equal(`${prefix}{${token}}:mysql:position`);
    expect(await redis.pttl(key)).to.be.within(1, 3_600_000);
  });

  it('forgets a position after its TTL: a read then falls back to the primary’s', async () => {
    const store = new RedisPositionStore(redis, keys, 50);
    const token = randomUUID();
    await store.advance(token, [{ stream: '0', seq: 1, gtid: '0-1-1' }]);
    await new Promise((r) => setTimeout(r, 120));
    expect(await store.get(token)).to.equal(null);
  });
});
