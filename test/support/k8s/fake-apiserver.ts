/**
 * A small in-process stand-in for the Kubernetes API server, on a real HTTP socket, for the
 * parts this project talks to:
 *
 * - coordination.k8s.io/v1 Leases: GET, POST (409 AlreadyExists), PUT with resourceVersion
 *   compare-and-swap (409 Conflict on a stale version, 422 without one), 404 NotFound, and the
 *   API server's MicroTime format check on acquireTime/renewTime;
 * - read-only lists of Deployments, StatefulSets and Pods with equality label selectors, whose
 *   content the tests set (and change over time) to play a rollout.
 *
 * Tests can delay or fail any request (`beforeRespond`, `failWith`) to stage races and outages.
 */
import { KubeConfig } from '@kubernetes/client-node';
import http from 'node:http';
import type { AddressInfo } from 'node:net';

export interface FakeRequest {
  readonly method: string;
  readonly path: string;
  readonly body: Record<string, unknown> | undefined;
}

type KubeObject = Record<string, unknown> & { metadata?: Record<string, unknown> };

const MICRO_TIME = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{6}(Z|[+-]\d{2}:\d{2})$/;
const LEASES = /^\/apis\/coordination\.k8s\.io\/v1\/namespaces\/([^/]+)\/leases(?:\/([^/]+))?$/;
const LISTS: readonly { pattern: RegExp; kind: string; apiVersion: string }[] = [
  {
    pattern: /^\/apis\/apps\/v1\/namespaces\/([^/]+)\/deployments$/,
    kind: 'DeploymentList',
    apiVersion: 'apps/v1',
  },
  {
    pattern: /^\/apis\/apps\/v1\/namespaces\/([^/]+)\/statefulsets$/,
    kind: 'StatefulSetList',
    apiVersion: 'apps/v1',
  },
  { pattern: /^\/api\/v1\/namespaces\/([^/]+)\/pods$/, kind: 'PodList', apiVersion: 'v1' },
];

export class FakeKubeApiServer {
  /** Stored Leases by "namespace/name". */
  readonly leases = new Map<string, KubeObject>();
  /** Objects served by the list endpoints, by kind ("Deployment", "StatefulSet", "Pod"). */
  readonly objects = new Map<string, object[]>();
  /** Every request received, in order. */
  readonly requests: FakeRequest[] = [];
  /** Awaited before a request is answered (to hold requests and stage races). */
  beforeRespond: ((request: FakeRequest) => Promise<void> | void) | undefined;
  /** Return a status code to fail the request with it instead of serving it. */
  failWith: ((request: FakeRequest) => number | undefined) | undefined;

  private readonly server = http.createServer((req, res) => {
    this.handle(req, res).catch((error: unknown) => {
      res.writeHead(500).end(String(error));
    });
  });
  private version = 100;
  private url: string | undefined;

  async start(): Promise<string> {
    await new Promise<void>((resolve) => this.server.listen(0, '127.0.0.1', resolve));
    const { port } = this.server.address() as AddressInfo;
    this.url = `http://127.0.0.1:${port}`;
    return this.url;
  }

  async close(): Promise<void> {
    this.server.closeAllConnections();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }

  /** A KubeConfig whose only cluster is this server. */
  kubeConfig(): KubeConfig {
    if (this.url === undefined) throw new Error('start() the fake API server first');
    const kubeConfig = new KubeConfig();
    kubeConfig.loadFromOptions({
      clusters: [{ name: 'fake', server: this.url, skipTLSVerify: true }],
      users: [{ name: 'tester', token: 'fake-token' }],
      contexts: [{ name: 'fake', cluster: 'fake', user: 'tester', namespace: 'default' }],
      currentContext: 'fake',
    });
    return kubeConfig;
  }

  /** Stores or overwrites a Lease as another client would, bumping its resourceVersion. */
  putLease(namespace: string, name: string, spec: Record<string, unknown>): KubeObject {
    const existing = this.leases.get(`${namespace}/${name}`);
    const lease: KubeObject = {
      apiVersion: 'coordination.k8s.io/v1',
      kind: 'Lease',
      metadata: { ...existing?.metadata, name, namespace, resourceVersion: this.nextVersion() },
      spec,
    };
    this.leases.set(`${namespace}/${name}`, lease);
    return lease;
  }

  lease(namespace: string, name: string): KubeObject | undefined {
    return this.leases.get(`${namespace}/${name}`);
  }

  private nextVersion(): string {
    this.version += 1;
    return String(this.version);
  }

  private async handle(req: http.IncomingMessage, res: http.ServerResponse): Promise<void> {
    const url = new URL(req.url ?? '/', 'http://fake');
    const chunks: Buffer[] = [];
    for await (const chunk of req) chunks.push(chunk as Buffer);
    const text = Buffer.concat(chunks).toString('utf8');
    const request: FakeRequest = {
      method: req.method ?? 'GET',
      path: url.pathname,
      body: text === '' ? undefined : (JSON.parse(text) as Record<string, unknown>),
    };
    this.requests.push(request);
    await this.beforeRespond?.(request);

    const send = (code: number, body: unknown) => {
      res.writeHead(code, { 'content-type': 'application/json' }).end(JSON.stringify(body));
    };
    const failure = (code: number, reason: string, message: string) =>
      send(code, { kind: 'Status', apiVersion: 'v1', status: 'Failure', reason, message, code });

    const injected = this.failWith?.(request);
    if (injected !== undefined) return failure(injected, 'InternalError', 'injected failure');

    const lease = LEASES.exec(url.pathname);
    if (lease !== null) {
      return this.handleLease(request, lease[1] ?? '', lease[2], send, failure);
    }
    for (const list of LISTS) {
      const match = list.pattern.exec(url.pathname);
      if (match === null || request.method !== 'GET') continue;
      const namespace = match[1];
      const selector = parseSelector(url.searchParams.get('labelSelector'));
      const kind = list.kind.replace(/List$/, '');
      const items = (this.objects.get(kind) ?? []).filter((item) => {
        const metadata = (item as KubeObject).metadata ?? {};
        const labels = (metadata['labels'] ?? {}) as Record<string, string>;
        return (
          metadata['namespace'] === namespace &&
          Object.entries(selector).every(([key, value]) => labels[key] === value)
        );
      });
      return send(200, {
        apiVersion: list.apiVersion,
        kind: list.kind,
        metadata: { resourceVersion: String(this.version) },
        items,
      });
    }
    return failure(404, 'NotFound', `no route for ${request.method} ${url.pathname}`);
  }

  private handleLease(
    request: FakeRequest,
    namespace: string,
    name: string | undefined,
    send: (code: number, body: unknown) => void,
    failure: (code: number, reason: string, message: string) => void,
  ): void {
    const key = (leaseName: string) => `${namespace}/${leaseName}`;
    const badTime = (body: KubeObject | undefined): string | undefined => {
      const spec = (body?.['spec'] ?? {}) as Record<string, unknown>;
      for (const field of ['acquireTime', 'renewTime']) {
        const value = spec[field];
        if (value !== undefined && (typeof value !== 'string' || !MICRO_TIME.test(value))) {
          return `spec.${field}: Invalid value: ${JSON.stringify(value)}: must be a MicroTime`;
        }
      }
      return undefined;
    };

    if (request.method === 'GET' && name !== undefined) {
      const stored = this.leases.get(key(name));
      return stored === undefined
        ? failure(404, 'NotFound', `leases.coordination.k8s.io "${name}" not found`)
        : send(200, stored);
    }
    const body = request.body as KubeObject | undefined;
    const metadata = body?.metadata ?? {};
    if (request.method === 'POST' && name === undefined) {
      const newName = metadata['name'];
      if (typeof newName !== 'string') return failure(422, 'Invalid', 'metadata.name: Required');
      const invalid = badTime(body);
      if (invalid !== undefined) return failure(400, 'BadRequest', invalid);
      if (this.leases.has(key(newName))) {
        return failure(
          409,
          'AlreadyExists',
          `leases.coordination.k8s.io "${newName}" already exists`,
        );
      }
      const created: KubeObject = {
        ...body,
        metadata: {
          ...metadata,
          namespace,
          resourceVersion: this.nextVersion(),
          uid: `uid-${newName}`,
          creationTimestamp: new Date().toISOString().replace(/\.\d+Z$/, 'Z'),
        },
      };
      this.leases.set(key(newName), created);
      return send(201, created);
    }
    if (request.method === 'PUT' && name !== undefined) {
      const stored = this.leases.get(key(name));
      if (stored === undefined) {
        return failure(404, 'NotFound', `leases.coordination.k8s.io "${name}" not found`);
      }
      if (metadata['name'] !== name)
        return failure(400, 'BadRequest', 'name does not match the URL');
      const sentVersion = metadata['resourceVersion'];
      if (typeof sentVersion !== 'string' || sentVersion === '') {
        return failure(422, 'Invalid', 'metadata.resourceVersion: must be specified for an update');
      }
      const invalid = badTime(body);
      if (invalid !== undefined) return failure(400, 'BadRequest', invalid);
      if (sentVersion !== stored.metadata?.['resourceVersion']) {
        return failure(
          409,
          'Conflict',
          `Operation cannot be fulfilled on leases.coordination.k8s.io "${name}": the object has been modified`,
        );
      }
      const replaced: KubeObject = {
        ...body,
        metadata: { ...stored.metadata, ...metadata, resourceVersion: this.nextVersion() },
      };
      this.leases.set(key(name), replaced);
      return send(200, replaced);
    }
    return failure(405, 'MethodNotAllowed', `${request.method} not supported here`);
  }
}

function parseSelector(selector: string | null): Record<string, string> {
  const result: Record<string, string> = {};
  for (const term of (selector ?? '').split(',')) {
    if (term === '') continue;
    const [key, value] = term.split('=');
    if (key === undefined || value === undefined || term.includes('!')) {
      throw new Error(`the fake supports equality selectors only, got ${term}`);
    }
    result[key] = value;
  }
  return result;
}
