import { expect } from 'chai';
import { AmqpConnection } from '../../../internal/queue/connection.js';
import { FakeConnection } from '../../support/fakes/amqp.js';
import { silentLogger } from '../../support/environment.js';

async function until(condition: () => boolean, timeoutMs = 5_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error('condition not met in time');
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
}

describe('AmqpConnection over several nodes (fake amqplib)', () => {
  it('tries each node in turn, keeps the one that answers, and moves on when it dies', async () => {
    const down = new Set(['amqp://a', 'amqp://b']);
    const tried: string[] = [];
    const made: FakeConnection[] = [];
    const amqp = new AmqpConnection({
      urls: ['amqp://a', 'amqp://b', 'amqp://c'],
      firstNode: 0,
      name: 'test',
      logger: silentLogger,
      maxBackoffMs: 20,
      onConnect: () => Promise.resolve(),
      connect: (url) => {
        tried.push(url);
        if (down.has(url)) return Promise.reject(new Error(`ECONNREFUSED ${url}`));
        const connection = new FakeConnection();
        made.push(connection);
        return Promise.resolve(connection.model);
      },
    });
    await amqp.start();
    // One pass over the nodes, no backoff in between.
    expect(tried).to.deep.equal(['amqp://a', 'amqp://b', 'amqp://c']);

    // c dies, a is back: the reconnect tries c first (it worked last), then a.
    down.delete('amqp://a');
    down.add('amqp://c');
    tried.length = 0;
    await made[0]!.close();
    await until(() => amqp.connected);
    expect(tried).to.deep.equal(['amqp://c', 'amqp://a']);
    await amqp.close();
  });

  it('backs off only once every node has failed', async () => {
    let up = false;
    const tried: string[] = [];
    const amqp = new AmqpConnection({
      urls: ['amqp://a', 'amqp://b'],
      firstNode: 0,
      name: 'test',
      logger: silentLogger,
      maxBackoffMs: 20,
      onConnect: () => Promise.resolve(),
      connect: (url) => {
        tried.push(url);
        if (!up) return Promise.reject(new Error('ECONNREFUSED'));
        return Promise.resolve(new FakeConnection().model);
      },
    });
    const started = amqp.start();
    await until(() => tried.length >= 4);
    up = true;
    await started;
    // Whole passes: a, b, a, b, …
    expect(tried.slice(0, 4)).to.deep.equal(['amqp://a', 'amqp://b', 'amqp://a', 'amqp://b']);
    await amqp.close();
  });
});
