import { expect } from 'chai';
import { DEAD_LETTER_CODES } from '../../../internal/domain/dead-letter.js';
import type { OutboxLag } from '../../../internal/domain/ports.js';
import {
  createConsumerMetrics,
  createRegistry,
  createSearchIndexMetrics,
} from '../../../internal/metrics/registry.js';

describe('metrics/registry', () => {
  it('exports every dead-letter reason at 0 before the first one, so increase() sees it', async () => {
    const registry = createRegistry('consumer');
    const metrics = createConsumerMetrics(registry);
    const before = (await metrics.deadLetters.get()).values;
    expect(before.map((v) => [v.labels['reason'], v.value])).to.have.deep.members(
      DEAD_LETTER_CODES.map((code) => [code, 0]),
    );
    metrics.deadLetters.inc({ reason: 'conflict' });
    const text = await registry.metrics();
    expect(text).to.contain('consumer_dead_letters_total{reason="conflict",program="consumer"} 1');
    expect(text).to.contain('consumer_dead_letters_total{reason="poison",program="consumer"} 0');
  });

  it('reads the search lag from the outbox at scrape time, keeping the last figures on failure', async () => {
    const registry = createRegistry('consumer');
    let lag: OutboxLag | Error = { pending: 4, oldestQueuedAt: new Date(1_000) };
    createSearchIndexMetrics(
      registry,
      () => (lag instanceof Error ? Promise.reject(lag) : Promise.resolve(lag)),
      () => 31_000,
    );
    const scrape = async () => {
      const text = await registry.metrics();
      const value = (name: string) =>
        Number(new RegExp(`^${name}\\{[^}]*\\} (\\S+)$`, 'm').exec(text)?.[1]);
      return [value('search_index_pending_messages'), value('search_index_lag_seconds')];
    };
    expect(await scrape()).to.deep.equal([4, 30]);
    lag = new Error('mysql unreachable');
    await new Promise((r) => setTimeout(r, 5));
    expect(await scrape()).to.deep.equal([4, 30]);
    lag = { pending: 0, oldestQueuedAt: null };
    await new Promise((r) => setTimeout(r, 5));
    expect(await scrape()).to.deep.equal([0, 0]);
  });
});
