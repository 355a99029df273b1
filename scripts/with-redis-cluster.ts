/**
 * Runs a command with a private Redis Cluster (3 primaries, 3 replicas) started for it:
 * `TEST_REDIS_CLUSTER_NODES` names its seed nodes, so the Redis suites run against a cluster
 * (`npm run test:redis-cluster`). The cluster is removed afterwards, however the command ends.
 */
import { spawn } from 'node:child_process';
import { PrivateRedisCluster } from '../test/faults/support/redis-cluster.js';

const [command, ...args] = process.argv.slice(2);
if (command === undefined) {
  console.error('usage: with-redis-cluster <command> [args...]');
  process.exit(2);
}

const cluster = await PrivateRedisCluster.start();
console.log(`redis cluster: ${cluster.seeds}`);
const code = await new Promise<number>((resolve) => {
  const child = spawn(command, args, {
    stdio: 'inherit',
    env: { ...process.env, TEST_REDIS_CLUSTER_NODES: cluster.seeds },
  });
  child.once('exit', (status, signal) => resolve(status ?? (signal === null ? 1 : 128)));
});
await cluster.stop();
process.exit(code);
