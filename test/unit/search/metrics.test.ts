import { expect } from 'chai';
import { Registry, register as globalRegistry } from 'prom-client';
import { createSearchMetrics } from '../../../internal/search/metrics.js';

describe('createSearchMetrics', function () {
  it('registers the three search metrics on the given registry only', async function () {
    const registry = new Registry();
    const before = (await globalRegistry.getMetricsAsJSON()).length;
    createSearchMetrics(registry);
    const names = (await registry.getMetricsAsJSON()).map((m) => `${m.name}:${m.type}`);
    expect(names).to.have.members([
      'search_duration_seconds:histogram',
      'search_index_errors_total:counter',
      'search_bulk_size:histogram',
    ]);
    expect((await globalRegistry.getMetricsAsJSON()).length).to.equal(before);
  });

  it('can be created once per registry, e.g. per test', function () {
    expect(() => {
      createSearchMetrics(new Registry());
      createSearchMetrics(new Registry());
    }).not.to.throw();
  });

  it('labels search durations by backend and outcome, and index errors by reason', async function () {
    const registry = new Registry();
    const metrics = createSearchMetrics(registry);
    metrics.searchDuration.observe({ backend: 'mysql', outcome: 'ok' }, 0.02);
    metrics.indexErrors.inc({ reason: 'rejected' }, 3);
    metrics.bulkSize.observe(42);
    const text = await registry.metrics();
    expect(text).to.include('search_duration_seconds_count{backend="mysql",outcome="ok"} 1');
    expect(text).to.include('search_index_errors_total{reason="rejected"} 3');
    expect(text).to.include('search_bulk_size_bucket{le="50"} 1');
    expect(text).to.include('search_bulk_size_bucket{le="25"} 0');
  });
});
