import { randomUUID } from 'node:crypto';
import { expect } from 'chai';
import { loadConfig } from '../../internal/config/config.js';
import { createRedis, primaries, type RedisClient } from '../../internal/redis/client.js';
import { KeySpace } from '../../internal/redis/keys.js';
import { DirtySet } from '../../internal/redis/dirty.js';
import { RedisRateLimiter } from '../../internal/redis/rate-limiter.js';
import { RedisLiveLog } from '../../internal/redis/live.js';
import { PrivateRedisCluster } from '../faults/support/redis-cluster.js';
import { silentLogger } from '../support/environment.js';

/**
 * The Redis Cluster variables end to end against a cluster of its own that takes only TLS
 * (certificates from a CA made for the run) and a password: what the programs build from
 * REDIS_CLUSTER_NODES, REDIS_USERNAME, REDIS_PASSWORD, REDIS_TLS and REDIS_TLS_CA_FILE.
 */
describe('redis: a cluster that takes only TLS and a password (private)', function () {
  this.timeout(60_000);
  let cluster: PrivateRedisCluster;
  let env: Record<string, string>;
  const clients: RedisClient[] = [];

  before(async () => {
    cluster = await PrivateRedisCluster.start({ fromPort: 27_350, replicas: 0, secure: true });
    const secrets = cluster.secrets!;
    env = {
      REDIS_CLUSTER_NODES: cluster.seeds,
      REDIS_USERNAME: 'default',
      REDIS_PASSWORD: secrets.password,
      REDIS_TLS: 'true',
      REDIS_TLS_CA_FILE: secrets.caFile,
      LOG_LEVEL: 'silent',
    };
  });
  after(async () => {
    for (const client of clients) client.disconnect();
    await cluster?.stop();
  });

  const connect = async (overrides: Record<string, string> = {}) => {
    const config = loadConfig({ ...env, ...overrides });
    const redis = createRedis(config.redis, silentLogger, 'secure-cluster-test', {
      commandTimeoutMs: 2_000,
    });
    clients.push(redis);
    await redis.connect();
    return redis;
  };

  it('connects with the configured CA and credentials, and works on every primary', async () => {
    const redis = await connect();
    expect(primaries(redis)).to.have.length(3);
    // Keys of many applications land on every primary.
    const limiter = new RedisRateLimiter(redis, 'cs-secure:');
    const rule = { name: 'test', max: 2, windowSeconds: 60 };
    for (let i = 0; i < 30; i += 1) {
      const subject = randomUUID();
      expect((await limiter.take(rule, subject)).allowed).to.equal(true);
      expect((await limiter.take(rule, subject)).remaining).to.equal(0);
      expect((await limiter.take(rule, subject)).allowed).to.equal(false);
    }
    const perPrimary = await Promise.all(primaries(redis).map((node) => node.dbsize()));
    for (const keys of perPrimary) expect(keys).to.be.above(0);
    const dirty = new DirtySet(redis, new KeySpace('cs-secure:'));
    await dirty.mark([1, 2], [3]);
    expect(await dirty.take('apps')).to.deep.equal([1, 2]);
  });

  it('runs scripts and reads of many applications in the same tick (one slot each)', async () => {
    const redis = await connect();
    const keys = new KeySpace('cs-secure:');
    const log = new RedisLiveLog(redis, keys, { minEvents: 10, minAgeMs: 60_000 });
    const tokens = Array.from({ length: 50 }, () => randomUUID());
    // EVALSHA's first argument is the key count and XREAD's is STREAMS: a client batching
    // commands by the slot of their first argument would send these to the wrong nodes.
    await Promise.all(
      tokens.map((token) => log.append(token, 1, { type: 'chat.updated', data: { token } })),
    );
    const read = await log.read(
      tokens.map((token) => ({ token, chat: 1, after: '0-0' })),
      1_000,
    );
    expect(read.map((r) => r.token)).to.have.members(tokens);
  });

  it('refuses a wrong password, and plain TCP to a TLS-only cluster', async () => {
    const wrongPassword = await connect({ REDIS_PASSWORD: 'not-the-password' }).catch(
      (err: unknown) => err,
    );
    expect(wrongPassword).to.be.instanceOf(Error);
    const plain = await connect({ REDIS_TLS: 'false' }).catch((err: unknown) => err);
    expect(plain).to.be.instanceOf(Error);
  });
});
