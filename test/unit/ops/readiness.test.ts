import { expect } from 'chai';
import { Readiness } from '../../../internal/ops/readiness.js';

const up = (name: string) => ({ name, check: () => Promise.resolve() });
const down = (name: string, critical?: boolean) => ({
  name,
  ...(critical === undefined ? {} : { critical }),
  check: () => Promise.reject(new Error('connection refused')),
});

describe('http/Readiness', () => {
  it('is ready when every critical check passes, and reports each one', async () => {
    const report = await new Readiness([up('mysql'), down('elasticsearch', false)]).report();
    expect(report).to.deep.equal({
      ready: true,
      checks: { mysql: 'ok', elasticsearch: 'connection refused' },
    });
  });

  it('is not ready when a critical check fails or times out, or while draining', async () => {
    expect((await new Readiness([up('mysql'), down('redis')]).report()).ready).to.equal(false);
    const hang = { name: 'rabbitmq', check: () => new Promise<void>(() => undefined) };
    const slow = await new Readiness([hang], 20).report();
    expect(slow).to.deep.equal({ ready: false, checks: { rabbitmq: 'timed out' } });
    const draining = new Readiness([up('mysql')]);
    draining.drain();
    expect(await draining.report()).to.deep.equal({
      ready: false,
      checks: { mysql: 'ok', shutdown: 'draining' },
    });
  });
});
