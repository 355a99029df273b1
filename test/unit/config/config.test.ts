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

  it('treats empty optional variables as unset', () => {
    const config = loadConfig({ ELASTICSEARCH_URL: '', ADMIN_TOKEN: '' });
    expect(config.elasticsearch).to.equal(undefined);
    expect(config.adminToken).to.equal(undefined);
  });
});
