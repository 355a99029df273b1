/**
 * Rollout evaluation the way `kubectl rollout status` judges it, as pure functions over the
 * objects' status, plus a wait for a whole Helm release (every Deployment and StatefulSet rolled
 * out, every serving pod Ready) through @kubernetes/client-node.
 */
import type {
  AppsV1Api,
  CoreV1Api,
  V1Deployment,
  V1Pod,
  V1StatefulSet,
} from '@kubernetes/client-node';
import { pollUntil, type PollOutcome } from './poll.js';

export interface RolloutState {
  readonly done: boolean;
  /** Why it is not done yet (or "rolled out"). */
  readonly reason: string;
  /** The rollout cannot finish by waiting (e.g. its progress deadline passed). */
  readonly failed: boolean;
}

const done: RolloutState = { done: true, reason: 'rolled out', failed: false };
const waiting = (reason: string): RolloutState => ({ done: false, reason, failed: false });

export function deploymentRollout(deployment: V1Deployment): RolloutState {
  const status = deployment.status ?? {};
  const generation = deployment.metadata?.generation ?? 0;
  if ((status.observedGeneration ?? 0) < generation) {
    return waiting('the controller has not observed the latest spec yet');
  }
  const progressing = status.conditions?.find((c) => c.type === 'Progressing');
  if (progressing?.reason === 'ProgressDeadlineExceeded') {
    return { done: false, reason: 'progress deadline exceeded', failed: true };
  }
  const desired = deployment.spec?.replicas ?? 1;
  const updated = status.updatedReplicas ?? 0;
  const total = status.replicas ?? 0;
  const available = status.availableReplicas ?? 0;
  if (updated < desired) return waiting(`${updated} of ${desired} replicas updated`);
  if (total > updated) return waiting(`${total - updated} old replicas pending termination`);
  if (available < updated) return waiting(`${available} of ${updated} updated replicas available`);
  return done;
}

export function statefulSetRollout(statefulSet: V1StatefulSet): RolloutState {
  const status = statefulSet.status;
  const generation = statefulSet.metadata?.generation ?? 0;
  if (status === undefined || (status.observedGeneration ?? 0) < generation) {
    return waiting('the controller has not observed the latest spec yet');
  }
  const desired = statefulSet.spec?.replicas ?? 1;
  const ready = status.readyReplicas ?? 0;
  if (ready < desired) return waiting(`${ready} of ${desired} pods ready`);
  const strategy = statefulSet.spec?.updateStrategy;
  if (strategy?.type === 'OnDelete') return done;
  const partition = strategy?.rollingUpdate?.partition ?? 0;
  const updated = status.updatedReplicas ?? 0;
  if (updated < desired - partition) {
    return waiting(`${updated} of ${desired - partition} pods updated`);
  }
  if (partition === 0 && status.updateRevision !== status.currentRevision) {
    return waiting(`revision ${status.updateRevision ?? '?'} not current yet`);
  }
  return done;
}

/** Ready, or why not. Pods of finished Jobs are not expected to be Ready and are skipped. */
export function podReadiness(pod: V1Pod): RolloutState {
  const phase = pod.status?.phase;
  if (phase === 'Succeeded') return done;
  if (phase === 'Failed') return waiting(`pod ${pod.metadata?.name ?? '?'} failed`);
  const waitingContainer = [
    ...(pod.status?.initContainerStatuses ?? []),
    ...(pod.status?.containerStatuses ?? []),
  ].find((c) => c.state?.waiting?.reason !== undefined);
  const ready = pod.status?.conditions?.find((c) => c.type === 'Ready')?.status === 'True';
  if (ready) return done;
  // e.g. "(api: CrashLoopBackOff)", the usual first clue.
  const reason = waitingContainer?.state?.waiting?.reason;
  const detail = reason === undefined ? '' : ` (${waitingContainer?.name ?? '?'}: ${reason})`;
  return waiting(`pod ${pod.metadata?.name ?? '?'} not ready${detail}`);
}

/** Pods that a Deployment or StatefulSet owns (Job and test pods are not part of the rollout). */
export function isServingPod(pod: V1Pod): boolean {
  if (pod.metadata?.deletionTimestamp !== undefined) return false;
  return (pod.metadata?.ownerReferences ?? []).some(
    (owner) => owner.kind === 'ReplicaSet' || owner.kind === 'StatefulSet',
  );
}

export interface ReleaseSnapshot {
  readonly deployments: readonly V1Deployment[];
  readonly statefulSets: readonly V1StatefulSet[];
  readonly pods: readonly V1Pod[];
}

/** One verdict for the whole release: done, or the first reason it is not. */
export function releaseRollout(snapshot: ReleaseSnapshot): RolloutState {
  if (snapshot.deployments.length === 0) {
    return waiting('no Deployment matches the release selector yet');
  }
  const workloads = [
    ...snapshot.deployments.map((d) => ({
      kind: 'deployment',
      object: d,
      state: deploymentRollout(d),
    })),
    ...snapshot.statefulSets.map((s) => ({
      kind: 'statefulset',
      object: s,
      state: statefulSetRollout(s),
    })),
  ];
  for (const { kind, object, state } of workloads) {
    if (!state.done) {
      return { ...state, reason: `${kind}/${object.metadata?.name ?? '?'}: ${state.reason}` };
    }
  }
  for (const pod of snapshot.pods.filter(isServingPod)) {
    const state = podReadiness(pod);
    if (!state.done) return state;
  }
  return done;
}

export interface WaitForReleaseOptions {
  readonly apps: AppsV1Api;
  readonly core: CoreV1Api;
  readonly namespace: string;
  /** e.g. "app.kubernetes.io/instance=chat-system". */
  readonly labelSelector: string;
  readonly timeoutMs: number;
  readonly intervalMs?: number;
  readonly signal?: AbortSignal;
  readonly onWait?: (reason: string) => void;
}

/** Resolves with the final snapshot once every workload of the release has rolled out. */
export async function waitForRelease(options: WaitForReleaseOptions): Promise<ReleaseSnapshot> {
  const { apps, core, namespace, labelSelector } = options;
  const check = async (): Promise<PollOutcome<ReleaseSnapshot>> => {
    const [deployments, statefulSets, pods] = await Promise.all([
      apps.listNamespacedDeployment({ namespace, labelSelector }),
      apps.listNamespacedStatefulSet({ namespace, labelSelector }),
      core.listNamespacedPod({ namespace, labelSelector }),
    ]);
    const snapshot = {
      deployments: deployments.items,
      statefulSets: statefulSets.items,
      pods: pods.items,
    };
    const state = releaseRollout(snapshot);
    if (state.done) return { done: true, value: snapshot };
    return { done: false, reason: state.reason, fatal: state.failed };
  };
  return pollUntil(check, {
    description: `the rollout of ${labelSelector} in namespace ${namespace}`,
    timeoutMs: options.timeoutMs,
    intervalMs: options.intervalMs ?? 2_000,
    ...(options.signal === undefined ? {} : { signal: options.signal }),
    ...(options.onWait === undefined ? {} : { onWait: options.onWait }),
  });
}
