import { expect } from 'chai';
import { WriteConsumer } from '../../../internal/queue/consumer.js';
import { FakeConnection } from '../../support/fakes/amqp.js';
import { silentLogger } from '../../support/environment.js';

function consumer(): WriteConsumer {
  return new WriteConsumer({
    queue: 'writes',
    prefetch: 10,
    batchSize: 10,
    batchWaitMs: 10,
    batchMaxBytes: 1024,
    maxDeliveries: 3,
    handler: { handle: () => Promise.resolve({ deadLetter: [], retry: [] }) },
    observer: {
      batch: () => undefined,
      redelivered: () => undefined,
      deadLettered: () => undefined,
    },
    logger: silentLogger,
  });
}

describe('WriteConsumer attach (fake amqplib)', () => {
  for (const step of ['writes', 'prefetch', 'consume:writes']) {
    it(`never keeps a channel that closed in the same read as the reply to ${step}`, async () => {
      const subject = consumer();
      const connection = new FakeConnection();
      connection.onChannel = (channel) =>
        (channel.onDeclare = (name) => {
          if (name === step) void channel.close();
        });
      const error = await subject.attach(connection.model).catch((err: unknown) => err);
      expect(error).to.be.instanceOf(Error);
      expect(subject.consuming).to.equal(false);

      const next = new FakeConnection();
      await subject.attach(next.model);
      expect(subject.consuming).to.equal(true);
    });
  }
});
