/**
 * A private Redis Cluster (3 primaries, each with one replica) from the machine's
 * redis-server, for the suites that run the Redis code against a cluster and for the
 * failover scenario. Never the shared Redis: this one is killed and failed over.
 */
import { execFile } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
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
}

export class PrivateRedisCluster {
  private constructor(
    readonly dir: string,
    readonly nodes: readonly PrivateRedis[],
  ) {}

  static async start(options: RedisClusterOptions = {}): Promise<PrivateRedisCluster> {
    const primaries = options.primaries ?? 3;
    const dir = await mkdtemp(join(tmpdir(), 'chat-system-redis-cluster-'));
    // Each node's daemon reaps itself on exit: one listener per node.
    process.setMaxListeners(Math.max(process.getMaxListeners(), 32));
    const ports = await clusterPorts(options.fromPort ?? 27_100, primaries * 2);
    const nodes = ports.map(
      (port) =>
        new PrivateRedis(join(dir, String(port)), port, [
          '--cluster-enabled',
          'yes',
          '--cluster-config-file',
          `nodes-${port}.conf`,
          '--cluster-node-timeout',
          String(options.nodeTimeoutMs ?? 1_000),
          // A replica takes over however long it was cut off from its primary.
          '--cluster-replica-validity-factor',
          '0',
        ]),
    );
    const cluster = new PrivateRedisCluster(dir, nodes);
    try {
      await Promise.all(nodes.map((node) => node.start()));
      await run('redis-cli', [
        '--cluster',
        'create',
        ...ports.map((port) => `127.0.0.1:${port}`),
        '--cluster-replicas',
        '1',
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
