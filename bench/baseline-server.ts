/**
 * The raw Node hot-path baseline: node:http with the same work a create-message request does
 * (read and validate the JSON body, take the number with the same Redis script, publish with
 * a confirm, answer 201) and nothing else: no Koa, router, middleware or metrics.
 */
import { createServer } from 'node:http';
import { loadConfig } from '../internal/config/config.js';
import { KeySpace } from '../internal/redis/keys.js';
import { RedisNumberCache } from '../internal/redis/numbers.js';
import { createSequelize } from '../internal/db/sequelize.js';
import { SqlNumberLedger } from '../internal/db/repositories/number-ledger.js';
import { Numbering } from '../internal/service/numbering.js';
import { AmqpConnection } from '../internal/queue/connection.js';
import { ConfirmPublisher } from '../internal/queue/publisher.js';
import { createRedis } from '../internal/redis/client.js';
import { createLogger } from '../internal/log/logger.js';

const config = loadConfig();
const logger = createLogger('baseline', 'warn');
const redis = createRedis(config.redis, logger, 'bench-baseline');
const cache = new RedisNumberCache(redis, new KeySpace(config.redis.keyPrefix), 60);
const publisher = new ConfirmPublisher(
  config.rabbitmq.queue,
  {
    confirmed: () => undefined,
    failed: () => undefined,
    refused: () => undefined,
    republished: () => undefined,
    sent: () => undefined,
  },
  {
    maxUnconfirmed: config.rabbitmq.maxUnconfirmed,
    maxUnconfirmedBytes: config.rabbitmq.maxUnconfirmedBytes,
    envelopeMaxEvents: config.rabbitmq.envelopeMaxEvents,
    envelopeMaxBytes: config.rabbitmq.envelopeMaxBytes,
    envelopeLingerUs: config.rabbitmq.envelopeLingerUs,
  },
);
const ignore = () => undefined;
const numbering = new Numbering(
  cache,
  new SqlNumberLedger(createSequelize(config.mysql)),
  publisher,
  { ...config.numbering, fenceMarginMs: 1_000 },
  { reserved: ignore, revalidated: ignore, epochBegan: ignore, pending: ignore },
  logger,
);
const amqp = new AmqpConnection({
  urls: config.rabbitmq.urls,
  name: 'bench-baseline',
  logger,
  onConnect: publisher.attach,
  onDisconnect: publisher.detach,
});
await redis.connect();
await amqp.start();

const route = /^\/api\/applications\/([^/]+)\/chats\/([1-9][0-9]*)\/messages$/;
const server = createServer((req, res) => {
  const match = route.exec(req.url ?? '');
  const chunks: Buffer[] = [];
  req.on('data', (c: Buffer) => chunks.push(c));
  req.on('end', () => {
    void (async () => {
      try {
        if (req.method !== 'POST' || match === null) throw new Error('route');
        const body = JSON.parse(Buffer.concat(chunks).toString('utf8')) as {
          message_content?: unknown;
        };
        if (typeof body.message_content !== 'string' || body.message_content === '')
          throw new Error('invalid');
        const token = match[1]!;
        const chatNumber = Number(match[2]);
        const decision = await numbering.take(token, { kind: 'messages', chat: chatNumber }, null);
        const { createdAt } = decision;
        await publisher.publish(
          {
            kind: 'message.created',
            eventId: decision.eventId,
            applicationToken: token,
            chatNumber,
            messageNumber: decision.number,
            content: body.message_content,
            createdAt,
          },
          { sendBy: decision.sendBy },
        );
        const payload = JSON.stringify({
          type: 'message',
          application_token: token,
          chat_number: chatNumber,
          message_number: decision.number,
          message_content: body.message_content,
          created_at: createdAt,
          updated_at: createdAt,
        });
        res.writeHead(201, { 'Content-Type': 'application/json' }).end(payload);
      } catch (err) {
        res
          .writeHead(400, { 'Content-Type': 'application/json' })
          .end(JSON.stringify({ error: String(err) }));
      }
    })();
  });
});
server.listen(0, '127.0.0.1', () => {
  const address = server.address();
  process.stdout.write(
    `${JSON.stringify({ port: typeof address === 'object' && address ? address.port : 0 })}\n`,
  );
});
process.once('SIGTERM', () => {
  server.close();
  void amqp.close().then(() => {
    redis.disconnect();
    process.exit(0);
  });
});
