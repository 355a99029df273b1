/**
 * The delivery files around the chart — Dockerfile, .dockerignore, skaffold.yaml, the kind
 * cluster and ingress controller configs — parsed and checked against each other and against
 * what the chart renders. (No Docker engine, kind or skaffold runs here.)
 */
import { expect } from 'chai';
import { existsSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import YAML from 'yaml';
import { ensureHelm } from '../../../scripts/ensure-helm.js';
import { API_NODE_FLAGS } from '../../e2e/support/system.js';
import {
  chartDir,
  helmTemplate,
  named,
  podTemplates,
  repoRoot,
  type K8sObject,
} from '../../support/k8s/manifests.js';

/* eslint-disable @typescript-eslint/no-unsafe-member-access, @typescript-eslint/no-unsafe-assignment, @typescript-eslint/no-unsafe-call, @typescript-eslint/no-unsafe-argument, @typescript-eslint/no-unsafe-return, @typescript-eslint/no-explicit-any -- walking parsed YAML */

const read = (file: string) => readFile(path.join(repoRoot, file), 'utf8');
const readYaml = async (file: string): Promise<any> => YAML.parse(await read(file));

interface Stage {
  readonly base: string;
  readonly name: string | undefined;
  readonly instructions: { readonly keyword: string; readonly args: string }[];
}

/** Dockerfile stages with their instructions (continuation lines joined, comments dropped). */
function parseDockerfile(text: string): { args: Record<string, string>; stages: Stage[] } {
  const lines = text
    .split('\n')
    .filter((line) => !/^\s*#/.test(line))
    .join('\n')
    .replace(/\\\n/g, ' ')
    .split('\n')
    .map((line) => line.trim())
    .filter((line) => line !== '');
  const args: Record<string, string> = {};
  const stages: Stage[] = [];
  for (const line of lines) {
    const [, keyword = '', rest = ''] = /^(\S+)\s*(.*)$/.exec(line) ?? [];
    const upper = keyword.toUpperCase();
    if (upper === 'FROM') {
      const [, base = '', name] = /^(\S+)(?:\s+AS\s+(\S+))?$/i.exec(rest) ?? [];
      stages.push({ base, name, instructions: [] });
    } else if (stages.length === 0 && upper === 'ARG') {
      const [key = '', value = ''] = rest.split('=');
      args[key] = value;
    } else {
      stages.at(-1)?.instructions.push({ keyword: upper, args: rest });
    }
  }
  return { args, stages };
}

/** Minimal RFC 6902 "add"/"replace" on a parsed document (what skaffold profiles use here). */
function applyPatches(
  document: any,
  patches: { op: string; path: string; value?: unknown }[],
): any {
  const copy = structuredClone(document);
  for (const patch of patches) {
    const keys = patch.path
      .split('/')
      .slice(1)
      .map((key) => key.replace(/~1/g, '/').replace(/~0/g, '~'));
    const last = keys.pop()!;
    let node = copy;
    for (const key of keys) {
      if (node[key] === undefined)
        throw new Error(`patch path ${patch.path}: ${key} does not exist`);
      node = node[key];
    }
    if (patch.op !== 'add' && patch.op !== 'replace') throw new Error(`unsupported op ${patch.op}`);
    if (patch.op === 'replace' && node[last] === undefined)
      throw new Error(`replace of missing ${patch.path}`);
    node[last] = patch.value;
  }
  return copy;
}

function valueAt(values: any, dotted: string): unknown {
  return dotted
    .split('.')
    .reduce((node, key) => (node === undefined || node === null ? undefined : node[key]), values);
}

describe('Dockerfile and .dockerignore', () => {
  let dockerfile: ReturnType<typeof parseDockerfile>;
  const stage = (name: string) => {
    const found = dockerfile.stages.find((s) => s.name === name);
    if (found === undefined) throw new Error(`no stage ${name}`);
    return found;
  };
  /** The stage and everything it inherits, nearest first. */
  const lineage = (name: string): Stage[] => {
    const chain: Stage[] = [];
    let current: Stage | undefined = stage(name);
    while (current !== undefined) {
      chain.push(current);
      const base: string = current.base;
      current = dockerfile.stages.find((s) => s.name === base);
    }
    return chain;
  };
  const last = (name: string, keyword: string) =>
    lineage(name)
      .flatMap((s) => [...s.instructions].reverse())
      .find((i) => i.keyword === keyword)?.args;

  before(async () => {
    dockerfile = parseDockerfile(await read('Dockerfile'));
  });

  it('builds on Node 24, and the runtime is a flattened copy of a stage built on it', () => {
    const image = dockerfile.args['NODE_IMAGE'] ?? '';
    expect(image).to.match(/^node:24[-.]/);
    for (const s of dockerfile.stages.filter(
      (s) => !dockerfile.stages.some((other) => other.name === s.base),
    )) {
      if (s.base === 'scratch') {
        const [first] = s.instructions;
        const source = /^--from=(\S+)\s+\/\s+\/$/.exec(first?.args ?? '')?.[1];
        expect(first?.keyword, s.name).to.equal('COPY');
        expect(stage(source ?? '').base, s.name).to.equal('${NODE_IMAGE}');
      } else expect(s.base, s.name).to.equal('${NODE_IMAGE}');
    }
  });

  it('builds without a registry for frontends: no `# syntax=` directive', async () => {
    expect(await read('Dockerfile')).to.not.match(/^#\s*syntax\s*=/im);
  });

  it('takes a proxy CA as a build secret, never as a layer', () => {
    const installs = dockerfile.stages
      .flatMap((s) => s.instructions)
      .filter((i) => i.keyword === 'RUN' && /npm ci/.test(i.args));
    expect(installs.length).to.be.greaterThan(0);
    for (const install of installs) {
      expect(install.args).to.contain('--mount=type=secret,id=ca');
      expect(install.args).to.contain('NODE_EXTRA_CA_CERTS=/run/secrets/ca');
    }
    const all = dockerfile.stages.flatMap((s) => s.instructions);
    expect(
      all.filter((i) => /NODE_EXTRA_CA_CERTS/.test(i.args) && i.keyword !== 'RUN'),
    ).to.deep.equal([]);
  });

  it('labels every target (OCI) and ships its CycloneDX SBOM', () => {
    for (const target of ['api', 'consumer', 'flusher', 'migrate']) {
      const labels = lineage(target)
        .flatMap((s) => s.instructions)
        .filter((i) => i.keyword === 'LABEL')
        .map((i) => i.args)
        .join(' ');
      for (const key of ['title', 'description', 'licenses', 'version', 'revision', 'created'])
        expect(labels, target).to.contain(`org.opencontainers.image.${key}=`);
      const sbom = stage(target).instructions.find(
        (i) => i.keyword === 'COPY' && i.args.includes('sbom.cdx.json'),
      );
      const from = /--from=(\S+)/.exec(sbom?.args ?? '')?.[1] ?? '';
      expect(
        lineage(from).some((s) =>
          s.instructions.some((i) => /npm sbom .*--sbom-format cyclonedx/.test(i.args)),
        ),
        target,
      ).to.equal(true);
    }
  });

  it('puts @kubernetes/client-node in the flusher image only', () => {
    const depsOf = (target: string) =>
      /--from=(\S+)\s+\/app\/node_modules/.exec(
        stage(target).instructions.find((i) => i.args.includes('node_modules'))?.args ?? '',
      )?.[1] ?? '';
    const removes = (from: string) =>
      lineage(from).some((s) =>
        s.instructions.some((i) =>
          /npm pkg delete '?dependencies\.@kubernetes\/client-node/.test(i.args),
        ),
      );
    for (const target of ['api', 'consumer', 'migrate'])
      expect(removes(depsOf(target)), target).to.equal(true);
    expect(removes(depsOf('flusher'))).to.equal(false);
  });

  it('has the api, consumer, flusher and migrate targets, each starting its program', () => {
    const commands = Object.fromEntries(
      ['api', 'consumer', 'flusher', 'migrate'].map((target) => [
        target,
        JSON.parse(last(target, 'CMD') ?? 'null'),
      ]),
    );
    expect(commands).to.deep.equal({
      api: ['node', ...API_NODE_FLAGS, 'dist/cmd/api/main.js'],
      consumer: ['node', 'dist/cmd/consumer/main.js'],
      flusher: ['node', 'dist/cmd/flusher/main.js', '--once'],
      migrate: ['node', 'dist/cmd/migrate/main.js'],
    });
    expect(dockerfile.stages.at(-1)?.name).to.equal('api');
  });

  it('runs every target as a non-root numeric user, without HEALTHCHECK or ENTRYPOINT wrapper', () => {
    for (const target of ['api', 'consumer', 'flusher', 'migrate']) {
      const user = last(target, 'USER') ?? '';
      expect(user, target).to.match(/^[1-9]\d*:[1-9]\d*$/);
      const instructions = lineage(target).flatMap((s) => s.instructions.map((i) => i.keyword));
      expect(instructions, target).to.not.include('HEALTHCHECK');
      expect(instructions, target).to.not.include('ENTRYPOINT');
    }
  });

  it('ships production dependencies only, installed without scripts', () => {
    const runtime = lineage('api');
    const copies = runtime.flatMap((s) =>
      s.instructions.filter((i) => i.keyword === 'COPY').map((i) => i.args),
    );
    const nodeModules = copies.find((c) => c.includes('node_modules'));
    const from = /--from=(\S+)/.exec(nodeModules ?? '')?.[1];
    expect(from).to.not.equal(undefined);
    const installs = lineage(from!)
      .flatMap((s) => s.instructions)
      .filter((i) => i.keyword === 'RUN')
      .map((i) => i.args)
      .join(' ');
    expect(installs).to.contain('npm ci').and.contain('--omit=dev').and.contain('--ignore-scripts');
    expect(copies.some((c) => /--from=build\s+\/app\/dist\s/.test(c))).to.equal(true);
  });

  it('keeps the build context to the files the build copies', async () => {
    const ignore = (await read('.dockerignore'))
      .split('\n')
      .map((l) => l.trim())
      .filter((l) => l !== '' && !l.startsWith('#'));
    expect(ignore[0]).to.equal('*');
    const allowed = ignore
      .filter((l) => l.startsWith('!'))
      .map((l) => l.slice(1).replace(/\/\*\*$/, ''));
    const sources = dockerfile.stages
      .flatMap((s) => s.instructions)
      .filter((i) => i.keyword === 'COPY' && !i.args.includes('--from='))
      .flatMap((i) =>
        i.args
          .split(/\s+/)
          .filter((a) => !a.startsWith('--'))
          .slice(0, -1),
      );
    expect(sources.length).to.be.greaterThan(3);
    for (const source of sources) {
      expect(allowed, source).to.include(source.replace(/^\.\//, ''));
      expect(existsSync(path.join(repoRoot, source)), `${source} exists`).to.equal(true);
    }
    for (const secretish of ['**/.env', '**/node_modules']) expect(ignore).to.include(secretish);
  });
});

describe('skaffold.yaml, the kind cluster and the ingress controller values', function () {
  this.timeout(60_000);
  let skaffold: any;
  let kind: any;
  let helm: string;
  let dockerTargets: string[];

  before(async function () {
    this.timeout(300_000);
    skaffold = await readYaml('skaffold.yaml');
    kind = await readYaml('k8s/kind-cluster.yaml');
    dockerTargets = parseDockerfile(await read('Dockerfile'))
      .stages.map((s) => s.name)
      .filter((name): name is string => name !== undefined);
    helm = await ensureHelm();
  });

  it('uses a current skaffold schema', () => {
    const [, major, beta] = /^skaffold\/v(\d+)beta(\d+)$/.exec(skaffold.apiVersion) ?? [];
    expect(skaffold.kind).to.equal('Config');
    expect(
      Number(major) > 4 || (Number(major) === 4 && Number(beta) >= 14),
      skaffold.apiVersion,
    ).to.equal(true);
  });

  it('builds the three program images from the one Dockerfile, one target each', () => {
    const artifacts = skaffold.build.artifacts as {
      image: string;
      context: string;
      docker: { dockerfile: string; target: string };
    }[];
    expect(artifacts.map((a) => [a.image, a.docker.target])).to.deep.equal([
      ['chat-system-api', 'api'],
      ['chat-system-consumer', 'consumer'],
      ['chat-system-flusher', 'flusher'],
    ]);
    for (const artifact of artifacts) {
      expect(path.join(repoRoot, artifact.context, artifact.docker.dockerfile)).to.equal(
        path.join(repoRoot, 'Dockerfile'),
      );
      expect(dockerTargets).to.include(artifact.docker.target);
    }
  });

  it('deploys the chart, wiring each built image into the values that exist for it', async () => {
    const [release] = skaffold.deploy.helm.releases;
    expect(path.join(repoRoot, release.chartPath)).to.equal(chartDir);
    expect(release.wait ?? false).to.equal(false);
    const defaults = YAML.parse(await readFile(path.join(chartDir, 'values.yaml'), 'utf8'));
    const templates = release.setValueTemplates as Record<string, string>;
    for (const artifact of skaffold.build.artifacts as { image: string }[]) {
      const program = artifact.image.replace('chat-system-', '');
      const key = artifact.image.replace(/[^A-Za-z0-9]/g, '_');
      expect(templates[`${program}.image.repository`]).to.equal(`{{.IMAGE_REPO_${key}}}`);
      expect(templates[`${program}.image.tag`]).to.equal(`{{.IMAGE_TAG_${key}}}`);
    }
    for (const key of Object.keys(templates))
      expect(valueAt(defaults, key), key).to.not.equal(undefined);

    // What skaffold would pass, with the templates filled in, reaches the right containers.
    const substituted = Object.fromEntries(
      Object.entries(templates).map(([key, template]) => [
        key,
        template
          .replace(/\{\{\.IMAGE_REPO_chat_system_(\w+)\}\}/, 'localhost/chat-system-$1')
          .replace(/\{\{\.IMAGE_TAG_chat_system_(\w+)\}\}/, 'dev-$1'),
      ]),
    );
    const objects = await helmTemplate(helm, {
      release: release.name,
      namespace: release.namespace,
      set: substituted,
    });
    const image = (kind: string, name: string) =>
      podTemplates([named(objects, kind, name)])[0]!.spec.containers[0]!.image;
    expect(image('Deployment', 'chat-system-api')).to.equal('localhost/chat-system-api:dev-api');
    expect(image('Deployment', 'chat-system-consumer')).to.equal(
      'localhost/chat-system-consumer:dev-consumer',
    );
    expect(image('CronJob', 'chat-system-flusher')).to.equal(
      'localhost/chat-system-flusher:dev-flusher',
    );
  });

  it('port-forwards to a port of the API Service the chart renders', async () => {
    const [release] = skaffold.deploy.helm.releases;
    const objects: K8sObject[] = await helmTemplate(helm, {
      release: release.name,
      namespace: release.namespace,
    });
    const [forward] = skaffold.portForward;
    expect(forward).to.include({ resourceType: 'service', namespace: release.namespace });
    const service = named(objects, 'Service', forward.resourceName);
    expect(service.metadata.labels?.['app.kubernetes.io/component']).to.equal('api');
    expect(service['spec'].ports.map((p: { port: number }) => p.port)).to.include(forward.port);
  });

  it('has a kind profile, switched on by the kind cluster context, that loads images instead of pushing', async () => {
    const profile = skaffold.profiles.find((p: { name: string }) => p.name === 'kind');
    expect(profile.activation).to.deep.include({ kubeContext: `kind-${kind.name}` });
    const effective = applyPatches(skaffold, profile.patches);
    expect(effective.build.local.push).to.equal(false);
    const [release] = effective.deploy.helm.releases;
    expect(release.setValues).to.deep.equal({ 'image.pullPolicy': 'IfNotPresent' });
    for (const file of release.valuesFiles as string[]) {
      expect(existsSync(path.join(repoRoot, file)), file).to.equal(true);
    }
    const objects = await helmTemplate(helm, {
      release: release.name,
      namespace: release.namespace,
      valuesFiles: (release.valuesFiles as string[]).map((file) => path.join(repoRoot, file)),
      set: release.setValues,
    });
    const api = podTemplates([named(objects, 'Deployment', 'chat-system-api')])[0]!.spec
      .containers[0]!;
    expect(api['imagePullPolicy']).to.equal('IfNotPresent');
    expect(named(objects, 'Ingress', 'chat-system-api')['spec'].rules[0].host).to.equal(
      'localhost',
    );
  });

  it('creates a kind node ready for an ingress controller on ports 80 and 443', () => {
    expect(kind).to.include({ kind: 'Cluster', apiVersion: 'kind.x-k8s.io/v1alpha4' });
    const ingressNodes = kind.nodes.filter(
      (n: { labels?: Record<string, string> }) => n.labels?.['ingress-ready'] === 'true',
    );
    expect(ingressNodes).to.have.length(1);
    const mappings = ingressNodes[0].extraPortMappings.map(
      (m: { containerPort: number; hostPort: number; protocol: string }) => [
        m.containerPort,
        m.hostPort,
        m.protocol,
      ],
    );
    expect(mappings).to.deep.equal([
      [80, 80, 'TCP'],
      [443, 443, 'TCP'],
    ]);
  });

  it("configures the NGINX ingress controller for that node and the chart's IngressClass", async () => {
    const values = await readYaml('k8s/nginx-ingress-values.yaml');
    const chartValues = YAML.parse(await readFile(path.join(chartDir, 'values.yaml'), 'utf8'));
    expect(values.controller.ingressClass.name).to.equal(chartValues.ingress.className);
    expect(values.controller.nodeSelector).to.deep.equal({ 'ingress-ready': 'true' });
    expect(values.controller.hostPort).to.deep.equal({ enable: true, http: 80, https: 443 });
  });
});
