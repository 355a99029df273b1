/**
 * What one create costs Redis, on a private standalone Redis and on a private 3-primary
 * cluster (nothing else talks to them, so their counters are the API's alone): the commands
 * the API sends per create (scripts and plain commands, as INFO commandstats counts them;
 * commands a script runs count separately) and Redis CPU time per create (INFO cpu, every
 * primary together). Figures for the capacity model (docs/capacity.md).
 */
import autocannon from 'autocannon';
import { readFileSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  removeIsolatedResources,
  startProgram,
  stopProgram,
  waitReady,
} from '../test/e2e/support/system.js';
import { isolatedEnv, uniqueSuffix } from '../test/support/environment.js';
import { PrivateRedis, freePort } from '../test/faults/support/services.js';
import { PrivateRedisCluster } from '../test/faults/support/redis-cluster.js';
import { postJson } from './measure.js';

export interface RedisCost {
  readonly creates: number;
  /** Calls per create by command, top-level and inside scripts (`evalsha`, `info`, …). */
  readonly callsPerCreate: Readonly<Record<string, number>>;
  /** Redis CPU (user + sys) per create, in µs, all primaries together. */
  readonly cpuMicrosPerCreate: number;
  /** The API process's CPU (user + sys) per create, in µs: creates per second per API core. */
  readonly apiCpuMicrosPerCreate: number;
}

/** CPU seconds (user + sys) a process has used, from /proc (clock ticks of 1/100 s). */
function processCpuSeconds(pid: number): number {
  const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]?.split(' ') ?? [];
  // After the command name: state is field 3, utime 14 and stime 15 (1-based, man proc).
  return (Number(fields[11]) + Number(fields[12])) / 100;
}

export interface RedisCostFigures {
  readonly standalone: RedisCost;
  readonly cluster: RedisCost;
}

// The client's own housekeeping (connection set-up, slot maps, readiness), not the creates'.
const HOUSEKEEPING = new Set([
  'cluster',
  'ping',
  'config',
  'command',
  'client',
  'hello',
  'select',
  'replconf',
]);

interface Counters {
  calls: Map<string, number>;
  cpuSeconds: number;
}

async function counters(nodes: readonly PrivateRedis[]): Promise<Counters> {
  const calls = new Map<string, number>();
  let cpuSeconds = 0;
  for (const node of nodes) {
    const stats = String(await node.command('INFO', 'commandstats'));
    for (const [, name, n] of stats.matchAll(/^cmdstat_([a-z|]+):calls=(\d+)/gm)) {
      if (name === undefined || HOUSEKEEPING.has(name.split('|')[0] ?? '')) continue;
      calls.set(name, (calls.get(name) ?? 0) + Number(n));
    }
    const cpu = String(await node.command('INFO', 'cpu'));
    cpuSeconds +=
      Number(/used_cpu_user:([0-9.]+)/.exec(cpu)?.[1] ?? 0) +
      Number(/used_cpu_sys:([0-9.]+)/.exec(cpu)?.[1] ?? 0);
  }
  return { calls, cpuSeconds };
}

async function measure(
  redisEnv: Record<string, string>,
  primaries: () => Promise<readonly PrivateRedis[]>,
  creates: number,
): Promise<RedisCost> {
  const env = {
    ...isolatedEnv('bench-redis', uniqueSuffix()),
    ...redisEnv,
    RATE_LIMIT_ENABLED: 'false',
  };
  const api = startProgram('api', env, [], { compiled: true });
  try {
    const base = `http://127.0.0.1:${await api.port}`;
    await waitReady(base, 60_000);
    const post = (path: string, body: unknown) => postJson(base, path, body);
    const app = await post('/api/applications', { application_name: 'redis cost' });
    const token = String(app['application_token']);
    const chat = await post(`/api/applications/${token}/chats`, {});
    const path = `/api/applications/${token}/chats/${String(chat['chat_number'])}/messages`;
    // Warm: scripts loaded, blocks reserved past their smallest sizes.
    await autocannon({
      url: `${base}${path}`,
      method: 'POST',
      connections: 16,
      amount: 1_000,
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ message_content: 'warm' }),
    });
    const nodes = await primaries();
    const pid = api.child.pid ?? 0;
    const before = await counters(nodes);
    const apiBefore = processCpuSeconds(pid);
    const result = await autocannon({
      url: `${base}${path}`,
      method: 'POST',
      connections: 32,
      amount: creates,
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ message_content: 'what one create costs Redis' }),
    });
    const apiAfter = processCpuSeconds(pid);
    const after = await counters(nodes);
    const created = result['2xx'];
    const callsPerCreate: Record<string, number> = {};
    for (const [name, n] of after.calls) {
      const delta = n - (before.calls.get(name) ?? 0);
      if (delta > 0) callsPerCreate[name] = Number((delta / created).toFixed(3));
    }
    return {
      creates: created,
      callsPerCreate,
      cpuMicrosPerCreate: Number(
        (((after.cpuSeconds - before.cpuSeconds) * 1e6) / created).toFixed(1),
      ),
      apiCpuMicrosPerCreate: Number((((apiAfter - apiBefore) * 1e6) / created).toFixed(1)),
    };
  } finally {
    await stopProgram(api);
    await removeIsolatedResources(env);
  }
}

export async function benchRedisCost(creates = 5_000): Promise<RedisCostFigures> {
  const dir = await mkdtemp(join(tmpdir(), 'chat-system-bench-redis-'));
  const single = new PrivateRedis(join(dir, 'single'), await freePort());
  await single.start();
  let standalone: RedisCost;
  try {
    standalone = await measure({ REDIS_URL: single.url }, () => Promise.resolve([single]), creates);
  } finally {
    await single.kill();
    await rm(dir, { recursive: true, force: true });
  }
  const cluster = await PrivateRedisCluster.start({ fromPort: 27_300 });
  try {
    const onCluster = await measure(
      { REDIS_CLUSTER_NODES: cluster.seeds },
      () => cluster.primaries(),
      creates,
    );
    return { standalone, cluster: onCluster };
  } finally {
    await cluster.stop();
  }
}

export function formatRedisCost({ standalone, cluster }: RedisCostFigures): string {
  const line = (name: string, cost: RedisCost) =>
    `  ${name.padEnd(11)} ${cost.cpuMicrosPerCreate} µs of Redis CPU and ${cost.apiCpuMicrosPerCreate} µs of API CPU per create; calls per create: ${Object.entries(
      cost.callsPerCreate,
    )
      .sort(([, a], [, b]) => b - a)
      .map(([command, n]) => `${command} ${n}`)
      .join(', ')} (${cost.creates} creates)`;
  return [
    'Redis per create (private instances, create-message through the API, no consumer)',
    line('standalone', standalone),
    line('cluster', cluster),
  ].join('\n');
}
