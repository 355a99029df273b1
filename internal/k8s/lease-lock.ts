/**
 * A leader lock on a coordination.k8s.io/v1 Lease, so that only one flusher works at a time
 * when several run at once (a slow run overlapping the next CronJob slot, a manual Job).
 *
 * - tryAcquire() creates the Lease, or takes it over when it is free (released, or its holder
 *   stopped renewing for longer than leaseDurationSeconds) or already ours. Take-overs replace
 *   the Lease carrying the resourceVersion that was read: if anyone wrote it in between, the API
 *   server answers 409 and we lose the race (null), so two contenders never both win.
 * - While held, the Lease is renewed every third of its duration. A failed renewal is retried
 *   quickly; if none succeeds within two thirds of the duration (before anyone else may take the
 *   Lease over), or the Lease turns out to be someone else's, the handle's signal aborts.
 * - release() stops renewing and clears the holder so the next run need not wait for expiry.
 *
 * Expiry is judged from the renewTime written by the holder, so the nodes' clocks are assumed
 * to be in sync (NTP) to well within the duration.
 */
import {
  ApiException,
  CoordinationV1Api,
  KubeConfig,
  V1MicroTime,
  type V1Lease,
  type V1LeaseSpec,
} from '@kubernetes/client-node';
import { readFileSync } from 'node:fs';
import type { LeaderLock, LockHandle } from '../domain/ports.js';

export interface LeaseLockLogger {
  warn(obj: object, msg: string): void;
  info(obj: object, msg: string): void;
}

export interface KubernetesLeaseLockOptions {
  readonly api: CoordinationV1Api;
  readonly namespace: string;
  readonly name: string;
  /** Who holds the Lease: the pod name. */
  readonly identity: string;
  /** leaseDurationSeconds written to the Lease. */
  readonly ttlSeconds: number;
  readonly logger?: LeaseLockLogger;
  readonly now?: () => Date;
}

/** The reason of a handle's aborted signal. */
export class LeaseLostError extends Error {
  constructor(
    readonly lease: string,
    readonly why: string,
  ) {
    super(`Lease ${lease} lost: ${why}`);
    this.name = 'LeaseLostError';
  }
}

const silentLogger: LeaseLockLogger = { warn: () => undefined, info: () => undefined };

export class KubernetesLeaseLock implements LeaderLock {
  private readonly logger: LeaseLockLogger;
  private readonly now: () => Date;

  constructor(private readonly options: KubernetesLeaseLockOptions) {
    if (!Number.isInteger(options.ttlSeconds) || options.ttlSeconds < 1) {
      throw new RangeError(`ttlSeconds must be a positive integer, got ${options.ttlSeconds}`);
    }
    for (const key of ['namespace', 'name', 'identity'] as const) {
      if (options[key] === '') throw new RangeError(`${key} must not be empty`);
    }
    this.logger = options.logger ?? silentLogger;
    this.now = options.now ?? (() => new Date());
  }

  async tryAcquire(): Promise<LockHandle | null> {
    const { api, namespace, name, identity, ttlSeconds } = this.options;
    const now = this.now();
    const current = await readLease(api, namespace, name);

    if (current === null) {
      try {
        const created = await api.createNamespacedLease({
          namespace,
          body: {
            apiVersion: 'coordination.k8s.io/v1',
            kind: 'Lease',
            metadata: { name, namespace },
            spec: heldSpec(undefined, identity, ttlSeconds, now),
          },
        });
        this.logger.info({ lease: name, identity }, 'lease created and acquired');
        return this.hold(created, now);
      } catch (error) {
        if (isStatus(error, 409)) return null; // another contender created it first
        throw error;
      }
    }

    const holder = current.spec?.holderIdentity;
    if (holder !== undefined && holder !== '' && holder !== identity) {
      if (!isExpired(current.spec, now, ttlSeconds)) return null;
      this.logger.info(
        { lease: name, identity, previousHolder: holder },
        'taking over expired lease',
      );
    }
    try {
      const taken = await api.replaceNamespacedLease({
        name,
        namespace,
        body: { ...current, spec: heldSpec(current.spec, identity, ttlSeconds, now) },
      });
      return this.hold(taken, now);
    } catch (error) {
      if (isStatus(error, 409)) return null; // written since we read it: someone else won
      throw error;
    }
  }

  private hold(lease: V1Lease, acquiredAt: Date): LockHandle {
    return new HeldLease(this.options, this.logger, this.now, lease, acquiredAt.getTime());
  }
}

class HeldLease implements LockHandle {
  readonly signal: AbortSignal;
  private readonly controller = new AbortController();
  private readonly ttlMs: number;
  private readonly renewEveryMs: number;
  private readonly retryEveryMs: number;
  private readonly renewDeadlineMs: number;
  private timer: NodeJS.Timeout | undefined;
  private renewal: Promise<void> | undefined;
  private released = false;

  constructor(
    private readonly options: KubernetesLeaseLockOptions,
    private readonly logger: LeaseLockLogger,
    private readonly now: () => Date,
    private lease: V1Lease,
    private lastRenewedAt: number,
  ) {
    this.signal = this.controller.signal;
    this.ttlMs = options.ttlSeconds * 1000;
    this.renewEveryMs = this.ttlMs / 3;
    this.retryEveryMs = Math.max(this.ttlMs / 10, 50);
    this.renewDeadlineMs = (this.ttlMs * 2) / 3;
    this.schedule(this.renewEveryMs);
  }

  async release(): Promise<void> {
    if (this.released) return;
    this.released = true;
    clearTimeout(this.timer);
    await this.renewal;
    if (this.signal.aborted) return; // lost already: nothing of ours to clear

    const { api, namespace, name, identity } = this.options;
    const now = this.now();
    const spec: V1LeaseSpec = {
      ...this.lease.spec,
      leaseDurationSeconds: 1,
      renewTime: micro(now),
    };
    delete spec.holderIdentity;
    try {
      await api.replaceNamespacedLease({ name, namespace, body: { ...this.lease, spec } });
      this.logger.info({ lease: name, identity }, 'lease released');
    } catch (error) {
      if (isStatus(error, 409)) {
        this.logger.info({ lease: name, identity }, 'lease changed meanwhile; left as it is');
      } else {
        // It expires by itself within leaseDurationSeconds.
        this.logger.warn({ lease: name, identity, err: error }, 'could not release lease');
      }
    }
  }

  private schedule(delayMs: number): void {
    if (this.released || this.signal.aborted) return;
    this.timer = setTimeout(() => {
      this.renewal = this.renew().finally(() => {
        this.renewal = undefined;
      });
    }, delayMs);
    // A forgotten handle must not keep the process alive.
    this.timer.unref();
  }

  private async renew(): Promise<void> {
    const { api, namespace, name, identity } = this.options;
    const now = this.now();
    try {
      this.lease = await api.replaceNamespacedLease({
        name,
        namespace,
        body: {
          ...this.lease,
          spec: { ...this.lease.spec, holderIdentity: identity, renewTime: micro(now) },
        },
      });
      this.lastRenewedAt = now.getTime();
      this.schedule(this.renewEveryMs);
      return;
    } catch (error) {
      if (isStatus(error, 404)) return this.lose('the Lease was deleted');
      if (isStatus(error, 409)) {
        // Written by someone else since our last write: still ours (e.g. a label was added)?
        const latest = await readLease(api, namespace, name).catch(() => undefined);
        if (latest === null) return this.lose('the Lease was deleted');
        if (latest !== undefined) {
          const holder = latest.spec?.holderIdentity ?? '';
          if (holder !== identity) return this.lose(`now held by ${holder || 'nobody'}`);
          this.lease = latest;
          this.schedule(0);
          return;
        }
      }
      this.logger.warn({ lease: name, identity, err: error }, 'lease renewal failed');
    }
    if (this.now().getTime() - this.lastRenewedAt >= this.renewDeadlineMs) {
      return this.lose(`not renewed for ${this.renewDeadlineMs / 1000}s`);
    }
    this.schedule(this.retryEveryMs);
  }

  private lose(why: string): void {
    if (this.signal.aborted) return;
    clearTimeout(this.timer);
    const reason = new LeaseLostError(this.options.name, why);
    this.logger.warn({ lease: this.options.name, identity: this.options.identity }, reason.message);
    this.controller.abort(reason);
  }
}

export interface LeaseLockFromClusterOptions {
  /** Default: the namespace of the pod's service account. */
  readonly namespace?: string;
  readonly name: string;
  readonly identity: string;
  readonly ttlSeconds: number;
  readonly logger?: LeaseLockLogger;
}

/** A Lease lock talking to the API server of the cluster this pod runs in. */
export function createLeaseLockFromCluster(
  options: LeaseLockFromClusterOptions,
): KubernetesLeaseLock {
  const kubeConfig = new KubeConfig();
  kubeConfig.loadFromCluster();
  const namespace =
    options.namespace ??
    readFileSync('/var/run/secrets/kubernetes.io/serviceaccount/namespace', 'utf8').trim();
  return new KubernetesLeaseLock({
    api: kubeConfig.makeApiClient(CoordinationV1Api),
    namespace,
    name: options.name,
    identity: options.identity,
    ttlSeconds: options.ttlSeconds,
    ...(options.logger === undefined ? {} : { logger: options.logger }),
  });
}

// ---------------------------------------------------------------------------- helpers

async function readLease(
  api: CoordinationV1Api,
  namespace: string,
  name: string,
): Promise<V1Lease | null> {
  try {
    return await api.readNamespacedLease({ name, namespace });
  } catch (error) {
    if (isStatus(error, 404)) return null;
    throw error;
  }
}

function heldSpec(
  previous: V1LeaseSpec | undefined,
  identity: string,
  ttlSeconds: number,
  now: Date,
): V1LeaseSpec {
  const sameHolder = previous?.holderIdentity === identity;
  const transitions = previous === undefined ? 0 : (previous.leaseTransitions ?? 0) + 1;
  return {
    ...previous,
    holderIdentity: identity,
    leaseDurationSeconds: ttlSeconds,
    acquireTime: sameHolder && previous.acquireTime ? previous.acquireTime : micro(now),
    renewTime: micro(now),
    leaseTransitions: sameHolder ? (previous.leaseTransitions ?? 0) : transitions,
  };
}

/** Free to take: released, never renewed, or not renewed within its duration. */
function isExpired(spec: V1LeaseSpec | undefined, now: Date, fallbackSeconds: number): boolean {
  const renewed = toMillis(spec?.renewTime) ?? toMillis(spec?.acquireTime);
  if (renewed === undefined) return true;
  const durationMs = (spec?.leaseDurationSeconds ?? fallbackSeconds) * 1000;
  return renewed + durationMs < now.getTime();
}

/**
 * Lease times are MicroTime: RFC 3339 with exactly six fractional digits. The client leaves
 * them as received (strings) and sends what it is given, so written times must be V1MicroTime,
 * whose JSON form has the six digits the API server requires.
 */
function micro(date: Date): V1MicroTime {
  return new V1MicroTime(date.getTime());
}

function toMillis(value: unknown): number | undefined {
  if (value instanceof Date) return value.getTime();
  if (typeof value === 'string') {
    const parsed = Date.parse(value);
    return Number.isNaN(parsed) ? undefined : parsed;
  }
  return undefined;
}

function isStatus(error: unknown, code: number): boolean {
  return error instanceof ApiException && error.code === code;
}
