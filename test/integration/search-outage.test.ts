import { randomUUID } from 'node:crypto';
import { expect } from 'chai';
import { connect, type ChannelModel } from 'amqplib';
import { QueryTypes, type Sequelize } from 'sequelize';
import { build } from '../../cmd/consumer/build.js';
import { encodeWriteEvent } from '../../internal/domain/events.js';
import { assertTopology, deadLetterQueueOf } from '../../internal/queue/topology.js';
import type { Program } from '../../internal/runtime/program.js';
import { testSequelize } from '../support/database.js';
import { removeKeys, testRedis } from '../support/redis.js';
import { silentLogger, TEST_RABBITMQ_ADMIN_URL, testConfig } from '../support/environment.js';
import { startSearchStandIn, type SearchStandIn } from '../support/search-stand-in.js';
import { until } from '../support/until.js';

describe('consumer: persistence while the search index is down (MariaDB, Redis, RabbitMQ)', function () {
  this.timeout(90_000);
  let sequelize: Sequelize;
  let admin: ChannelModel;
  let search: SearchStandIn;
  let consumer: Program | null = null;
  const config = () =>
    testConfig({
      ELASTICSEARCH_URL: search.url,
      SEARCH_INDEX_INTERVAL_MS: '50',
      CONSUMER_DEAD_LETTER_CHECK_MS: '100',
    });
  let settings: ReturnType<typeof config>;

  beforeEach(async () => {
    sequelize = testSequelize();
    admin = await connect(TEST_RABBITMQ_ADMIN_URL);
    search = await startSearchStandIn();
    settings = config();
  });
  afterEach(async () => {
    await consumer?.stop();
    consumer = null;
    const channel = await admin.createChannel();
    await channel.deleteQueue(settings.rabbitmq.queue);
    await channel.deleteQueue(deadLetterQueueOf(settings.rabbitmq.queue));
    await admin.close();
    // What the consumer left in Redis (its counters' dirty marks) goes too.
    const redis = await testRedis('search-outage-cleanup');
    await removeKeys(redis, `${settings.redis.keyPrefix}*`);
    await redis.quit();
    await search.stop();
    await sequelize.close();
  });

  const scalar = async (sql: string, token: string) =>
    Number(
      (
        await sequelize.query<{ n: number }>(sql, {
          replacements: [token],
          type: QueryTypes.SELECT,
        })
      )[0]?.n,
    );
  const JOINS = `JOIN chats c ON c.id = m.chat_id JOIN applications a ON a.id = c.application_id
                 WHERE a.token = ?`;
  const persisted = (token: string) =>
    scalar(`SELECT COUNT(*) AS n FROM messages m ${JOINS}`, token);
  const queued = (token: string) =>
    scalar(
      `SELECT COUNT(*) AS n FROM search_outbox o JOIN messages m ON m.id = o.message_id ${JOINS}`,
      token,
    );

  it('persists and acks every write while the index answers 503, then catches up by itself', async () => {
    search.down = true;
    let port = 0;
    consumer = build({
      config: settings,
      logger: silentLogger,
      onListening: (p) => (port = p.http),
    });
    await consumer.start();
    const metric = async (name: string) => {
      const text = await (await fetch(`http://127.0.0.1:${port}/metrics`)).text();
      return Number(new RegExp(`^${name}(?:\\{[^}]*\\})? (\\S+)$`, 'm').exec(text)?.[1]);
    };

    const token = randomUUID();
    await sequelize.query(
      `INSERT INTO applications (token, name, created_at, updated_at) VALUES (?, 'outage', NOW(3), NOW(3))`,
      { replacements: [token] },
    );
    const channel = await admin.createConfirmChannel();
    await assertTopology(channel, settings.rabbitmq.queue);
    const now = new Date().toISOString();
    for (let n = 1; n <= 50; n += 1) {
      channel.sendToQueue(
        settings.rabbitmq.queue,
        encodeWriteEvent({
          kind: 'message.created',
          eventId: randomUUID(),
          applicationToken: token,
          chatNumber: 1,
          messageNumber: n,
          content: `message ${n}`,
          createdAt: now,
        }),
        { persistent: true },
      );
    }
    await channel.waitForConfirms();

    // Persisted, and queued for the index, while the index refuses everything.
    await until(async () => (await persisted(token)) === 50, 30_000);
    expect(await queued(token)).to.equal(50);
    expect(search.indexed()).to.equal(0);
    expect(await metric('search_index_pending_messages')).to.be.at.least(50);
    expect(await metric('search_index_lag_seconds')).to.be.greaterThan(0);
    expect(await metric('consumer_dead_letter_queue_messages')).to.equal(0);

    search.down = false;
    await until(async () => (await queued(token)) === 0, 60_000);
    expect(search.indexed()).to.be.at.least(50);

    // Everything was acked: nothing comes back once the consumer's channel is gone.
    await consumer.stop();
    consumer = null;
    const { messageCount } = await (
      await admin.createChannel()
    ).checkQueue(settings.rabbitmq.queue);
    expect(messageCount).to.equal(0);
  });
});
