import {
  AppsV1Api,
  CoreV1Api,
  type V1Deployment,
  type V1Pod,
  type V1StatefulSet,
} from '@kubernetes/client-node';
import { expect } from 'chai';
import { PollFailedError, PollTimeoutError, pollUntil } from '../../../scripts/e2e-k8s/poll.js';
import {
  deploymentRollout,
  podReadiness,
  releaseRollout,
  statefulSetRollout,
  waitForRelease,
} from '../../../scripts/e2e-k8s/rollout.js';
import { FakeKubeApiServer } from '../../support/k8s/fake-apiserver.js';

const NS = 'chat';
const RELEASE = 'chat-system';
const labels = { 'app.kubernetes.io/instance': RELEASE };

function deployment(
  name: string,
  status: V1Deployment['status'],
  extra: Partial<V1Deployment> = {},
): V1Deployment {
  return {
    apiVersion: 'apps/v1',
    kind: 'Deployment',
    metadata: { name, namespace: NS, labels, generation: 2 },
    spec: { replicas: 2, selector: {}, template: {} },
    status: { observedGeneration: 2, ...status },
    ...extra,
  };
}

function statefulSet(name: string, status: V1StatefulSet['status']): V1StatefulSet {
  return {
    apiVersion: 'apps/v1',
    kind: 'StatefulSet',
    metadata: { name, namespace: NS, labels, generation: 1 },
    spec: { replicas: 1, selector: {}, serviceName: name, template: {} },
    ...(status === undefined ? {} : { status }),
  };
}

function pod(
  name: string,
  ready: boolean,
  owner = 'ReplicaSet',
  extra: Partial<V1Pod['status']> = {},
): V1Pod {
  return {
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: {
      name,
      namespace: NS,
      labels,
      ownerReferences: [{ apiVersion: 'apps/v1', kind: owner, name: 'x', uid: 'u' }],
    },
    status: {
      phase: 'Running',
      conditions: [{ type: 'Ready', status: ready ? 'True' : 'False' }],
      ...extra,
    },
  };
}

const rolledOut = { replicas: 2, updatedReplicas: 2, readyReplicas: 2, availableReplicas: 2 };

describe('rollout evaluation', () => {
  describe('deploymentRollout', () => {
    it('is done when every replica is updated and available', () => {
      expect(deploymentRollout(deployment('api', rolledOut)).done).to.equal(true);
    });

    it('waits until the controller observed the latest generation', () => {
      const state = deploymentRollout(deployment('api', { ...rolledOut, observedGeneration: 1 }));
      expect(state).to.include({ done: false, failed: false });
      expect(state.reason).to.contain('not observed');
    });

    it('waits for replicas to be updated', () => {
      const state = deploymentRollout(deployment('api', { ...rolledOut, updatedReplicas: 1 }));
      expect(state.reason).to.equal('1 of 2 replicas updated');
    });

    it('waits for old replicas to terminate', () => {
      const state = deploymentRollout(deployment('api', { ...rolledOut, replicas: 3 }));
      expect(state.reason).to.equal('1 old replicas pending termination');
    });

    it('waits for updated replicas to become available', () => {
      const state = deploymentRollout(deployment('api', { ...rolledOut, availableReplicas: 1 }));
      expect(state.reason).to.equal('1 of 2 updated replicas available');
    });

    it('fails when the progress deadline was exceeded', () => {
      const state = deploymentRollout(
        deployment('api', {
          ...rolledOut,
          updatedReplicas: 1,
          conditions: [
            { type: 'Progressing', status: 'False', reason: 'ProgressDeadlineExceeded' },
          ],
        }),
      );
      expect(state).to.include({ done: false, failed: true });
    });
  });

  describe('statefulSetRollout', () => {
    const ready = {
      replicas: 1,
      readyReplicas: 1,
      updatedReplicas: 1,
      currentRevision: 'r2',
      updateRevision: 'r2',
      observedGeneration: 1,
    };

    it('is done when its pods are ready on the current revision', () => {
      expect(statefulSetRollout(statefulSet('mysql', ready)).done).to.equal(true);
    });

    it('waits while pods are not ready', () => {
      expect(
        statefulSetRollout(statefulSet('mysql', { ...ready, readyReplicas: 0 })).reason,
      ).to.equal('0 of 1 pods ready');
    });

    it('waits while the update revision is not current', () => {
      const state = statefulSetRollout(statefulSet('mysql', { ...ready, currentRevision: 'r1' }));
      expect(state.reason).to.contain('r2 not current');
    });

    it('waits while it has no status at all', () => {
      expect(statefulSetRollout(statefulSet('mysql', undefined)).done).to.equal(false);
    });
  });

  describe('podReadiness', () => {
    it('reports the waiting reason of a container', () => {
      const state = podReadiness(
        pod('api-1', false, 'ReplicaSet', {
          containerStatuses: [
            {
              name: 'api',
              image: 'i',
              imageID: '',
              ready: false,
              restartCount: 3,
              state: { waiting: { reason: 'CrashLoopBackOff' } },
            },
          ],
        }),
      );
      expect(state.reason).to.equal('pod api-1 not ready (api: CrashLoopBackOff)');
    });

    it('accepts a Ready pod', () => {
      expect(podReadiness(pod('api-1', true)).done).to.equal(true);
    });
  });

  describe('releaseRollout', () => {
    it('waits while no Deployment exists yet', () => {
      expect(releaseRollout({ deployments: [], statefulSets: [], pods: [] }).reason).to.contain(
        'no Deployment',
      );
    });

    it('names the first workload that is not rolled out', () => {
      const state = releaseRollout({
        deployments: [
          deployment('api', rolledOut),
          deployment('consumer', { ...rolledOut, availableReplicas: 0 }),
        ],
        statefulSets: [],
        pods: [],
      });
      expect(state.reason).to.equal('deployment/consumer: 0 of 2 updated replicas available');
    });

    it('ignores Job pods but not serving pods', () => {
      const snapshot = {
        deployments: [deployment('api', rolledOut)],
        statefulSets: [],
        pods: [pod('migrate-x', false, 'Job'), pod('api-1', true)],
      };
      expect(releaseRollout(snapshot).done).to.equal(true);
      expect(
        releaseRollout({ ...snapshot, pods: [...snapshot.pods, pod('api-2', false)] }).reason,
      ).to.contain('api-2');
    });
  });
});

describe('pollUntil', () => {
  it('retries through exceptions and resolves with the value', async () => {
    let calls = 0;
    const value = await pollUntil(
      () => {
        calls += 1;
        if (calls === 1) return Promise.reject(new Error('connection refused'));
        if (calls === 2) return Promise.resolve({ done: false as const, reason: 'not yet' });
        return Promise.resolve({ done: true as const, value: 42 });
      },
      { description: 'the answer', timeoutMs: 2_000, intervalMs: 5 },
    );
    expect(value).to.equal(42);
    expect(calls).to.equal(3);
  });

  it('times out naming what it waited for and the last reason', async () => {
    let error: unknown;
    try {
      await pollUntil(() => Promise.resolve({ done: false as const, reason: 'still 0 of 1' }), {
        description: 'the thing',
        timeoutMs: 100,
        intervalMs: 20,
      });
    } catch (caught) {
      error = caught;
    }
    expect(error).to.be.instanceOf(PollTimeoutError);
    expect((error as Error).message)
      .to.contain('the thing')
      .and.contain('still 0 of 1');
  });

  it('stops at once on a fatal outcome', async () => {
    const started = Date.now();
    let error: unknown;
    try {
      await pollUntil(
        () => Promise.resolve({ done: false as const, reason: 'broken', fatal: true }),
        {
          description: 'x',
          timeoutMs: 5_000,
          intervalMs: 20,
        },
      );
    } catch (caught) {
      error = caught;
    }
    expect(error).to.be.instanceOf(PollFailedError);
    expect(Date.now() - started).to.be.lessThan(1_000);
  });
});

describe('waitForRelease against a fake API server', function () {
  this.timeout(10_000);
  let server: FakeKubeApiServer;
  let apps: AppsV1Api;
  let core: CoreV1Api;

  beforeEach(async () => {
    server = new FakeKubeApiServer();
    await server.start();
    apps = server.kubeConfig().makeApiClient(AppsV1Api);
    core = server.kubeConfig().makeApiClient(CoreV1Api);
  });
  afterEach(() => server.close());

  const wait = (timeoutMs: number, reasons: string[] = []) =>
    waitForRelease({
      apps,
      core,
      namespace: NS,
      labelSelector: `app.kubernetes.io/instance=${RELEASE}`,
      timeoutMs,
      intervalMs: 20,
      onWait: (reason) => reasons.push(reason),
    });

  it('resolves once the rollout completes, reporting what it waited for', async () => {
    server.objects.set('Deployment', [deployment('api', { ...rolledOut, availableReplicas: 0 })]);
    server.objects.set('StatefulSet', [
      statefulSet('mysql', {
        replicas: 1,
        readyReplicas: 1,
        updatedReplicas: 1,
        currentRevision: 'a',
        updateRevision: 'a',
        observedGeneration: 1,
      }),
    ]);
    server.objects.set('Pod', [pod('api-1', false)]);
    setTimeout(() => {
      server.objects.set('Deployment', [deployment('api', rolledOut)]);
      server.objects.set('Pod', [pod('api-1', true)]);
    }, 200);
    const reasons: string[] = [];

    const snapshot = await wait(5_000, reasons);

    expect(snapshot.deployments.map((d) => d.metadata?.name)).to.deep.equal(['api']);
    expect(snapshot.statefulSets).to.have.length(1);
    expect(reasons[0]).to.equal('deployment/api: 0 of 2 updated replicas available');
    const listed = server.requests.map((r) => r.path);
    expect(listed).to.include(`/apis/apps/v1/namespaces/${NS}/deployments`);
    expect(listed).to.include(`/api/v1/namespaces/${NS}/pods`);
  });

  it('only looks at objects of the release', async () => {
    const other = deployment('other-api', { ...rolledOut, availableReplicas: 0 });
    other.metadata!.labels = { 'app.kubernetes.io/instance': 'someone-else' };
    server.objects.set('Deployment', [deployment('api', rolledOut), other]);

    const snapshot = await wait(2_000);

    expect(snapshot.deployments.map((d) => d.metadata?.name)).to.deep.equal(['api']);
  });

  it('times out with the reason the rollout is stuck', async () => {
    server.objects.set('Deployment', [
      deployment('consumer', { ...rolledOut, updatedReplicas: 0 }),
    ]);
    let error: unknown;
    try {
      await wait(300);
    } catch (caught) {
      error = caught;
    }
    expect(error).to.be.instanceOf(PollTimeoutError);
    expect((error as Error).message).to.contain('deployment/consumer: 0 of 2 replicas updated');
  });

  it('fails fast when a Deployment exceeded its progress deadline', async () => {
    server.objects.set('Deployment', [
      deployment('api', {
        ...rolledOut,
        updatedReplicas: 1,
        conditions: [{ type: 'Progressing', status: 'False', reason: 'ProgressDeadlineExceeded' }],
      }),
    ]);
    let error: unknown;
    try {
      await wait(5_000);
    } catch (caught) {
      error = caught;
    }
    expect(error).to.be.instanceOf(PollFailedError);
    expect((error as Error).message).to.contain('progress deadline exceeded');
  });
});
