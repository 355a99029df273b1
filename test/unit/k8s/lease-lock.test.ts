import { CoordinationV1Api } from '@kubernetes/client-node';
import { expect } from 'chai';
import { setTimeout as sleep } from 'node:timers/promises';
import { KubernetesLeaseLock, LeaseLostError } from '../../../internal/k8s/lease-lock.js';
import type { LockHandle } from '../../../internal/domain/ports.js';
import { FakeKubeApiServer } from '../../support/k8s/fake-apiserver.js';

const NAMESPACE = 'chat';
const NAME = 'chat-system-flusher';

describe('KubernetesLeaseLock against a fake Lease API', function () {
  this.timeout(10_000);
  let server: FakeKubeApiServer;
  let api: CoordinationV1Api;
  const handles: LockHandle[] = [];

  const lock = (identity: string, extra: { ttlSeconds?: number; now?: () => Date } = {}) =>
    new KubernetesLeaseLock({
      api,
      namespace: NAMESPACE,
      name: NAME,
      identity,
      ttlSeconds: extra.ttlSeconds ?? 30,
      ...(extra.now === undefined ? {} : { now: extra.now }),
    });
  const acquire = async (l: KubernetesLeaseLock) => {
    const handle = await l.tryAcquire();
    if (handle !== null) handles.push(handle);
    return handle;
  };
  const stored = () => server.lease(NAMESPACE, NAME);
  const storedSpec = () => (stored()?.['spec'] ?? {}) as Record<string, unknown>;
  const leaseWrites = () =>
    server.requests.filter((r) => r.path.includes('/leases') && r.method !== 'GET');

  beforeEach(async () => {
    server = new FakeKubeApiServer();
    await server.start();
    api = server.kubeConfig().makeApiClient(CoordinationV1Api);
  });

  afterEach(async () => {
    server.failWith = undefined;
    server.beforeRespond = undefined;
    await Promise.all(handles.splice(0).map((handle) => handle.release()));
    await server.close();
  });

  /** Answers no GET until two have arrived, so both contenders act on the same version. */
  function holdReadsUntilBothContendersRead(): void {
    let release!: () => void;
    const bothRead = new Promise<void>((resolve) => (release = resolve));
    let reads = 0;
    server.beforeRespond = async (request) => {
      if (request.method !== 'GET') return;
      reads += 1;
      if (reads === 2) release();
      await bothRead;
    };
  }

  it('creates the Lease on first acquire, holding it with MicroTime stamps', async () => {
    const handle = await acquire(lock('pod-a'));

    expect(handle).to.not.equal(null);
    expect(handle!.signal.aborted).to.equal(false);
    expect(server.requests.map((r) => r.method)).to.deep.equal(['GET', 'POST']);
    const spec = storedSpec();
    expect(spec['holderIdentity']).to.equal('pod-a');
    expect(spec['leaseDurationSeconds']).to.equal(30);
    expect(spec['leaseTransitions']).to.equal(0);
    expect(spec['renewTime']).to.match(/\.\d{6}Z$/);
    expect(spec['acquireTime']).to.equal(spec['renewTime']);
  });

  it('gives null to a second contender while the holder keeps it', async () => {
    const first = await acquire(lock('pod-a'));
    const versionBefore = stored()?.metadata?.['resourceVersion'];

    const second = await acquire(lock('pod-b'));

    expect(first).to.not.equal(null);
    expect(second).to.equal(null);
    expect(storedSpec()['holderIdentity']).to.equal('pod-a');
    expect(stored()?.metadata?.['resourceVersion']).to.equal(versionBefore);
  });

  it('takes over a Lease whose holder stopped renewing', async () => {
    const old = new Date(Date.now() - 60_000).toISOString().replace('Z', '000Z');
    server.putLease(NAMESPACE, NAME, {
      holderIdentity: 'crashed-pod',
      leaseDurationSeconds: 30,
      acquireTime: old,
      renewTime: old,
      leaseTransitions: 4,
    });

    const handle = await acquire(lock('pod-b'));

    expect(handle).to.not.equal(null);
    const spec = storedSpec();
    expect(spec['holderIdentity']).to.equal('pod-b');
    expect(spec['leaseTransitions']).to.equal(5);
    expect(spec['acquireTime']).to.not.equal(old);
    const put = server.requests.find((r) => r.method === 'PUT');
    expect(put?.body?.['metadata']).to.include({ resourceVersion: '101' });
  });

  it('does not take over a Lease that is still within its duration', async () => {
    const fresh = new Date(Date.now() - 5_000).toISOString().replace('Z', '000Z');
    server.putLease(NAMESPACE, NAME, {
      holderIdentity: 'busy-pod',
      leaseDurationSeconds: 30,
      renewTime: fresh,
    });

    expect(await acquire(lock('pod-b'))).to.equal(null);
    expect(leaseWrites()).to.have.length(0);
  });

  it('takes a released Lease (no holder) at once', async () => {
    const justNow = new Date().toISOString().replace('Z', '000Z');
    server.putLease(NAMESPACE, NAME, { leaseDurationSeconds: 1, renewTime: justNow });

    const handle = await acquire(lock('pod-c'));

    expect(handle).to.not.equal(null);
    expect(storedSpec()['holderIdentity']).to.equal('pod-c');
  });

  it('lets exactly one of two racing contenders take an expired Lease (resourceVersion CAS)', async () => {
    const old = new Date(Date.now() - 60_000).toISOString().replace('Z', '000Z');
    server.putLease(NAMESPACE, NAME, {
      holderIdentity: 'gone',
      leaseDurationSeconds: 30,
      renewTime: old,
    });
    holdReadsUntilBothContendersRead();

    const results = await Promise.all([acquire(lock('pod-a')), acquire(lock('pod-b'))]);

    expect(results.filter((handle) => handle !== null)).to.have.length(1);
    const puts = server.requests.filter((r) => r.method === 'PUT');
    expect(puts).to.have.length(2);
    const winner = results[0] === null ? 'pod-b' : 'pod-a';
    expect(storedSpec()['holderIdentity']).to.equal(winner);
  });

  it('lets exactly one of two racing contenders create a missing Lease (AlreadyExists)', async () => {
    holdReadsUntilBothContendersRead();

    const results = await Promise.all([acquire(lock('pod-a')), acquire(lock('pod-b'))]);

    expect(results.filter((handle) => handle !== null)).to.have.length(1);
    expect(server.requests.filter((r) => r.method === 'POST')).to.have.length(2);
  });

  it('keeps the Lease by renewing it every third of its duration', async () => {
    const handle = await acquire(lock('pod-a', { ttlSeconds: 1 }));
    const firstRenew = storedSpec()['renewTime'];

    await sleep(1_200);

    const renewals = server.requests.filter((r) => r.method === 'PUT');
    expect(renewals.length).to.be.within(2, 5);
    expect(handle!.signal.aborted).to.equal(false);
    expect(storedSpec()['holderIdentity']).to.equal('pod-a');
    expect(storedSpec()['renewTime']).to.not.equal(firstRenew);
    // Renewed in time, so another contender still cannot take it.
    expect(await acquire(lock('pod-b', { ttlSeconds: 1 }))).to.equal(null);
  });

  it('release() stops renewing and lets another contender take the Lease at once', async () => {
    const handle = await acquire(lock('pod-a', { ttlSeconds: 30 }));

    await handle!.release();
    const writesAfterRelease = leaseWrites().length;

    expect(storedSpec()['holderIdentity']).to.equal(undefined);
    expect(handle!.signal.aborted).to.equal(false);
    const next = await acquire(lock('pod-b'));
    expect(next).to.not.equal(null);
    expect(storedSpec()['holderIdentity']).to.equal('pod-b');
    await handle!.release(); // idempotent
    expect(leaseWrites().length).to.equal(writesAfterRelease + 1);
  });

  it('aborts the signal when another holder took the Lease over', async () => {
    const handle = await acquire(lock('pod-a', { ttlSeconds: 1 }));
    const justNow = new Date().toISOString().replace('Z', '000Z');
    server.putLease(NAMESPACE, NAME, {
      holderIdentity: 'usurper',
      leaseDurationSeconds: 1,
      renewTime: justNow,
    });

    await waitFor(() => handle!.signal.aborted, 2_000);

    expect(handle!.signal.reason).to.be.instanceOf(LeaseLostError);
    expect((handle!.signal.reason as Error).message).to.contain('usurper');
    await handle!.release();
    expect(storedSpec()['holderIdentity']).to.equal('usurper');
  });

  it('aborts the signal when renewals keep failing for two thirds of the duration', async () => {
    const handle = await acquire(lock('pod-a', { ttlSeconds: 1 }));
    const acquiredAt = Date.now();
    server.failWith = (request) => (request.method === 'PUT' ? 503 : undefined);

    await waitFor(() => handle!.signal.aborted, 3_000);

    const elapsed = Date.now() - acquiredAt;
    // Not before the renew deadline (2/3 of 1 s); soon after it, even on a loaded machine.
    expect(elapsed).to.be.within(600, 2_500);
    expect((handle!.signal.reason as Error).message).to.match(/not renewed/);
    expect(server.requests.filter((r) => r.method === 'PUT').length).to.be.greaterThan(1);
  });

  it('survives one failed renewal when the next one succeeds', async () => {
    const handle = await acquire(lock('pod-a', { ttlSeconds: 1 }));
    let failures = 0;
    server.failWith = (request) => {
      if (request.method !== 'PUT' || failures >= 1) return undefined;
      failures += 1;
      return 500;
    };

    await sleep(1_200);

    expect(failures).to.equal(1);
    expect(handle!.signal.aborted).to.equal(false);
    expect(storedSpec()['holderIdentity']).to.equal('pod-a');
  });

  it('rejects a non-positive ttl', () => {
    expect(() => lock('pod-a', { ttlSeconds: 0 })).to.throw(RangeError);
  });
});

async function waitFor(condition: () => boolean, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error(`condition not met within ${timeoutMs} ms`);
    await sleep(20);
  }
}
