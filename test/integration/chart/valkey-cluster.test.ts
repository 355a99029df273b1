/**
 * The two scripts the chart runs for Valkey in cluster mode, taken from the rendered manifests
 * and run against six private redis-server processes (the same cluster protocol and CLI as
 * Valkey's): the start script of every node (which refreshes its peers' addresses) and the
 * cluster-create hook Job. Each node runs under a temporary directory on free ports, and is
 * killed after the suite.
 */
import { expect } from 'chai';
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { createServer } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { ensureHelm } from '../../../scripts/ensure-helm.js';
import { helmTemplate, named, podTemplates } from '../../support/k8s/manifests.js';
import { until } from '../../support/until.js';

const run = promisify(execFile);
const PASSWORD = 'cluster-test-password';
const SHARDS = 3;
const NODES = SHARDS * 2;

/** A free port whose cluster bus port (+10000) is free too. */
async function freeClusterPort(taken: Set<number>): Promise<number> {
  const listen = (port: number) =>
    new Promise<number>((resolve, reject) => {
      const server = createServer();
      server.once('error', reject);
      server.listen(port, '127.0.0.1', () => {
        const address = server.address();
        server.close(() =>
          typeof address === 'object' && address !== null
            ? resolve(address.port)
            : reject(new Error('no port')),
        );
      });
    });
  for (;;) {
    const port = await listen(0);
    if (port + 10_000 > 65_535 || taken.has(port)) continue;
    if (
      await listen(port + 10_000).then(
        () => true,
        () => false,
      )
    ) {
      taken.add(port);
      return port;
    }
  }
}

interface Node {
  readonly port: number;
  readonly dir: string;
  process?: ChildProcess;
}

interface ClusterNode {
  readonly id: string;
  readonly address: string;
  readonly flags: string[];
  readonly primary: string;
  readonly link: string;
  readonly slots: string;
}

describe('Valkey cluster scripts of the chart, on private redis-server nodes', function () {
  this.timeout(60_000);
  let root: string;
  let startScript: string;
  let createScript: string;
  const nodes: Node[] = [];
  const nodeList = () => nodes.map((node) => `127.0.0.1:${node.port}`).join(' ');

  const cli = async (port: number, ...args: string[]) =>
    (
      await run('redis-cli', ['-p', String(port), '-a', PASSWORD, '--no-auth-warning', ...args])
    ).stdout.replace(/\r/g, '');
  const clusterInfo = async (port: number) =>
    Object.fromEntries(
      (await cli(port, 'cluster', 'info'))
        .split('\n')
        .filter((line) => line.includes(':'))
        .map((line) => line.split(':') as [string, string]),
    );
  const clusterNodes = async (port: number): Promise<ClusterNode[]> =>
    (await cli(port, 'cluster', 'nodes'))
      .trim()
      .split('\n')
      .map((line) => {
        const [id = '', address = '', flags = '', primary = '', , , , link = '', ...slots] =
          line.split(' ');
        return { id, address, flags: flags.split(','), primary, link, slots: slots.join(' ') };
      });
  /**
   * Every node sees the cluster whole: every peer linked on the bus at its real address (a
   * node just restarted reports "ok" until its timeouts expire, so the state alone proves
   * nothing), the slots served by three primaries, each with one replica.
   */
  const healthy = async () => {
    try {
      for (const node of nodes) {
        const info = await clusterInfo(node.port);
        if (info['cluster_state'] !== 'ok' || info['cluster_known_nodes'] !== String(NODES))
          return false;
        const all = await clusterNodes(node.port);
        const linked = all.every(
          (n) =>
            n.address.startsWith('127.0.0.1:') &&
            n.link === 'connected' &&
            !n.flags.some((flag) => ['fail', 'fail?', 'noaddr', 'handshake'].includes(flag)),
        );
        const primaries = all.filter((n) => n.flags.includes('master') && n.slots !== '');
        const replicated = primaries.every(
          (p) => all.filter((n) => n.primary === p.id).length === 1,
        );
        if (!linked || primaries.length !== SHARDS || !replicated) return false;
      }
      return true;
    } catch {
      return false;
    }
  };

  /** The node's start script, as the StatefulSet runs it, with the StatefulSet's cluster flags. */
  const start = async (node: Node) => {
    await mkdir(node.dir, { recursive: true });
    const child = spawn(
      'sh',
      [
        '-c',
        startScript,
        'redis-server',
        '--port',
        String(node.port),
        '--bind',
        '127.0.0.1',
        '--dir',
        node.dir,
        '--appendonly',
        'yes',
        '--save',
        '',
        '--requirepass',
        PASSWORD,
        '--masterauth',
        PASSWORD,
        '--cluster-enabled',
        'yes',
        '--cluster-config-file',
        path.join(node.dir, 'nodes.conf'),
        '--cluster-node-timeout',
        '2000',
        '--cluster-announce-ip',
        '127.0.0.1',
        // Stands for the pod's DNS name: what the peers' addresses are refreshed from.
        '--cluster-announce-hostname',
        'localhost',
      ],
      {
        env: { ...process.env, NODES_CONF: path.join(node.dir, 'nodes.conf'), TMPDIR: node.dir },
        stdio: 'ignore',
      },
    );
    node.process = child;
    await until(
      () =>
        cli(node.port, 'ping').then(
          (out) => out.trim() === 'PONG',
          () => false,
        ),
      10_000,
      100,
    );
  };
  const stop = async (node: Node) => {
    const child = node.process;
    if (child === undefined || child.exitCode !== null) return;
    const exited = new Promise((resolve) => child.once('exit', resolve));
    child.kill('SIGKILL');
    await exited;
  };
  const create = () =>
    run('sh', ['-c', createScript], {
      env: {
        ...process.env,
        NODES: nodeList(),
        REPLICAS: '1',
        CLI: 'redis-cli',
        REDIS_PASSWORD: PASSWORD,
      },
    });
  /** Who serves which slots and who replicates whom, by node id. */
  const topology = async () =>
    (await clusterNodes(nodes[0]!.port))
      .map((n) => [n.id, n.flags.filter((f) => f !== 'myself').join(','), n.primary, n.slots])
      .sort();

  before(async function () {
    this.timeout(300_000);
    const found = await run('sh', ['-c', 'command -v redis-server && command -v redis-cli']).then(
      () => true,
      () => false,
    );
    // redis-server is a package of this machine (the Redis integration suites use it too).
    if (!found) throw new Error('redis-server and redis-cli are needed on PATH');
    const helm = await ensureHelm({ log: (message) => console.log(`      ${message}`) });
    const objects = await helmTemplate(helm, {
      values: [{ redis: { cluster: { enabled: true, shards: SHARDS, replicasPerShard: 1 } } }],
    });
    const valkey = podTemplates([named(objects, 'StatefulSet', 'chat-redis')])[0]!.spec
      .containers[0]!;
    startScript = (valkey['command'] as string[])[2]!;
    const job = podTemplates([named(objects, 'Job', 'chat-redis-cluster-create')])[0]!.spec
      .containers[0]!;
    createScript = (job['command'] as string[])[2]!;
    root = await mkdtemp(path.join(os.tmpdir(), 'valkey-cluster-'));
    const taken = new Set<number>();
    for (let i = 0; i < NODES; i += 1) {
      nodes.push({ port: await freeClusterPort(taken), dir: path.join(root, `node-${i}`) });
    }
    await Promise.all(nodes.map(start));
  });

  after(async () => {
    await Promise.all(nodes.map(stop));
    if (root !== undefined) await rm(root, { recursive: true, force: true });
  });

  it('creates the cluster: three primaries sharing every slot, a replica each', async () => {
    const { stdout } = await create();
    expect(stdout).to.contain('creating the cluster');
    await until(healthy, 20_000, 200);
  });

  it('changes nothing when run again (every upgrade runs it)', async () => {
    const before = await topology();
    const { stdout } = await create();
    expect(stdout).to.not.contain('creating the cluster');
    expect(await topology()).to.deep.equal(before);
  });

  it('finds itself again after every node restarted and every address changed', async () => {
    const before = await topology();
    await Promise.all(nodes.map(stop));
    // What a full restart leaves on the volumes: every peer at an address that is gone.
    for (const node of nodes) {
      const file = path.join(node.dir, 'nodes.conf');
      await writeFile(file, (await readFile(file, 'utf8')).replaceAll('127.0.0.1:', '192.0.2.1:'));
    }
    await Promise.all(nodes.map(start));
    await until(healthy, 30_000, 200);
    expect(await topology()).to.deep.equal(before);
  });

  it('adds a node that lost its volume back as a replica, and forgets its old identity', async () => {
    const lost = nodes[NODES - 1]!;
    const oldId = (await clusterNodes(lost.port)).find((n) => n.flags.includes('myself'))!.id;
    await stop(lost);
    await rm(lost.dir, { recursive: true, force: true });
    await start(lost);
    const { stdout } = await create();
    expect(stdout).to.contain('adding it as a replica');
    await until(healthy, 30_000, 200);
    for (const node of nodes) {
      expect((await clusterNodes(node.port)).map((n) => n.id)).to.not.include(oldId);
    }
  });

  it('lets an upgrade through while a replica is down, waiting for no absent node', async () => {
    const all = await clusterNodes(nodes[0]!.port);
    const replicaPort = Number(
      all
        .find((n) => n.flags.includes('slave'))!
        .address.split('@')[0]!
        .split(':')[1],
    );
    const replica = nodes.find((node) => node.port === replicaPort)!;
    await stop(replica);
    // (A run that waited for the absent node would never end: the test's timeout fails it.)
    const { stdout } = await create();
    expect(stdout).to.contain(`127.0.0.1:${replica.port} does not answer`);
    expect(stdout).to.not.contain('creating the cluster');
    await start(replica);
    await until(healthy, 30_000, 200);
  });
});
