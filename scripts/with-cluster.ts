/**
 * Runs a command against a private cluster started for it, removed afterwards however the
 * command ends:
 * - `redis`: a Redis Cluster (3 primaries, 3 replicas); `TEST_REDIS_CLUSTER_NODES` names its
 *   seed nodes (`npm run test:redis-cluster`);
 * - `rabbitmq`: a 3-node RabbitMQ cluster; `TEST_RABBITMQ_URL` lists its nodes' URLs
 *   (`npm run test:rabbitmq-cluster`).
 */
import { spawn } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PrivateRedisCluster } from '../test/faults/support/redis-cluster.js';
import { PrivateRabbitCluster } from '../test/faults/support/rabbitmq-cluster.js';

const [kind, command, ...args] = process.argv.slice(2);
if ((kind !== 'redis' && kind !== 'rabbitmq') || command === undefined) {
  console.error('usage: with-cluster redis|rabbitmq <command> [args...]');
  process.exit(2);
}

async function start(): Promise<{ env: Record<string, string>; stop: () => Promise<void> }> {
  if (kind === 'redis') {
    const cluster = await PrivateRedisCluster.start();
    return { env: { TEST_REDIS_CLUSTER_NODES: cluster.seeds }, stop: () => cluster.stop() };
  }
  const dir = await mkdtemp(join(tmpdir(), 'chat-system-rabbitmq-cluster-'));
  const cluster = await PrivateRabbitCluster.create(dir);
  const stop = async () => {
    await cluster.stop();
    await rm(dir, { recursive: true, force: true });
  };
  try {
    await cluster.start();
  } catch (err) {
    await stop();
    throw err;
  }
  return { env: { TEST_RABBITMQ_URL: cluster.url }, stop };
}

const cluster = await start();
console.log(`${kind} cluster: ${Object.values(cluster.env).join(' ')}`);
const code = await new Promise<number>((resolve) => {
  const child = spawn(command, args, { stdio: 'inherit', env: { ...process.env, ...cluster.env } });
  child.once('exit', (status, signal) => resolve(status ?? (signal === null ? 1 : 128)));
});
await cluster.stop();
process.exit(code);
