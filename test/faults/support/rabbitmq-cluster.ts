/**
 * A private 3-node RabbitMQ cluster for the fault suite: three PrivateRabbit nodes (own node
 * names, AMQP and distribution ports, data and log dirs, config files, no plugins) sharing one
 * Erlang cookie, started in parallel, the second and third joined to the first with
 * `rabbitmqctl join_cluster`. Never the machine's shared broker.
 */
import { randomBytes } from 'node:crypto';
import { rm } from 'node:fs/promises';
import { join } from 'node:path';
import { freePort, PrivateRabbit, type PrivateBroker } from './services.js';

export class PrivateRabbitCluster implements PrivateBroker {
  readonly nodes: readonly PrivateRabbit[];

  private constructor(nodes: PrivateRabbit[]) {
    this.nodes = nodes;
  }

  static async create(dir: string, size = 3): Promise<PrivateRabbitCluster> {
    const cookie = randomBytes(24).toString('hex').toUpperCase();
    const nodes: PrivateRabbit[] = [];
    for (let i = 0; i < size; i += 1) {
      nodes.push(
        new PrivateRabbit(join(dir, `node${i}`), await freePort(), await freePort(), cookie),
      );
    }
    return new PrivateRabbitCluster(nodes);
  }

  /** Every node's URL, comma-separated: what RABBITMQ_URL takes for a cluster. */
  get url(): string {
    return this.nodes.map((node) => node.url).join(',');
  }

  async start(): Promise<void> {
    await Promise.all(this.nodes.map((node) => node.prepare().then(() => node.start())));
    const [first, ...others] = this.nodes;
    // One join at a time: each changes the cluster's membership.
    for (const node of others) {
      await node.ctl(['stop_app']);
      await node.ctl(['join_cluster', first!.node]);
      await node.ctl(['start_app']);
    }
    await this.awaitMembers(this.nodes.length);
  }

  /** Waits until a living node reports `count` running nodes. */
  async awaitMembers(count: number, timeoutMs = 60_000): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const running = await this.runningNodes().catch(() => []);
      if (running.length >= count) return;
      if (Date.now() > deadline) throw new Error(`cluster has ${running.length} of ${count} nodes`);
      await new Promise((resolve) => setTimeout(resolve, 500));
    }
  }

  async runningNodes(): Promise<string[]> {
    const out = await this.ctl(['-q', 'cluster_status', '--formatter', 'json']);
    const status = JSON.parse(out) as { running_nodes?: string[] };
    return status.running_nodes ?? [];
  }

  /** rabbitmqctl against the first node still running. */
  ctl(args: string[], timeoutMs = 60_000): Promise<string> {
    const node = this.nodes.find((n) => n.running);
    if (node === undefined) return Promise.reject(new Error('no cluster node is running'));
    return node.ctl(args, timeoutMs);
  }

  /**
   * Moves quorum queue leaders so that each node leads its share, as an operator does after
   * queues were declared through one node (`rabbitmq-queues rebalance quorum`).
   */
  async rebalance(): Promise<void> {
    const node = this.nodes.find((n) => n.running);
    if (node === undefined) throw new Error('no cluster node is running');
    await node.queuesCtl(['rebalance', 'quorum']);
  }

  /** Each queue's leader node and members (quorum queues), from a living node. */
  async queues(): Promise<{ name: string; leader: string; members: string[]; messages: number }[]> {
    const out = await this.ctl([
      '-q',
      'list_queues',
      'name',
      'leader',
      'members',
      'messages',
      '--formatter',
      'json',
    ]);
    return (
      JSON.parse(out) as { name: string; leader: string; members: string[]; messages: number }[]
    ).map((q) => ({ ...q, members: q.members ?? [] }));
  }

  /** Messages in a queue (ready and unacknowledged); null when it does not exist. */
  async depth(queue: string): Promise<number | null> {
    return this.anyRunning().depth(queue);
  }

  async depths(): Promise<Map<string, number>> {
    return this.anyRunning().depths();
  }

  /** Any node still running: each answers for the whole cluster. */
  private anyRunning(): PrivateRabbit {
    const node = this.nodes.find((n) => n.running);
    if (node === undefined) throw new Error('no cluster node is running');
    return node;
  }

  nodeNamed(name: string): PrivateRabbit | undefined {
    return this.nodes.find((node) => node.node === name);
  }

  /** Starts the nodes that are down again; they rejoin with their data. */
  async heal(): Promise<void> {
    await Promise.all(this.nodes.filter((n) => !n.running).map((n) => n.start()));
    await this.awaitMembers(this.nodes.length);
  }

  async stop(dir?: string): Promise<void> {
    await Promise.allSettled(this.nodes.map((node) => node.stop()));
    if (dir !== undefined) await rm(dir, { recursive: true, force: true });
  }
}
