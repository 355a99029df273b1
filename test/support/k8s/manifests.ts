/**
 * Rendering the chart with a real helm binary, and typed-enough access to what it rendered:
 * objects by kind, the pod specs inside workloads, containers, env.
 */
import { execFile } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import YAML from 'yaml';

const run = promisify(execFile);

export const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../..');
export const chartDir = path.join(repoRoot, 'charts', 'chat-system');

/* eslint-disable @typescript-eslint/no-explicit-any -- rendered manifests are walked dynamically */
export type K8sObject = {
  apiVersion: string;
  kind: string;
  metadata: {
    name: string;
    namespace?: string;
    labels?: Record<string, string>;
    annotations?: Record<string, string>;
  };
  [key: string]: any;
};
export type Container = Record<string, any> & { name: string; image: string };
export type PodSpec = Record<string, any> & {
  containers: Container[];
  initContainers?: Container[];
};
/* eslint-enable @typescript-eslint/no-explicit-any */

export interface RenderOptions {
  readonly release?: string;
  readonly namespace?: string;
  /** Values documents, applied in order (each becomes a --values file). */
  readonly values?: readonly object[];
  /** Existing values files (e.g. k8s/values-kind.yaml). */
  readonly valuesFiles?: readonly string[];
  /** --set pairs. */
  readonly set?: Readonly<Record<string, string>>;
  /** --api-versions, to declare CRDs the cluster would serve. */
  readonly apiVersions?: readonly string[];
  readonly chart?: string;
}

async function withValues<T>(
  options: RenderOptions,
  use: (args: string[]) => Promise<T>,
): Promise<T> {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'chart-values-'));
  try {
    const args: string[] = [];
    for (const [index, document] of (options.values ?? []).entries()) {
      const file = path.join(dir, `values-${index}.yaml`);
      await writeFile(file, YAML.stringify(document));
      args.push('--values', file);
    }
    for (const file of options.valuesFiles ?? []) args.push('--values', file);
    for (const [key, value] of Object.entries(options.set ?? {}))
      args.push('--set', `${key}=${value}`);
    return await use(args);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

/** `helm template`, parsed. Rejects with helm's stderr when rendering fails. */
export async function helmTemplate(
  helm: string,
  options: RenderOptions = {},
): Promise<K8sObject[]> {
  return withValues(options, async (args) => {
    let stdout: string;
    try {
      ({ stdout } = await run(
        helm,
        [
          'template',
          options.release ?? 'chat',
          options.chart ?? chartDir,
          '--namespace',
          options.namespace ?? 'chat',
          ...args,
          ...(options.apiVersions ?? []).flatMap((version) => ['--api-versions', version]),
        ],
        { maxBuffer: 64 * 1024 * 1024 },
      ));
    } catch (error) {
      const { stderr = '' } = error as { stderr?: string };
      throw new Error(`helm template failed: ${stderr}`, { cause: error });
    }
    return YAML.parseAllDocuments(stdout)
      .map((document) => {
        const [problem] = document.errors;
        if (problem !== undefined) throw problem;
        return document.toJS() as K8sObject | null;
      })
      .filter((object): object is K8sObject => object !== null);
  });
}

/** `helm lint --strict --with-subcharts`; resolves to its output, rejects with it on failure. */
export async function helmLint(helm: string, options: RenderOptions = {}): Promise<string> {
  return withValues(options, async (args) => {
    try {
      // Subcharts are linted on their own only with their defaults: the parent's values files
      // do not fit their schemas. The parent's lint renders them with the values anyway.
      const subcharts = args.length === 0 ? ['--with-subcharts'] : [];
      const { stdout } = await run(
        helm,
        ['lint', '--strict', ...subcharts, options.chart ?? chartDir, ...args],
        {
          maxBuffer: 16 * 1024 * 1024,
        },
      );
      return stdout;
    } catch (error) {
      const { stdout = '', stderr = '' } = error as { stdout?: string; stderr?: string };
      throw new Error(`helm lint failed:\n${stdout}\n${stderr}`, { cause: error });
    }
  });
}

export function ofKind(objects: readonly K8sObject[], kind: string): K8sObject[] {
  return objects.filter((object) => object.kind === kind);
}

export function named(objects: readonly K8sObject[], kind: string, name: string): K8sObject {
  const found = objects.find((object) => object.kind === kind && object.metadata.name === name);
  if (found === undefined) {
    const names = ofKind(objects, kind).map((object) => object.metadata.name);
    throw new Error(`no ${kind} named ${name}; rendered: ${names.join(', ') || 'none'}`);
  }
  return found;
}

/** The pod spec and pod labels of every workload (Deployment, StatefulSet, Job, CronJob, Pod). */
export function podTemplates(
  objects: readonly K8sObject[],
): { owner: K8sObject; spec: PodSpec; labels: Record<string, string> }[] {
  const result: { owner: K8sObject; spec: PodSpec; labels: Record<string, string> }[] = [];
  for (const object of objects) {
    /* eslint-disable @typescript-eslint/no-unsafe-assignment, @typescript-eslint/no-unsafe-member-access */
    const template =
      object.kind === 'CronJob'
        ? object['spec'].jobTemplate.spec.template
        : ['Deployment', 'StatefulSet', 'Job'].includes(object.kind)
          ? object['spec'].template
          : object.kind === 'Pod'
            ? { metadata: object.metadata, spec: object['spec'] }
            : undefined;
    if (template !== undefined) {
      result.push({ owner: object, spec: template.spec, labels: template.metadata?.labels ?? {} });
    }
    /* eslint-enable @typescript-eslint/no-unsafe-assignment, @typescript-eslint/no-unsafe-member-access */
  }
  return result;
}

export function allContainers(spec: PodSpec): Container[] {
  return [...(spec.initContainers ?? []), ...spec.containers];
}

export function describeContainer(owner: K8sObject, container: Container): string {
  return `${owner.kind}/${owner.metadata.name} container ${container.name}`;
}

/** Env entries of a container as an ordered list. */
export function envOf(
  container: Container,
): { name: string; value?: string; valueFrom?: Record<string, Record<string, string>> }[] {
  return (container['env'] ?? []) as {
    name: string;
    value?: string;
    valueFrom?: Record<string, Record<string, string>>;
  }[];
}

export function decodeSecretData(secret: K8sObject): Record<string, string> {
  const data = (secret['data'] ?? {}) as Record<string, string>;
  return Object.fromEntries(
    Object.entries(data).map(([key, value]) => [
      key,
      Buffer.from(value, 'base64').toString('utf8'),
    ]),
  );
}
