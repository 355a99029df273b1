import { expect } from 'chai';
import { ConfigError, loadConfig } from '../../../internal/config/config.js';

describe('config/loadConfig', () => {
  it('defaults to the local services', () => {
    const config = loadConfig({});
    expect(config.http.port).to.equal(8080);
    expect(config.mysql.url).to.equal('mysql://root@127.0.0.1:3306/chat_system');
    expect(config.redis.url).to.equal('redis://127.0.0.1:6379');
    expect(config.rabbitmq.url).to.equal('amqp://guest:guest@127.0.0.1:5672');
    expect(config.elasticsearch).to.equal(undefined);
    expect(config.adminToken).to.equal(undefined);
  });

  it('switches every Redis use to a cluster when seed nodes are named, with credentials and TLS', () => {
    expect(loadConfig({}).redis.cluster).to.equal(undefined);
    expect(loadConfig({ REDIS_CLUSTER_NODES: ' ' }).redis.cluster).to.equal(undefined);
    const { cluster } = loadConfig({
      REDIS_CLUSTER_NODES: 'redis-0.redis:6379, 10.0.0.7:7000,[fd00::1]:6380',
      REDIS_USERNAME: 'chat',
      REDIS_PASSWORD: 'secret',
      REDIS_TLS: 'true',
    }).redis;
    expect(cluster).to.deep.equal({
      nodes: [
        { host: 'redis-0.redis', port: 6379 },
        { host: '10.0.0.7', port: 7000 },
        { host: 'fd00::1', port: 6380 },
      ],
      username: 'chat',
      password: 'secret',
      tls: true,
    });
    expect(() => loadConfig({ REDIS_CLUSTER_NODES: 'redis-0.redis' })).to.throw(
      ConfigError,
      /REDIS_CLUSTER_NODES/,
    );
    expect(() => loadConfig({ REDIS_TLS: 'yes' })).to.throw(ConfigError, /REDIS_TLS/);
  });

  it('reports every bad variable at once', () => {
    let caught: unknown;
    try {
      loadConfig({
        PORT: 'eighty',
        MYSQL_URL: 'postgres://x',
        LOG_LEVEL: 'loud',
        ADMIN_TOKEN: 'short',
      });
    } catch (err) {
      caught = err;
    }
    expect(caught).to.be.instanceOf(ConfigError);
    const problems = (caught as ConfigError).problems.join('\n');
    for (const name of ['PORT', 'MYSQL_URL', 'LOG_LEVEL', 'ADMIN_TOKEN'])
      expect(problems).to.include(name);
  });

  it('takes a list of broker nodes and a number of write partitions', () => {
    const defaults = loadConfig({}).rabbitmq;
    expect(defaults.urls).to.deep.equal(['amqp://guest:guest@127.0.0.1:5672']);
    expect(defaults.writePartitions).to.equal(1);
    const cluster = loadConfig({
      RABBITMQ_URL: 'amqp://u:p@rabbit-0:5672, amqp://u:p@rabbit-1:5672,amqps://u:p@rabbit-2:5671',
      RABBITMQ_WRITE_PARTITIONS: '4',
    }).rabbitmq;
    expect(cluster.urls).to.deep.equal([
      'amqp://u:p@rabbit-0:5672',
      'amqp://u:p@rabbit-1:5672',
      'amqps://u:p@rabbit-2:5671',
    ]);
    expect(cluster.url).to.equal('amqp://u:p@rabbit-0:5672');
    expect(cluster.writePartitions).to.equal(4);
    for (const env of [
      { RABBITMQ_URL: 'amqp://a:5672,http://b' },
      { RABBITMQ_URL: ' , ' },
      { RABBITMQ_WRITE_PARTITIONS: '0' },
      { RABBITMQ_WRITE_PARTITIONS: '65' },
    ]) {
      expect(() => loadConfig(env)).to.throw(ConfigError, Object.keys(env)[0]);
    }
  });

  it('bounds the publishes awaiting a confirm, by count and bytes', () => {
    expect(loadConfig({}).rabbitmq).to.include({
      maxUnconfirmed: 5_000,
      maxUnconfirmedBytes: 32 * 1024 * 1024,
    });
    const set = loadConfig({
      RABBITMQ_MAX_UNCONFIRMED: '100',
      RABBITMQ_MAX_UNCONFIRMED_BYTES: '1048576',
    });
    expect(set.rabbitmq).to.include({ maxUnconfirmed: 100, maxUnconfirmedBytes: 1_048_576 });
    expect(() => loadConfig({ RABBITMQ_MAX_UNCONFIRMED: '0' })).to.throw(ConfigError);
  });

  it('reads from a MySQL replica only when MYSQL_READ_URL names one', () => {
    expect(loadConfig({}).mysql).to.include({
      readUrl: null,
      readWaitMs: 100,
      recordPositions: false,
    });
    // Recording without reading: the first step of turning replica reads on.
    expect(loadConfig({ MYSQL_RECORD_POSITIONS: 'true' }).mysql).to.include({
      readUrl: null,
      recordPositions: true,
    });
    expect(loadConfig({ MYSQL_READ_URL: '' }).mysql.readUrl).to.equal(null);
    const set = loadConfig({
      MYSQL_READ_URL: 'mysql://reader@replica:3306/chat_system',
      MYSQL_READ_WAIT_MS: '0',
    });
    expect(set.mysql).to.include({
      readUrl: 'mysql://reader@replica:3306/chat_system',
      readWaitMs: 0,
      recordPositions: true,
    });
    for (const bad of [{ MYSQL_READ_URL: 'postgres://replica/db' }, { MYSQL_READ_WAIT_MS: '-1' }])
      expect(() => loadConfig(bad)).to.throw(ConfigError);
  });

  it('treats empty optional variables as unset', () => {
    const config = loadConfig({ ELASTICSEARCH_URL: '', ADMIN_TOKEN: '' });
    expect(config.elasticsearch).to.equal(undefined);
    expect(config.adminToken).to.equal(undefined);
  });

  it('parses the edge limits with safe defaults, and refuses bad ones', () => {
    const defaults = loadConfig({}).limits;
    expect(defaults.http).to.deep.equal({
      headersTimeoutMs: 10_000,
      requestTimeoutMs: 30_000,
      keepAliveTimeoutMs: 65_000,
      socketTimeoutMs: 120_000,
      maxConnections: 4_096,
    });
    expect(defaults.redisCommandTimeoutMs).to.equal(2_000);
    expect(defaults.mysqlQueryTimeoutMs).to.equal(30_000);
    expect(defaults.rateLimit.enabled).to.equal(true);
    expect(defaults.rateLimit.applications).to.deep.equal({ max: 20, windowSeconds: 60 });
    expect(defaults.trustedProxies).to.deep.equal([]);
    expect(defaults.corsAllowedOrigins).to.deep.equal([]);

    const set = loadConfig({
      RATE_LIMIT_ENABLED: 'false',
      TRUSTED_PROXIES: '10.0.0.0/8, 192.168.1.1,fd00::/8',
      CORS_ALLOWED_ORIGINS: 'https://a.example,http://localhost:3000',
    }).limits;
    expect(set.rateLimit.enabled).to.equal(false);
    expect(set.trustedProxies).to.deep.equal(['10.0.0.0/8', '192.168.1.1', 'fd00::/8']);
    expect(set.corsAllowedOrigins).to.deep.equal(['https://a.example', 'http://localhost:3000']);

    let caught: unknown;
    try {
      loadConfig({
        TRUSTED_PROXIES: '10.0.0.0/33',
        CORS_ALLOWED_ORIGINS: 'https://a.example/path',
        HTTP_HEADERS_TIMEOUT_MS: '0',
        RATE_LIMIT_ENABLED: 'yes',
      });
    } catch (err) {
      caught = err;
    }
    const problems = (caught as ConfigError).problems.join('\n');
    for (const name of [
      'TRUSTED_PROXIES',
      'CORS_ALLOWED_ORIGINS',
      'HTTP_HEADERS_TIMEOUT_MS',
      'RATE_LIMIT_ENABLED',
    ])
      expect(problems).to.include(name);
  });
});
