/**
 * Private instances of the data services, started from the machine's packages for the fault
 * suite alone: it kills, flushes, rolls back and alarms them, which it must never do to the
 * shared services other work depends on. Every instance lives under one temporary directory,
 * binds 127.0.0.1 on a free port, and is killed when the test process exits, however it exits.
 */
import { spawn, execFile, type ChildProcess } from 'node:child_process';
import { rmSync } from 'node:fs';
import { copyFile, mkdir, rm, writeFile, chmod, mkdtemp } from 'node:fs/promises';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { randomBytes } from 'node:crypto';
import { Redis } from 'ioredis';
import { createConnection } from 'mysql2/promise';
import { PrivateRabbitCluster } from './rabbitmq-cluster.js';

const run = promisify(execFile);
// mariadbd and the RabbitMQ scripts live in sbin directories a non-root PATH may lack.
const PATH = [process.env['PATH'], '/usr/sbin', '/sbin'].filter(Boolean).join(':');
const ENV = { ...process.env, PATH };
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      server.close(() =>
        typeof address === 'object' && address !== null
          ? resolve(address.port)
          : reject(new Error('no port')),
      );
    });
  });
}

export async function until(what: string, probe: () => Promise<boolean>, timeoutMs: number) {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (await probe().catch(() => false)) return;
    if (Date.now() > deadline) throw new Error(`${what} did not come up in ${timeoutMs} ms`);
    await sleep(200);
  }
}

/** A daemon run in the foreground in its own process group, reaped if the suite dies. */
class Daemon {
  readonly #name: string;
  #child: ChildProcess | null = null;
  #exited: Promise<void> = Promise.resolve();
  readonly output: string[] = [];

  constructor(name: string) {
    this.#name = name;
  }

  get pid(): number | undefined {
    return this.#child?.pid;
  }

  get running(): boolean {
    return this.#child !== null && this.#child.exitCode === null && this.#child.signalCode === null;
  }

  start(command: string, args: string[], env: NodeJS.ProcessEnv = ENV): void {
    const child = spawn(command, args, { env, detached: true, stdio: ['ignore', 'pipe', 'pipe'] });
    const keep = (chunk: Buffer) => {
      this.output.push(chunk.toString('utf8'));
      if (this.output.length > 200) this.output.splice(0, 100);
    };
    child.stdout?.on('data', keep);
    child.stderr?.on('data', keep);
    const reap = () => killGroup(child, 'SIGKILL');
    process.once('exit', reap);
    this.#exited = new Promise((resolve) =>
      child.once('exit', () => {
        process.off('exit', reap);
        resolve();
      }),
    );
    child.once('error', (err) => this.output.push(`${this.#name}: ${err.message}`));
    this.#child = child;
  }

  signal(signal: NodeJS.Signals): void {
    if (this.#child !== null && this.running) killGroup(this.#child, signal);
  }

  /** Sends `signal`, then SIGKILL if the daemon is still there after `graceMs`. */
  async stop(signal: NodeJS.Signals = 'SIGTERM', graceMs = 20_000): Promise<void> {
    if (this.#child === null || !this.running) return;
    killGroup(this.#child, signal);
    const done = await Promise.race([this.#exited.then(() => true), sleep(graceMs)]);
    if (done !== true) {
      killGroup(this.#child, 'SIGKILL');
      await this.#exited;
    }
  }

  describe(): string {
    return `${this.#name}: ${this.output.join('').slice(-2000)}`;
  }
}

function killGroup(child: ChildProcess, signal: NodeJS.Signals): void {
  try {
    if (child.pid !== undefined) process.kill(-child.pid, signal);
  } catch {
    // already gone
  }
}

/** What a client needs to reach a server that takes only TLS (`ca`) or a password. */
export interface RedisAccess {
  readonly ca?: Buffer;
  readonly password?: string;
}

/** redis-server without automatic snapshots; SAVE still writes `dump.rdb` into its dir. */
export class PrivateRedis {
  readonly #daemon = new Daemon('redis-server');
  readonly dir: string;
  readonly port: number;

  readonly #extraArgs: readonly string[];
  readonly #access: RedisAccess;

  /**
   * `extraArgs`: more settings, e.g. cluster mode's (see redis-cluster.ts); `access`: how
   * command() reaches a server that takes TLS or a password only.
   */
  constructor(
    dir: string,
    port: number,
    extraArgs: readonly string[] = [],
    access: RedisAccess = {},
  ) {
    this.dir = dir;
    this.port = port;
    this.#extraArgs = extraArgs;
    this.#access = access;
  }

  get url(): string {
    return `redis://127.0.0.1:${this.port}`;
  }

  get dump(): string {
    return join(this.dir, 'dump.rdb');
  }

  async start(): Promise<void> {
    await mkdir(this.dir, { recursive: true });
    this.#daemon.start('redis-server', [
      '--port',
      String(this.port),
      '--bind',
      '127.0.0.1',
      '--dir',
      this.dir,
      '--dbfilename',
      'dump.rdb',
      '--save',
      '',
      '--appendonly',
      'no',
      '--daemonize',
      'no',
      '--protected-mode',
      'no',
      ...this.#extraArgs,
    ]);
    await until(`redis on ${this.port}`, () => this.#ping(), 15_000).catch((err: Error) => {
      throw new Error(`${err.message}\n${this.#daemon.describe()}`);
    });
  }

  /** SIGKILL: whatever is only in memory is gone, as in a crash. */
  async kill(): Promise<void> {
    await this.#daemon.stop('SIGKILL');
  }

  /** SIGSTOP: the process stays, answering nothing, until resume(). */
  pause(): void {
    this.#daemon.signal('SIGSTOP');
  }

  resume(): void {
    this.#daemon.signal('SIGCONT');
  }

  async stop(): Promise<void> {
    await this.#daemon.stop('SIGTERM', 5_000);
  }

  /** Runs one command on a short-lived connection of its own. */
  async command(...args: (string | number)[]): Promise<unknown> {
    const redis = new Redis({
      host: '127.0.0.1',
      port: this.port,
      ...(this.#access.password === undefined ? {} : { password: this.#access.password }),
      ...(this.#access.ca === undefined ? {} : { tls: { ca: this.#access.ca } }),
      lazyConnect: true,
      maxRetriesPerRequest: 0,
      retryStrategy: () => null,
    });
    // A refused connection is the answer while the server is down, not an event to report.
    redis.on('error', () => undefined);
    try {
      await redis.connect();
      const [name, ...rest] = args;
      return await redis.call(String(name), ...rest);
    } finally {
      redis.disconnect();
    }
  }

  /** A synchronous SAVE, then a copy of the snapshot it wrote. */
  async snapshotTo(path: string): Promise<void> {
    await this.command('SAVE');
    await copyFile(this.dump, path);
  }

  async restoreFrom(path: string | null): Promise<void> {
    await rm(this.dump, { force: true });
    if (path !== null) await copyFile(path, this.dump);
  }

  async healthy(): Promise<boolean> {
    return this.#daemon.running && (await this.#ping().catch(() => false));
  }

  async #ping(): Promise<boolean> {
    return (await this.command('PING')) === 'PONG';
  }
}

/** mariadbd on its own datadir, port and socket; root without a password on 127.0.0.1. */
export class PrivateMariadb {
  readonly #daemon = new Daemon('mariadbd');
  readonly dir: string;
  readonly port: number;
  /** More server options, e.g. a server id and a binary log for replication. */
  readonly #options: readonly string[];

  constructor(dir: string, port: number, options: readonly string[] = []) {
    this.dir = dir;
    this.port = port;
    this.#options = options;
  }

  url(database: string): string {
    return `mysql://root@127.0.0.1:${this.port}/${database}`;
  }

  async install(): Promise<void> {
    await mkdir(join(this.dir, 'data'), { recursive: true });
    await mkdir(join(this.dir, 'tmp'), { recursive: true });
    await run(
      'mariadb-install-db',
      [
        '--no-defaults',
        `--datadir=${join(this.dir, 'data')}`,
        // A temporary directory of its own: a server starting removes the #sql temporary
        // files it finds in its tmpdir, so instances sharing /tmp break each other's.
        `--tmpdir=${join(this.dir, 'tmp')}`,
        '--auth-root-authentication-method=normal',
        '--skip-test-db',
        ...(process.getuid?.() === 0 ? ['--user=root'] : []),
      ],
      { env: ENV, maxBuffer: 16 * 1024 * 1024 },
    );
  }

  async start(): Promise<void> {
    this.#daemon.start('mariadbd', [
      '--no-defaults',
      `--datadir=${join(this.dir, 'data')}`,
      `--tmpdir=${join(this.dir, 'tmp')}`,
      `--port=${this.port}`,
      '--bind-address=127.0.0.1',
      `--socket=${join(this.dir, 'mariadb.sock')}`,
      `--pid-file=${join(this.dir, 'mariadb.pid')}`,
      `--log-error=${join(this.dir, 'mariadb.err')}`,
      '--skip-name-resolve',
      '--innodb-buffer-pool-size=128M',
      '--max-connections=300',
      ...this.#options,
      ...(process.getuid?.() === 0 ? ['--user=root'] : []),
    ]);
    await until(`mariadbd on ${this.port}`, () => this.#ping(), 60_000).catch((err: Error) => {
      throw new Error(`${err.message}\n${this.#daemon.describe()}`);
    });
  }

  /** SIGKILL, as in a crash: InnoDB recovers every committed transaction on the next start. */
  async kill(): Promise<void> {
    await this.#daemon.stop('SIGKILL');
  }

  async stop(): Promise<void> {
    await this.#daemon.stop('SIGTERM', 30_000);
  }

  async healthy(): Promise<boolean> {
    return this.#daemon.running && (await this.#ping().catch(() => false));
  }

  async #ping(): Promise<boolean> {
    const connection = await createConnection({
      host: '127.0.0.1',
      port: this.port,
      user: 'root',
      connectTimeout: 2_000,
    });
    try {
      await connection.query('SELECT 1');
      return true;
    } finally {
      await connection.end();
    }
  }
}

/**
 * A RabbitMQ node of its own: node name, AMQP and distribution ports, data and log dirs, a
 * config file (the system one pins the listener to the shared port), no plugins, and its own
 * Erlang cookie in its own HOME, shared with the rabbitmqctl that controls it.
 */
export class PrivateRabbit {
  readonly #daemon = new Daemon('rabbitmq-server');
  readonly dir: string;
  readonly port: number;
  readonly distPort: number;
  readonly node: string;

  readonly #cookie: string;

  /** `cookie`: the Erlang cookie, shared by the nodes of a cluster (random by default). */
  constructor(dir: string, port: number, distPort: number, cookie?: string) {
    this.dir = dir;
    this.port = port;
    this.distPort = distPort;
    this.node = `faults-${process.pid}-${port}@localhost`;
    this.#cookie = cookie ?? randomBytes(24).toString('hex').toUpperCase();
  }

  get url(): string {
    return `amqp://guest:guest@127.0.0.1:${this.port}`;
  }

  get #pidFile(): string {
    return join(this.dir, 'rabbitmq.pid');
  }

  #env(): NodeJS.ProcessEnv {
    return {
      PATH,
      HOME: join(this.dir, 'home'),
      LANG: 'C.UTF-8',
      LC_ALL: 'C.UTF-8',
      RABBITMQ_NODENAME: this.node,
      RABBITMQ_NODE_IP_ADDRESS: '127.0.0.1',
      RABBITMQ_NODE_PORT: String(this.port),
      RABBITMQ_DIST_PORT: String(this.distPort),
      RABBITMQ_MNESIA_BASE: join(this.dir, 'mnesia'),
      RABBITMQ_LOG_BASE: join(this.dir, 'log'),
      RABBITMQ_CONFIG_FILE: join(this.dir, 'rabbitmq.conf'),
      RABBITMQ_ENABLED_PLUGINS_FILE: join(this.dir, 'enabled_plugins'),
      RABBITMQ_CONF_ENV_FILE: join(this.dir, 'rabbitmq-env.conf'),
      RABBITMQ_PID_FILE: this.#pidFile,
      ERL_EPMD_ADDRESS: '127.0.0.1',
    };
  }

  async prepare(): Promise<void> {
    for (const sub of ['home', 'mnesia', 'log'])
      await mkdir(join(this.dir, sub), { recursive: true });
    const cookie = join(this.dir, 'home', '.erlang.cookie');
    await writeFile(cookie, this.#cookie);
    await chmod(cookie, 0o400);
    await writeFile(
      join(this.dir, 'rabbitmq.conf'),
      `listeners.tcp.default = 127.0.0.1:${this.port}\nloopback_users = none\n`,
    );
    await writeFile(join(this.dir, 'enabled_plugins'), '[].\n');
    await writeFile(join(this.dir, 'rabbitmq-env.conf'), '');
  }

  async start(): Promise<void> {
    this.#daemon.start('/usr/lib/rabbitmq/bin/rabbitmq-server', [], this.#env());
    await this.ctl(['wait', '--timeout', '90', this.#pidFile], 100_000).catch((err: Error) => {
      throw new Error(`${err.message}\n${this.#daemon.describe()}`);
    });
  }

  /** rabbitmqctl against this node only. */
  async ctl(args: string[], timeoutMs = 60_000): Promise<string> {
    const { stdout } = await run('/usr/lib/rabbitmq/bin/rabbitmqctl', ['-n', this.node, ...args], {
      env: this.#env(),
      timeout: timeoutMs,
      maxBuffer: 16 * 1024 * 1024,
    });
    return stdout;
  }

  /** rabbitmq-queues (replica and leader management) against this node only. */
  async queuesCtl(args: string[], timeoutMs = 60_000): Promise<string> {
    const { stdout } = await run(
      '/usr/lib/rabbitmq/bin/rabbitmq-queues',
      ['-n', this.node, ...args],
      {
        env: this.#env(),
        timeout: timeoutMs,
        maxBuffer: 16 * 1024 * 1024,
      },
    );
    return stdout;
  }

  /** Messages in a queue, ready and unacknowledged; null when the queue does not exist. */
  async depth(queue: string): Promise<number | null> {
    return (await this.depths()).get(queue) ?? null;
  }

  /** Messages (ready and unacknowledged) of every queue, by name. */
  async depths(): Promise<Map<string, number>> {
    const out = await this.ctl(['-q', 'list_queues', 'name', 'messages', '--formatter', 'json']);
    const rows = JSON.parse(out) as { name: string; messages: number }[];
    return new Map(rows.map((row) => [row.name, row.messages]));
  }

  /** The resource alarms in effect (e.g. `memory`), as the node reports them. */
  async alarms(): Promise<string[]> {
    const out = await this.ctl(['-q', 'status', '--formatter', 'json']);
    const status = JSON.parse(out) as { alarms?: { resource?: string }[] };
    return (status.alarms ?? []).map((alarm) => String(alarm.resource));
  }

  /** kill -9 of the whole node (its process group), as a crashed machine would stop it. */
  async kill(): Promise<void> {
    await this.#daemon.stop('SIGKILL', 10_000);
  }

  get running(): boolean {
    return this.#daemon.running;
  }

  async stop(): Promise<void> {
    if (!this.#daemon.running) return;
    await this.ctl(['stop', this.#pidFile], 60_000).catch(() => undefined);
    await this.#daemon.stop('SIGKILL', 10_000);
  }

  async healthy(): Promise<boolean> {
    if (!this.#daemon.running) return false;
    try {
      await this.ctl(['-q', 'await_startup', '--timeout', '20'], 30_000);
      return true;
    } catch {
      return false;
    }
  }
}

/** What the harness needs of a broker, one node or a cluster. */
export interface PrivateBroker {
  /** RABBITMQ_URL: one URL, or a cluster's nodes comma-separated. */
  readonly url: string;
  depth(queue: string): Promise<number | null>;
  depths(): Promise<Map<string, number>>;
}

export interface PrivateServices {
  readonly root: string;
  readonly redis: PrivateRedis;
  readonly mariadb: PrivateMariadb;
  readonly rabbit: PrivateRabbit;
  /** The 3-node cluster, when a selected scenario needs it (see startPrivateServices). */
  readonly cluster: PrivateRabbitCluster | undefined;
  /** Restarts whatever a failed scenario left down, so the next one starts clean. */
  ensureHealthy(): Promise<void>;
  stop(): Promise<void>;
}

/**
 * Starts all three under one fresh temporary directory, with a 3-node RabbitMQ cluster beside
 * them when `cluster` is set (all in parallel); stop() kills them and removes it.
 */
export async function startPrivateServices({
  cluster: withCluster = false,
} = {}): Promise<PrivateServices> {
  const root = await mkdtemp(join(tmpdir(), 'chat-system-faults-'));
  const redis = new PrivateRedis(join(root, 'redis'), await freePort());
  const mariadb = new PrivateMariadb(join(root, 'mariadb'), await freePort());
  const rabbit = new PrivateRabbit(join(root, 'rabbitmq'), await freePort(), await freePort());
  const cluster = withCluster
    ? await PrivateRabbitCluster.create(join(root, 'rabbitmq-cluster'))
    : undefined;
  // Daemons are SIGKILLed by their own exit hooks, registered earlier; then their files go.
  const removeRoot = () => rmSync(root, { recursive: true, force: true });
  process.once('exit', removeRoot);
  // An interrupted run still exits through the exit hooks, so nothing is left behind.
  const interrupted = (signal: NodeJS.Signals) => process.exit(signal === 'SIGINT' ? 130 : 143);
  process.once('SIGINT', interrupted);
  process.once('SIGTERM', interrupted);
  const stop = async () => {
    await Promise.allSettled([redis.stop(), mariadb.stop(), rabbit.stop(), cluster?.stop()]);
    await rm(root, { recursive: true, force: true });
    process.off('exit', removeRoot);
    process.off('SIGINT', interrupted);
    process.off('SIGTERM', interrupted);
  };
  try {
    await Promise.all([
      redis.start(),
      mariadb.install().then(() => mariadb.start()),
      rabbit.prepare().then(() => rabbit.start()),
      cluster?.start(),
    ]);
  } catch (error) {
    await stop();
    throw error;
  }
  return {
    root,
    redis,
    mariadb,
    rabbit,
    cluster,
    async ensureHealthy() {
      await cluster?.heal();
      if (!(await redis.healthy())) {
        await redis.stop();
        await redis.start();
      }
      if (!(await mariadb.healthy())) {
        await mariadb.stop();
        await mariadb.start();
      }
      // A scenario that failed half-way may have left the node stopped or alarmed.
      await rabbit.ctl(['start_app']).catch(() => undefined);
      await rabbit.ctl(['set_vm_memory_high_watermark', '0.4']).catch(() => undefined);
      if (!(await rabbit.healthy())) {
        await rabbit.stop();
        await rabbit.start();
      }
    },
    stop,
  };
}
