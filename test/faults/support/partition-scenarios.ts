/**
 * Faults of partitioned write queues (RABBITMQ_WRITE_PARTITIONS): N changed under load by a
 * rolling restart of the API replicas, and the node leading a partition's queue killed in a
 * 3-node cluster.
 */
import { createConnection } from 'mysql2/promise';
import { partitionSet } from '../../../internal/domain/partitions.js';
import { DATABASE, sleep, type FaultContext, type Scenario } from './harness.js';

/** Registry rows of the run's write queues (see internal/db/repositories/write-queues.ts). */
async function registry(ctx: FaultContext) {
  const connection = await createConnection({
    host: '127.0.0.1',
    port: ctx.services.mariadb.port,
    user: 'root',
    database: DATABASE,
  });
  try {
    const [rows] = await connection.query(
      'SELECT name, drained_at IS NOT NULL AS drained FROM write_queues WHERE base_queue = ?',
      [ctx.env['RABBITMQ_QUEUE']],
    );
    return new Map(
      (rows as { name: string; drained: number | string }[]).map((r) => [
        r.name,
        Number(r.drained) === 1,
      ]),
    );
  } finally {
    await connection.end();
  }
}

/** Consumers and messages per queue, as the broker reports them. */
async function consumersOf(ctx: FaultContext) {
  const out = await ctx.services.rabbit.ctl([
    '-q',
    'list_queues',
    'name',
    'consumers',
    'messages',
    '--formatter',
    'json',
  ]);
  return new Map(
    (JSON.parse(out) as { name: string; consumers: number; messages: number }[]).map((q) => [
      q.name,
      q,
    ]),
  );
}

/** Moves the load to `next`, lets what was sent to the others answer, then stops them. */
async function rollTo(ctx: FaultContext, current: readonly string[], next: readonly string[]) {
  // Half way first: old and new replicas answer side by side, as in a rolling update.
  ctx.load.useApis([current[0]!, next[0]!]);
  await ctx.load.sentAtLeast(ctx.load.sent + 800);
  ctx.load.useApis(next);
  await sleep(1_500);
  await Promise.all(current.map((api) => ctx.stopApi(api)));
}

export const PARTITION_SCENARIOS: readonly Scenario[] = [
  {
    id: 10,
    name: 'write-partitions-changed-1-to-4-to-2',
    total: 8_000,
    perSecond: 400,
    async fault(ctx) {
      const { load, apis, note } = ctx;
      await load.sentAtLeast(1_200);
      const four = await Promise.all(
        [1, 2].map(() => ctx.launchApi({ RABBITMQ_WRITE_PARTITIONS: '4' })),
      );
      await rollTo(ctx, apis, four);
      note('rolledTo4At', load.sent);
      await load.sentAtLeast(load.sent + 1_500);
      const two = await Promise.all(
        [1, 2].map(() => ctx.launchApi({ RABBITMQ_WRITE_PARTITIONS: '2' })),
      );
      await rollTo(ctx, four, two);
      note('rolledTo2At', load.sent);
    },
    async afterDrain(ctx) {
      const base = ctx.env['RABBITMQ_QUEUE']!;
      const four = partitionSet(base, 4).queues;
      const two = partitionSet(base, 2).queues;
      const problems: string[] = [];
      // The 4-set's queues retire once no API holds them (lease + create deadline + margin),
      // are drained by a mark, and are left by the consumer.
      const deadline = Date.now() + 90_000;
      let rows = await registry(ctx);
      let queues = await consumersOf(ctx);
      const retired = () =>
        four.every((q) => rows.get(q) === true && queues.get(q)?.consumers === 0);
      while (!retired() && Date.now() < deadline) {
        await sleep(1_000);
        rows = await registry(ctx);
        queues = await consumersOf(ctx);
      }
      ctx.note(
        'set4',
        four
          .map(
            (q) =>
              `${rows.get(q) === true ? 'drained' : 'live'}/${queues.get(q)?.consumers ?? '?'}c`,
          )
          .join(','),
      );
      if (!retired()) problems.push('the queues of N=4 were not drained and left in time');
      for (const q of four) {
        if ((queues.get(q)?.messages ?? 0) !== 0) problems.push(`${q} still holds messages`);
        // Never deleted by the system: an operator may remove a drained, empty queue.
        if (!queues.has(q)) problems.push(`${q} was deleted`);
      }
      for (const q of [base, ...two]) {
        if (rows.get(q) === true) problems.push(`${q} is in use and yet marked drained`);
        if ((queues.get(q)?.consumers ?? 0) === 0) problems.push(`${q} is not consumed`);
      }
      return problems;
    },
  },
  {
    id: 11,
    name: 'cluster-partition-leader-kill-9',
    broker: 'cluster',
    env: { RABBITMQ_WRITE_PARTITIONS: '4' },
    total: 6_000,
    perSecond: 400,
    async fault(ctx) {
      const cluster = ctx.services.cluster!;
      const queue = partitionSet(ctx.env['RABBITMQ_QUEUE']!, 4).queues[0]!;
      await ctx.load.sentAtLeast(1_000);
      // Every process declares every partition, so the first to connect leads them all; an
      // operator spreads the leaders (README, "Partitioned write queues").
      await cluster.rebalance();
      await ctx.load.sentAtLeast(2_000);
      const before = (await cluster.queues()).find((q) => q.name === queue);
      if (before === undefined) throw new Error(`${queue} was not declared`);
      const leaders = new Set(
        (await cluster.queues()).filter((q) => q.name.includes('.p')).map((q) => q.leader),
      );
      ctx.note('replicas', before.members.length);
      ctx.note('partitionLeaders', leaders.size);
      const node = cluster.nodeNamed(before.leader);
      if (node === undefined) throw new Error(`no node named ${before.leader}`);
      await node.kill();
      const killedAt = ctx.load.sent;
      await sleep(8_000);
      const after = (await cluster.queues()).find((q) => q.name === queue);
      ctx.note('leaderMoved', after !== undefined && after.leader !== before.leader ? 'yes' : 'no');
      ctx.note('sentWhileDown', ctx.load.sent - killedAt);
      replicas.set(ctx.token, {
        leaders: leaders.size,
        members: before.members.length,
        moved: after !== undefined && after.leader !== before.leader,
      });
      // The node comes back (its data kept) and rejoins, under load.
      await node.start();
      await cluster.awaitMembers(3);
    },
    afterDrain(ctx) {
      const seen = replicas.get(ctx.token);
      const problems: string[] = [];
      if (seen === undefined || seen.members !== 3)
        problems.push(`the partition had ${seen?.members ?? '?'} replicas, not 3`);
      if (seen?.moved !== true)
        problems.push("the partition's leader did not move off the killed node");
      return Promise.resolve(problems);
    },
  },
];

const replicas = new Map<string, { leaders: number; members: number; moved: boolean }>();
