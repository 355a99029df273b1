/**
 * A private Redis Cluster (3 primaries, each with one replica) from the machine's
 * redis-server, for the suites that run the Redis code against a cluster and for the
 * failover scenario. Never the shared Redis: this one is killed and failed over.
 */
import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { PrivateRedis, until } from './services.js';

const run = promisify(execFile);

/** Whether `port` can be bound on 127.0.0.1 now. */
function portFree(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const server = createServer();
    server.once('error', () => resolve(false));
    server.listen(port, '127.0.0.1', () => server.close(() => resolve(true)));
  });
}

/** `count` ports from `from` whose cluster bus ports (+10000) are free too. */
async function clusterPorts(from: number, count: number): Promise<number[]> {
  const ports: number[] = [];
  for (let port = from; ports.length < count && port < from + 2_000; port += 1) {
    if ((await portFree(port)) && (await portFree(port + 10_000))) ports.push(port);
  }
  if (ports.length < count) throw new Error(`no ${count} free cluster ports from ${from}`);
  return ports;
}

export interface RedisClusterOptions {
  /** First port tried (each node's bus port is 10000 above its port). */
  readonly fromPort?: number;
  readonly primaries?: number;
  /** How long a node may be unreachable before its replica takes over. */
  readonly nodeTimeoutMs?: number;
  /** Replicas per primary (default 1). */
  readonly replicas?: number;
  /**
   * TLS only (client, bus and replication links, certificates from a CA made for the run)
   * and a password for the default user.
   */
  readonly secure?: boolean;
}

/** What clients of a secure cluster need: the CA's PEM file and the default user's password. */
export interface ClusterSecrets {
  readonly caFile: string;
  readonly password: string;
}

/** A CA and one certificate for 127.0.0.1 signed by it, made with openssl in `dir`. */
async function makeCertificates(dir: string): Promise<{ ca: string; cert: string; key: string }> {
  const at = (name: string) => join(dir, name);
  await writeFile(at('ext.cnf'), 'subjectAltName=IP:127.0.0.1\n');
  const subject = (cn: string) => ['-subj', `/CN=${cn}`];
  await run('openssl', [
    ...['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-days', '2'],
    ...['-keyout', at('ca.key'), '-out', at('ca.crt'), ...subject('chat-system test CA')],
  ]);
  await run('openssl', [
    ...['req', '-newkey', 'rsa:2048', '-nodes', '-keyout', at('node.key')],
    ...['-out', at('node.csr'), ...subject('127.0.0.1')],
  ]);
  await run('openssl', [
    ...['x509', '-req', '-in', at('node.csr'), '-CA', at('ca.crt'), '-CAkey', at('ca.key')],
    ...['-CAcreateserial', '-out', at('node.crt'), '-days', '2', '-extfile', at('ext.cnf')],
  ]);
  return { ca: at('ca.crt'), cert: at('node.crt'), key: at('node.key') };
}

export class PrivateRedisCluster {
  private constructor(
    readonly dir: string,
    readonly nodes: readonly PrivateRedis[],
    /** Set for a secure cluster. */
    readonly secrets: ClusterSecrets | null,
  ) {}

  static async start(options: RedisClusterOptions = {}): Promise<PrivateRedisCluster> {
    const primaries = options.primaries ?? 3;
    const replicas = options.replicas ?? 1;
    const dir = await mkdtemp(join(tmpdir(), 'chat-system-redis-cluster-'));
    // Each node's daemon reaps itself on exit: one listener per node.
    process.setMaxListeners(Math.max(process.getMaxListeners(), 32));
    const ports = await clusterPorts(options.fromPort ?? 27_100, primaries * (1 + replicas));
    let secrets: ClusterSecrets | null = null;
    let secureArgs: string[] = [];
    let cliArgs: string[] = [];
    if (options.secure === true) {
      const files = await makeCertificates(dir);
      secrets = { caFile: files.ca, password: randomBytes(16).toString('hex') };
      secureArgs = [
        ...['--tls-cert-file', files.cert, '--tls-key-file', files.key],
        ...['--tls-ca-cert-file', files.ca, '--tls-auth-clients', 'no'],
        ...['--tls-cluster', 'yes', '--tls-replication', 'yes'],
        ...['--requirepass', secrets.password, '--masterauth', secrets.password],
      ];
      cliArgs = ['--tls', '--cacert', files.ca, '-a', secrets.password, '--no-auth-warning'];
    }
    const access =
      secrets === null ? {} : { ca: await readFile(secrets.caFile), password: secrets.password };
    const nodes = ports.map(
      (port) =>
        new PrivateRedis(
          join(dir, String(port)),
          port,
          [
            // TLS only: the port given is the TLS port, the plain one is off.
            ...(secrets === null ? [] : ['--port', '0', '--tls-port', String(port), ...secureArgs]),
            '--cluster-enabled',
            'yes',
            '--cluster-config-file',
            `nodes-${port}.conf`,
            '--cluster-node-timeout',
            String(options.nodeTimeoutMs ?? 1_000),
            // A replica takes over however long it was cut off from its primary.
            '--cluster-replica-validity-factor',
            '0',
          ],
          access,
        ),
    );
    const cluster = new PrivateRedisCluster(dir, nodes, secrets);
    try {
      await Promise.all(nodes.map((node) => node.start()));
      await run('redis-cli', [
        ...cliArgs,
        '--cluster',
        'create',
        ...ports.map((port) => `127.0.0.1:${port}`),
        '--cluster-replicas',
        String(replicas),
        '--cluster-yes',
      ]);
      await cluster.settled();
    } catch (err) {
      await cluster.stop();
      throw err;
    }
    return cluster;
  }

  /** Seed nodes, as REDIS_CLUSTER_NODES takes them. */
  get seeds(): string {
    return this.nodes.map((node) => `127.0.0.1:${node.port}`).join(',');
  }

  /** Every live node says the cluster is ok and every slot is served. */
  async settled(timeoutMs = 30_000): Promise<void> {
    await until(
      'redis cluster',
      async () => {
        for (const node of this.nodes) {
          if (!(await node.healthy())) continue;
          const info = String(await node.command('CLUSTER', 'INFO'));
          if (!/cluster_state:ok/.test(info) || !/cluster_slots_ok:16384/.test(info)) return false;
        }
        return true;
      },
      timeoutMs,
    );
  }

  /** The node serving `key`'s slot as primary, as a live node sees the cluster. */
  async primaryOf(key: string): Promise<PrivateRedis> {
    for (const node of this.nodes) {
      if (!(await node.healthy())) continue;
      const slot = Number(await node.command('CLUSTER', 'KEYSLOT', key));
      const ranges = (await node.command('CLUSTER', 'SLOTS')) as [
        number,
        number,
        [string, number],
      ][];
      const port = ranges.find(([from, to]) => slot >= from && slot <= to)?.[2][1];
      const primary = this.nodes.find((n) => n.port === port);
      if (primary !== undefined) return primary;
    }
    throw new Error(`no live node knows who serves ${key}`);
  }

  /** The live nodes that are primaries now. */
  async primaries(): Promise<PrivateRedis[]> {
    const found: PrivateRedis[] = [];
    for (const node of this.nodes) {
      if (!(await node.healthy())) continue;
      const role = (await node.command('ROLE')) as unknown[];
      if (role[0] === 'master') found.push(node);
    }
    return found;
  }

  /** The replica of `primary`, as the primary sees it. */
  async replicaOf(primary: PrivateRedis): Promise<PrivateRedis> {
    const info = String(await primary.command('INFO', 'replication'));
    const port = Number(/slave0:ip=[^,]+,port=(\d+)/.exec(info)?.[1]);
    const replica = this.nodes.find((n) => n.port === port);
    if (replica === undefined) throw new Error(`no replica of ${primary.port}: ${info}`);
    return replica;
  }

  async stop(): Promise<void> {
    await Promise.all(this.nodes.map((node) => node.kill()));
    await rm(this.dir, { recursive: true, force: true });
  }
}
