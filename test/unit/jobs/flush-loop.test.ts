import { expect } from 'chai';
import { FlushLoop } from '../../../internal/jobs/flush-loop.js';
import type { FlushResult } from '../../../internal/jobs/flush-counters.js';
import type { LeaderLock } from '../../../internal/domain/ports.js';
import { createFlusherMetrics, createRegistry } from '../../../internal/metrics/registry.js';
import { FakeLock } from '../../support/fakes/search-outbox.js';
import { silentLogger } from '../../support/environment.js';

function loop(options: {
  chooseLock: () => Promise<LeaderLock>;
  flush?: (signal: AbortSignal) => Promise<FlushResult>;
}) {
  const metrics = createFlusherMetrics(createRegistry('test'));
  const runs = new FlushLoop({
    flush: options.flush ?? (() => Promise.resolve({ chats: 1, applications: 1 })),
    chooseLock: options.chooseLock,
    intervalMs: 10,
    metrics,
    logger: silentLogger,
  });
  const outcomes = async () =>
    Object.fromEntries(
      (await metrics.runs.get()).values.map((v) => [String(v.labels['outcome']), v.value]),
    );
  return { runs, outcomes };
}

const signal = () => new AbortController().signal;

describe('jobs/FlushLoop', () => {
  it('flushes while holding the lock and releases it after the run', async () => {
    const lock = new FakeLock();
    let heldDuringFlush = false;
    const { runs, outcomes } = loop({
      chooseLock: () => Promise.resolve(lock),
      flush: async () => {
        heldDuringFlush = (await lock.tryAcquire()) === null;
        return { chats: 0, applications: 0 };
      },
    });
    expect(await runs.runOnce(signal())).to.equal(true);
    expect(heldDuringFlush).to.equal(true);
    expect(await lock.tryAcquire()).to.not.equal(null);
    expect(await outcomes()).to.deep.equal({ success: 1 });
  });

  it('skips the run (not a failure) while another flusher holds the lock', async () => {
    const lock = new FakeLock();
    lock.heldElsewhere = true;
    let flushed = false;
    const { runs, outcomes } = loop({
      chooseLock: () => Promise.resolve(lock),
      flush: () => {
        flushed = true;
        return Promise.resolve({ chats: 0, applications: 0 });
      },
    });
    expect(await runs.runOnce(signal())).to.equal(true);
    expect(flushed).to.equal(false);
    expect(await outcomes()).to.deep.equal({ skipped: 1 });
  });

  it('fails a run whose flush threw and releases the lock', async () => {
    const lock = new FakeLock();
    const { runs, outcomes } = loop({
      chooseLock: () => Promise.resolve(lock),
      flush: () => Promise.reject(new Error('redis down')),
    });
    expect(await runs.runOnce(signal())).to.equal(false);
    expect(await lock.tryAcquire()).to.not.equal(null);
    expect(await outcomes()).to.deep.equal({ failure: 1 });
  });

  it('chooses the lock again on the next run when choosing it failed', async () => {
    let choices = 0;
    const { runs } = loop({
      chooseLock: () =>
        ++choices === 1
          ? Promise.reject(new Error('no service account'))
          : Promise.resolve(new FakeLock()),
    });
    expect(await runs.runOnce(signal())).to.equal(false);
    expect(await runs.runOnce(signal())).to.equal(true);
    expect(await runs.runOnce(signal())).to.equal(true);
    expect(choices).to.equal(2);
  });

  it('loops until the signal aborts', async () => {
    const controller = new AbortController();
    let flushes = 0;
    const { runs } = loop({
      chooseLock: () => Promise.resolve(new FakeLock()),
      flush: () => {
        if (++flushes === 3) controller.abort(new Error('shutting down'));
        return Promise.resolve({ chats: 0, applications: 0 });
      },
    });
    await runs.loop(controller.signal);
    expect(flushes).to.equal(3);
  });
});
