/**
 * The faults of issue 7, each played against the private services while steady load runs.
 * Load sizes and rates are chosen so every fault lands well inside the load.
 */
import { join } from 'node:path';
import { persistedRows } from './verify.js';
import { DATABASE, sleep, type FaultContext, type Scenario } from './harness.js';
import { PARTITION_SCENARIOS } from './partition-scenarios.js';

const WATERMARK = '0.4';

export const SCENARIOS: readonly Scenario[] = [
  {
    id: 1,
    name: 'consumer-paused+flushall',
    total: 6_000,
    perSecond: 500,
    async fault({ load, consumer, services, note }) {
      await load.sentAtLeast(1_000);
      consumer().child.kill('SIGSTOP');
      await sleep(6_000);
      note('backlogAtFlush', load.sent - 1_000);
      await services.redis.command('FLUSHALL');
      await sleep(1_000);
      consumer().child.kill('SIGCONT');
    },
  },
  {
    id: 2,
    name: 'redis-restart-without-persistence',
    total: 6_000,
    perSecond: 500,
    async fault({ load, services }) {
      await load.sentAtLeast(2_000);
      await services.redis.kill();
      await services.redis.restoreFrom(null);
      await sleep(1_000);
      await services.redis.start();
    },
  },
  {
    id: 3,
    name: 'redis-rollback-to-snapshot',
    total: 6_000,
    perSecond: 500,
    async fault({ load, services, note }) {
      await load.sentAtLeast(1_500);
      const snapshot = join(services.root, 'rollback.rdb');
      await services.redis.snapshotTo(snapshot);
      const at = load.sent;
      await sleep(4_000);
      note('sentSinceSnapshot', load.sent - at);
      await services.redis.kill();
      await services.redis.restoreFrom(snapshot);
      await services.redis.start();
    },
  },
  {
    id: 4,
    name: 'rabbitmq-connections-closed+node-restart',
    total: 7_000,
    perSecond: 500,
    async fault({ load, services, note }) {
      await load.sentAtLeast(1_000);
      const closed = await services.rabbit.ctl(['close_all_connections', 'fault suite']);
      note('connectionsClosed', /Closed (\d+)/.exec(closed)?.[1] ?? '?');
      await load.sentAtLeast(3_500);
      await services.rabbit.ctl(['stop_app']);
      try {
        await sleep(3_000);
      } finally {
        await services.rabbit.ctl(['start_app']);
      }
    },
  },
  {
    id: 5,
    name: 'broker-memory-alarm-10s',
    total: 7_000,
    perSecond: 350,
    async fault({ load, services, note }) {
      await load.sentAtLeast(1_000);
      await services.rabbit.ctl(['set_vm_memory_high_watermark', '0.000001']);
      try {
        // The fault must really be there, or a pass would prove nothing.
        const raised = await services.rabbit.alarms();
        note('alarms', raised.join('+') || 'none');
        if (!raised.includes('memory')) throw new Error('the memory alarm was not raised');
        const before = { sent: load.sent, done: load.outcomes.filter((o) => o.doneAt > 0).length };
        await sleep(4_000);
        const done = load.outcomes.filter((o) => o.doneAt > 0).length;
        note('inAlarm4s', `sent:${load.sent - before.sent},answered:${done - before.done}`);
        // What the broker did to each connection (publishers show as blocked or blocking).
        const states = await services.rabbit.ctl([
          '-q',
          'list_connections',
          'state',
          '--formatter',
          'json',
        ]);
        const counts: Record<string, number> = {};
        for (const { state } of JSON.parse(states) as { state: string }[])
          counts[state] = (counts[state] ?? 0) + 1;
        note('connectionStates', JSON.stringify(counts).replace(/"/g, ''));
        await sleep(6_000);
      } finally {
        await services.rabbit.ctl(['set_vm_memory_high_watermark', WATERMARK]);
      }
    },
  },
  {
    id: 6,
    name: 'mysql-restart',
    total: 6_000,
    perSecond: 500,
    async fault({ load, services }) {
      await load.sentAtLeast(1_500);
      await services.mariadb.kill();
      await sleep(3_000);
      await services.mariadb.start();
    },
  },
  {
    id: 7,
    name: 'consumer-sigkill-mid-batch',
    total: 6_000,
    perSecond: 500,
    async fault({ load, consumer, restartConsumer, note }) {
      let kills = 0;
      for (const at of [2_000, 4_000]) {
        await load.sentAtLeast(at);
        // Under steady load the consumer always holds a batch: prefetched, or in a transaction.
        consumer().child.kill('SIGKILL');
        kills++;
        await sleep(1_000);
        await restartConsumer();
      }
      note('kills', kills);
    },
  },
  {
    id: 8,
    name: 'elasticsearch-unavailable-30s',
    total: 8_000,
    perSecond: 200,
    elasticsearch: true,
    async fault(ctx) {
      const es = ctx.es!;
      await ctx.load.sentAtLeast(1_000);
      const start = Date.now();
      es.unavailable = true;
      try {
        await sleep(20_000);
        const readable = await readableDuringOutage(ctx, start + 1_000, start + 10_000);
        ctx.note('readableDuringOutage', `${readable.readable}/${readable.acknowledged}`);
        readableProblems.set(ctx.token, readable.problems);
        await sleep(Math.max(0, start + 30_000 - Date.now()));
      } finally {
        es.unavailable = false;
      }
      ctx.note('refusedByStandIn', es.refused);
    },
    async afterDrain(ctx) {
      const problems = [...(readableProblems.get(ctx.token) ?? [])];
      const index = ctx.env['ELASTICSEARCH_INDEX']!;
      const deadline = Date.now() + 60_000;
      let missing: string[];
      let total: number;
      do {
        const rows = (await persistedRows(ctx.services.mariadb.port, DATABASE, ctx.token)).filter(
          (r) => r.kind === 'message',
        );
        const indexed = new Set(
          [...ctx.es!.fake.documents(index).values()]
            .filter((doc) => doc['application_token'] === ctx.token)
            .map(
              (doc) =>
                `${String(doc['chat_number'])}/${String(doc['number'])}/${String(doc['content'])}`,
            ),
        );
        total = rows.length;
        missing = rows
          .map((r) => `${r.scope}/${r.number}/${r.content}`)
          .filter((id) => !indexed.has(id));
        if (missing.length === 0) break;
        await sleep(1_000);
      } while (Date.now() < deadline);
      ctx.note('indexed', `${total - missing.length}/${total}`);
      if (missing.length > 0)
        problems.push(`${missing.length} persisted messages never indexed, e.g. ${missing[0]}`);
      const found = await searchFinds(ctx);
      if (!found)
        problems.push('a search through the API did not find a message sent during the outage');
      return problems;
    },
  },
  {
    id: 9,
    name: 'redis-cluster-primary-killed-replica-behind',
    total: 6_000,
    perSecond: 500,
    redisCluster: true,
    async fault({ load, redisCluster, env, token, note }) {
      const cluster = redisCluster!;
      await load.sentAtLeast(2_000);
      // The primary holding the application's numbering issues numbers its replica never
      // gets: the replica is stopped and cut off (what it had received is all it will have),
      // the primary goes on for 2 s, then dies. The replica is promoted with that older copy.
      const primary = await cluster.primaryOf(`${env['REDIS_KEY_PREFIX']}{${token}}`);
      const replica = await cluster.replicaOf(primary);
      replica.pause();
      await primary.command('CLIENT', 'KILL', 'TYPE', 'replica');
      const at = load.sent;
      await sleep(2_000);
      note('sentWhileReplicaCutOff', load.sent - at);
      await primary.kill();
      note('killedPrimary', primary.port);
      replica.resume();
      await cluster.settled();
      note('promoted', replica.port);
    },
  },
  ...PARTITION_SCENARIOS,
];

const readableProblems = new Map<string, string[]>();

/**
 * Messages answered 201 in [from, to) of an outage of search must be in MySQL and readable
 * through the API (a sample of them) while the outage goes on.
 */
async function readableDuringOutage(ctx: FaultContext, from: number, to: number) {
  const acked = ctx.load.outcomes.filter(
    (o) => o.kind === 'message' && o.status === 201 && o.doneAt >= from && o.doneAt < to,
  );
  const rows = await persistedRows(ctx.services.mariadb.port, DATABASE, ctx.token);
  const stored = new Set(rows.map((r) => r.content));
  const readable = acked.filter((o) => stored.has(o.content)).length;
  const problems: string[] = [];
  if (acked.length === 0) problems.push('no message was acknowledged during the outage');
  if (readable < acked.length) {
    problems.push(
      `${acked.length - readable} of ${acked.length} messages acknowledged 10 to 19 s earlier ` +
        'were not in MySQL during the search outage',
    );
  }
  const sample = acked.filter((_, i) => i % Math.max(1, Math.floor(acked.length / 20)) === 0);
  let notFound = 0;
  for (const o of sample) {
    const res = await fetch(
      `${ctx.apis[0]}/api/applications/${ctx.token}/chats/${o.chat}/messages/${o.number}`,
    );
    if (res.status !== 200) notFound++;
    await res.arrayBuffer();
  }
  if (notFound > 0)
    problems.push(
      `${notFound} of ${sample.length} sampled GETs did not answer 200 during the outage`,
    );
  return { acknowledged: acked.length, readable, problems };
}

/** Search through the API for the last message acknowledged before the outage ended. */
async function searchFinds(ctx: FaultContext): Promise<boolean> {
  const last = ctx.load.outcomes.findLast((o) => o.kind === 'message' && o.status === 201);
  if (last === undefined) return false;
  const url = new URL(`${ctx.apis[0]}/api/applications/${ctx.token}/chats/${last.chat}/search`);
  url.searchParams.set('q', last.content);
  const res = await fetch(url);
  if (res.status !== 200) return false;
  const hits = (await res.json()) as { number: number }[];
  return hits.some((hit) => hit.number === last.number);
}
