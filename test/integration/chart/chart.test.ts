/**
 * The Helm chart, rendered offline by a real helm binary for several value combinations, every
 * object validated against the Kubernetes schemas and held to the platform policies.
 */
import { expect } from 'chai';
import { cp, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import YAML from 'yaml';
import { ensureHelm } from '../../../scripts/ensure-helm.js';
import { API_NODE_FLAGS } from '../../e2e/support/system.js';
import {
  allContainers,
  chartDir,
  decodeSecretData,
  envOf,
  helmLint,
  helmTemplate,
  named,
  ofKind,
  podTemplates,
  repoRoot,
  type Container,
  type K8sObject,
  type RenderOptions,
} from '../../support/k8s/manifests.js';
import {
  envContractViolations,
  envReferenceViolations,
  PENDING_VARIABLES,
  portViolations,
  resourceAndProbeViolations,
  secretViolations,
  securityViolations,
  selectorViolations,
  tokenViolations,
} from '../../support/k8s/policies.js';
import { validateObject } from '../../support/k8s/validate.js';
import { CONFIG_VARIABLES, loadConfig } from '../../../internal/config/config.js';

/* eslint-disable @typescript-eslint/no-unsafe-member-access, @typescript-eslint/no-unsafe-assignment, @typescript-eslint/no-unsafe-call, @typescript-eslint/no-unsafe-argument, @typescript-eslint/no-unsafe-return -- walking rendered YAML */

const RELEASE = 'chat';
const NAMESPACE = 'chat';
const MONITORING_CRDS = [
  'monitoring.coreos.com/v1/ServiceMonitor',
  'monitoring.coreos.com/v1/PodMonitor',
  'monitoring.coreos.com/v1/PrometheusRule',
];

/** The value combinations every policy is checked against. */
const combos: Record<string, RenderOptions> = {
  defaults: {},
  'external services (all subcharts off)': {
    values: [
      {
        mysql: { enabled: false },
        redis: { enabled: false },
        rabbitmq: { enabled: false },
        elasticsearch: { enabled: false },
        externalMysql: {
          host: 'db.example.com',
          readHost: 'db-replica.example.com',
          existingSecret: 'managed-db',
          existingSecretPasswordKey: 'password',
        },
        externalRedis: {
          host: 'cache.example.com',
          port: 6380,
          tls: true,
          password: 'inline-redis-password',
        },
        externalRabbitmq: {
          host: 'mq.example.com',
          tls: true,
          vhost: 'chat/prod',
          username: 'chat-prod',
          existingSecret: 'managed-mq',
        },
        externalElasticsearch: {
          url: 'https://search.example.com:9243',
          username: 'chat',
          existingSecret: 'managed-es',
        },
      },
    ],
  },
  'HPA, PDB and NetworkPolicy on': {
    values: [
      {
        api: {
          autoscaling: {
            enabled: true,
            minReplicas: 3,
            maxReplicas: 12,
            targetMemoryUtilizationPercentage: 80,
          },
          pdb: { enabled: true },
        },
        consumer: { autoscaling: { enabled: true }, pdb: { enabled: true } },
        networkPolicy: { enabled: true },
      },
    ],
  },
  'HTTPRoute instead of Ingress': {
    values: [
      {
        ingress: { enabled: false },
        httpRoute: {
          enabled: true,
          parentRefs: [{ name: 'public', namespace: 'gateway-system', sectionName: 'https' }],
          hostnames: ['chat.example.com'],
        },
      },
    ],
  },
  'monitoring on (CRDs declared)': {
    values: [
      {
        metrics: { grafanaDashboard: { enabled: true } },
        flusher: { pushgatewayUrl: 'http://pushgateway.monitoring.svc:9091' },
      },
    ],
    apiVersions: MONITORING_CRDS,
  },
  existingSecret: {
    values: [
      {
        adminToken: { existingSecret: 'chat-admin', existingSecretKey: 'token' },
        mysql: { auth: { existingSecret: 'db-creds' } },
        redis: { auth: { existingSecret: 'cache-creds' } },
        rabbitmq: { auth: { existingSecret: 'mq-creds', passwordKey: 'amqp-password' } },
        elasticsearch: { auth: { existingSecret: 'search-creds' } },
      },
    ],
  },
  'production (registry, TLS host, pull secrets)': {
    values: [
      {
        image: { registry: 'registry.example.com/chat', tag: '1.4.2', pullSecrets: ['regcred'] },
        ingress: {
          hosts: ['chat.example.com'],
          tls: [{ secretName: 'chat-tls', hosts: ['chat.example.com'] }],
        },
        api: { image: { digest: `sha256:${'a'.repeat(64)}` } },
      },
    ],
  },
  'kind (k8s/values-kind.yaml)': { valuesFiles: [path.join(repoRoot, 'k8s', 'values-kind.yaml')] },
  'replicated broker and Valkey cluster': {
    values: [
      {
        rabbitmq: { replicas: 3 },
        redis: { cluster: { enabled: true } },
        config: { rabbitmqWritePartitions: 3 },
        networkPolicy: { enabled: true },
      },
    ],
    apiVersions: MONITORING_CRDS,
  },
  'external Redis Cluster': {
    values: [
      {
        redis: { enabled: false },
        externalRedis: {
          clusterNodes: ['cache-0.example.com:6380', 'cache-1.example.com:6380'],
          username: 'chat',
          tls: true,
          tlsCaSecret: 'cache-ca',
          existingSecret: 'cache-creds',
        },
      },
    ],
  },
};

// Long enough for every secret's own rules (the admin token's 16 characters).
const SECRET_PLACEHOLDER = 'value-read-from-a-secret';

/**
 * What the API process sees: the ConfigMap, then its container's env, each variable taken from
 * a Secret given a placeholder and $(VAR) references expanded as the kubelet does.
 */
function programEnv(objects: K8sObject[]): Record<string, string> {
  const env: Record<string, string> = {
    ...(named(objects, 'ConfigMap', 'chat-chat-system-config')['data'] as Record<string, string>),
  };
  const api = podTemplates([named(objects, 'Deployment', 'chat-chat-system-api')])[0]!.spec
    .containers[0]!;
  for (const entry of envOf(api)) {
    if (entry.value !== undefined)
      env[entry.name] = entry.value.replace(
        /\$\(([A-Za-z0-9_]+)\)/g,
        (_, name: string) => env[name] ?? '',
      );
    else if (entry.valueFrom?.['secretKeyRef'] !== undefined) env[entry.name] = SECRET_PLACEHOLDER;
  }
  return env;
}

describe('Helm chart charts/chat-system', function () {
  this.timeout(60_000);
  let helm: string;
  const rendered = new Map<string, K8sObject[]>();
  const render = (name: string) => {
    const objects = rendered.get(name);
    if (objects === undefined) throw new Error(`combination ${name} was not rendered`);
    return objects;
  };

  before(async function () {
    this.timeout(300_000);
    helm = await ensureHelm({ log: (message) => console.log(`      ${message}`) });
    await Promise.all(
      Object.entries(combos).map(async ([name, options]) => {
        rendered.set(
          name,
          await helmTemplate(helm, { release: RELEASE, namespace: NAMESPACE, ...options }),
        );
      }),
    );
  });

  for (const [name, options] of Object.entries(combos)) {
    describe(`with ${name}`, () => {
      it('passes helm lint --strict', async () => {
        const output = await helmLint(helm, options);
        expect(output).to.match(/0 chart\(s\) failed/);
      });

      it('renders only objects valid against the Kubernetes schemas', () => {
        const objects = render(name);
        expect(objects.length).to.be.greaterThan(10);
        for (const object of objects) validateObject(object);
      });

      it('runs every container non-root, read-only, without privileges or capabilities', () => {
        expect(securityViolations(render(name))).to.deep.equal([]);
      });

      it('gives every container resources and every long-running one probes', () => {
        expect(resourceAndProbeViolations(render(name))).to.deep.equal([]);
      });

      it('selects pods by stable labels only, each workload its own pods', () => {
        expect(selectorViolations(render(name))).to.deep.equal([]);
      });

      it('keeps secrets out of ConfigMaps, env values and command lines', () => {
        expect(secretViolations(render(name))).to.deep.equal([]);
      });

      it('defines every $(VAR) before it is used', () => {
        expect(envReferenceViolations(render(name))).to.deep.equal([]);
      });

      it('passes the programs only variables of their configuration contract', () => {
        expect(envContractViolations(render(name), 'chat-chat-system-config')).to.deep.equal([]);
      });

      it('points Services, routes, policies, monitors and probes at ports that exist', () => {
        expect(portViolations(render(name))).to.deep.equal([]);
      });

      it('mounts a service account token only into pods that use the Kubernetes API', () => {
        expect(tokenViolations(render(name))).to.deep.equal([]);
      });
    });
  }

  describe('with default values', () => {
    const objects = () => render('defaults');
    const deployment = (component: string) =>
      named(objects(), 'Deployment', `chat-chat-system-${component}`);
    const container = (object: K8sObject, name: string): Container => {
      const spec = podTemplates([object])[0]!.spec;
      const found = allContainers(spec).find((c) => c.name === name);
      if (found === undefined) throw new Error(`no container ${name} in ${object.metadata.name}`);
      return found;
    };

    it('renders the programs, the data services and their Jobs', () => {
      const names = (kind: string) =>
        ofKind(objects(), kind)
          .map((o) => o.metadata.name)
          .sort();
      expect(names('Deployment')).to.deep.equal([
        'chat-chat-system-api',
        'chat-chat-system-consumer',
      ]);
      expect(names('StatefulSet')).to.deep.equal([
        'chat-elasticsearch',
        'chat-mysql',
        'chat-rabbitmq',
        'chat-redis',
      ]);
      expect(names('CronJob')).to.deep.equal([
        'chat-chat-system-flusher',
        'chat-chat-system-reindex',
      ]);
      expect(names('Job')).to.deep.equal(['chat-chat-system-migrate']);
      expect(names('Ingress')).to.deep.equal(['chat-chat-system-api']);
      expect(names('HorizontalPodAutoscaler')).to.deep.equal([]);
      expect(names('PodDisruptionBudget')).to.deep.equal([
        'chat-chat-system-api',
        'chat-chat-system-consumer',
      ]);
    });

    it('runs the data services on official images only', () => {
      const images = ofKind(objects(), 'StatefulSet').flatMap((s) =>
        allContainers(podTemplates([s])[0]!.spec).map((c) => c.image),
      );
      expect([...new Set(images)].sort()).to.deep.equal([
        'docker.elastic.co/elasticsearch/elasticsearch:9.2.4',
        'docker.io/library/mysql:8.4',
        'docker.io/library/rabbitmq:4.1',
        'docker.io/valkey/valkey:8.1',
      ]);
      expect(JSON.stringify(objects()).toLowerCase()).to.not.contain('bitnami');
    });

    it('gives each data service a headless Service, a Secret and a volume claim', () => {
      for (const statefulSet of ofKind(objects(), 'StatefulSet')) {
        const name = statefulSet.metadata.name;
        const service = named(objects(), 'Service', name);
        expect(service['spec'].clusterIP, name).to.equal('None');
        expect(statefulSet['spec'].serviceName).to.equal(name);
        expect(
          Object.keys(decodeSecretData(named(objects(), 'Secret', name))),
          name,
        ).to.have.length.greaterThan(0);
        expect(
          statefulSet['spec'].volumeClaimTemplates[0].spec.resources.requests.storage,
          name,
        ).to.match(/Gi$/);
      }
    });

    it('persists Redis writes with AOF and never evicts the numbering keys', () => {
      const args: string[] = container(named(objects(), 'StatefulSet', 'chat-redis'), 'redis')[
        'args'
      ];
      expect(args.join(' '))
        .to.contain('--appendonly yes')
        .and.contain('--maxmemory-policy noeviction');
    });

    it('runs Elasticsearch as one node with authentication', () => {
      const config = named(objects(), 'ConfigMap', 'chat-elasticsearch-config')['data'][
        'elasticsearch.yml'
      ];
      expect(YAML.parse(config)).to.include({
        'discovery.type': 'single-node',
        'xpack.security.enabled': true,
      });
    });

    it("generates URL-safe passwords and keeps the data services' Secrets on uninstall", () => {
      for (const name of ['chat-mysql', 'chat-redis', 'chat-rabbitmq', 'chat-elasticsearch']) {
        const secret = named(objects(), 'Secret', name);
        expect(secret.metadata.annotations?.['helm.sh/resource-policy'], name).to.equal('keep');
        for (const value of Object.values(decodeSecretData(secret)))
          expect(value, name).to.match(/^[A-Za-z0-9]{32}$/);
      }
      expect(
        decodeSecretData(named(objects(), 'Secret', 'chat-chat-system'))['admin-token'],
      ).to.match(/^[A-Za-z0-9]{40}$/);
    });

    it('builds connection URLs from Secret-sourced passwords', () => {
      const env = Object.fromEntries(
        envOf(container(deployment('api'), 'api')).map((e) => [e.name, e]),
      );
      expect(env['MYSQL_URL']?.value).to.equal(
        'mysql://chat:$(MYSQL_PASSWORD)@chat-mysql.chat.svc:3306/chat_system',
      );
      expect(env['MYSQL_PASSWORD']?.valueFrom).to.deep.equal({
        secretKeyRef: { name: 'chat-mysql', key: 'mysql-password' },
      });
      expect(env['REDIS_URL']?.value).to.equal(
        'redis://:$(REDIS_PASSWORD)@chat-redis.chat.svc:6379',
      );
      expect(env['RABBITMQ_URL']?.value).to.equal(
        'amqp://chat:$(RABBITMQ_PASSWORD)@chat-rabbitmq.chat.svc:5672',
      );
      expect(env['ELASTICSEARCH_URL']?.value).to.equal('http://chat-elasticsearch.chat.svc:9200');
      expect(env['ADMIN_TOKEN']?.valueFrom).to.deep.equal({
        secretKeyRef: { name: 'chat-chat-system', key: 'admin-token' },
      });
      expect(
        envOf(container(deployment('consumer'), 'consumer')).map((e) => e.name),
      ).to.not.include('ADMIN_TOKEN');
    });

    it('routes /api through the nginx IngressClass to the API Service, and nothing else', () => {
      const ingress = named(objects(), 'Ingress', 'chat-chat-system-api');
      expect(ingress['spec'].ingressClassName).to.equal('nginx');
      // Only what event streams need, for both nginx controllers: no buffering, and a read
      // timeout (an hour) far above the heartbeat (15 s).
      expect(ingress.metadata.annotations ?? {}).to.deep.equal({
        'nginx.ingress.kubernetes.io/proxy-buffering': 'off',
        'nginx.ingress.kubernetes.io/proxy-read-timeout': '3600',
        'nginx.ingress.kubernetes.io/proxy-send-timeout': '3600',
        'nginx.org/proxy-buffering': 'false',
        'nginx.org/proxy-read-timeout': '3600s',
        'nginx.org/proxy-send-timeout': '3600s',
      });
      expect(ingress['spec'].rules).to.deep.equal([
        {
          http: {
            paths: [
              {
                path: '/api',
                pathType: 'Prefix',
                backend: { service: { name: 'chat-chat-system-api', port: { name: 'http' } } },
              },
            ],
          },
        },
      ]);
      const service = named(objects(), 'Service', 'chat-chat-system-api');
      expect(
        service['spec'].ports.find((p: { name: string }) => p.name === 'http').targetPort,
      ).to.equal('http');
      expect(container(deployment('api'), 'api')['ports']).to.deep.include({
        name: 'http',
        containerPort: 8080,
        protocol: 'TCP',
      });
      // The heap bounds the benchmark measures the API with.
      expect(container(deployment('api'), 'api')['command']).to.deep.equal([
        'node',
        ...API_NODE_FLAGS,
        'dist/cmd/api/main.js',
      ]);
    });

    it('runs the flusher every minute, never twice at once, with bounded runs and history', () => {
      const cronJob = named(objects(), 'CronJob', 'chat-chat-system-flusher');
      const spec = cronJob['spec'];
      expect(spec).to.include({
        schedule: '* * * * *',
        concurrencyPolicy: 'Forbid',
        startingDeadlineSeconds: 30,
        successfulJobsHistoryLimit: 1,
        failedJobsHistoryLimit: 3,
      });
      expect(spec.jobTemplate.spec).to.include({ activeDeadlineSeconds: 300, backoffLimit: 1 });
      const pod = spec.jobTemplate.spec.template.spec;
      expect(pod.restartPolicy).to.equal('Never');
      expect(pod.serviceAccountName).to.equal('chat-chat-system-flusher');
      const flusher = pod.containers[0];
      expect(flusher.command).to.deep.equal(['node', 'dist/cmd/flusher/main.js', '--once']);
      const env = envOf(flusher);
      expect(env.find((e) => e.name === 'POD_NAME')?.valueFrom).to.deep.equal({
        fieldRef: { fieldPath: 'metadata.name' },
      });
      expect(env.find((e) => e.name === 'POD_NAMESPACE')?.valueFrom).to.deep.equal({
        fieldRef: { fieldPath: 'metadata.namespace' },
      });
      const config = named(objects(), 'ConfigMap', 'chat-chat-system-config')['data'];
      expect(config).to.include({
        FLUSHER_LOCK: 'kubernetes',
        FLUSHER_LOCK_NAME: 'chat-chat-system-flusher',
        FLUSHER_LOCK_TTL_SECONDS: '30',
      });
    });

    it('lets the flusher touch its Lease and nothing else', () => {
      expect(ofKind(objects(), 'ClusterRole')).to.deep.equal([]);
      const roles = ofKind(objects(), 'Role');
      expect(roles).to.have.length(1);
      for (const rule of roles[0]!['rules']) {
        expect(rule.apiGroups).to.deep.equal(['coordination.k8s.io']);
        expect(rule.resources).to.deep.equal(['leases']);
        expect(['get', 'create', 'update']).to.include.members(rule.verbs);
        if (rule.verbs.some((verb: string) => verb !== 'create'))
          expect(rule.resourceNames).to.deep.equal(['chat-chat-system-flusher']);
      }
      const binding = named(objects(), 'RoleBinding', 'chat-chat-system-flusher');
      expect(binding['roleRef']).to.include({ kind: 'Role', name: roles[0]!.metadata.name });
      expect(binding['subjects']).to.deep.equal([
        { kind: 'ServiceAccount', name: 'chat-chat-system-flusher', namespace: NAMESPACE },
      ]);
    });

    it('migrates in a post-install/post-upgrade hook while the programs wait for the schema', () => {
      const job = named(objects(), 'Job', 'chat-chat-system-migrate');
      expect(job.metadata.annotations).to.include({
        'helm.sh/hook': 'post-install,post-upgrade',
        'helm.sh/hook-delete-policy': 'before-hook-creation,hook-succeeded',
      });
      expect(container(job, 'migrate')['command']).to.deep.equal([
        'node',
        'dist/cmd/migrate/main.js',
      ]);
      expect(envOf(container(job, 'wait-for-mysql'))).to.deep.include({
        name: 'MYSQL_HOST',
        value: 'chat-mysql.chat.svc',
      });
      for (const owner of [
        deployment('api'),
        deployment('consumer'),
        named(objects(), 'CronJob', 'chat-chat-system-flusher'),
      ]) {
        const init = container(owner, 'wait-for-schema');
        expect(init['command'].join(' '), owner.metadata.name).to.contain(
          'until node dist/cmd/migrate/main.js --check',
        );
      }
    });

    it('keeps the reindex Job template suspended and runs the reindex program', () => {
      const cronJob = named(objects(), 'CronJob', 'chat-chat-system-reindex');
      expect(cronJob['spec'].suspend).to.equal(true);
      const reindex = cronJob['spec'].jobTemplate.spec.template.spec.containers[0];
      expect([...reindex.command, ...reindex.args]).to.deep.equal([
        'node',
        'dist/cmd/reindex/main.js',
        '--all',
      ]);
    });

    it("renders a ConfigMap that the programs' configuration schema accepts", () => {
      const data = named(objects(), 'ConfigMap', 'chat-chat-system-config')['data'] as Record<
        string,
        string
      >;
      const config = loadConfig(data);
      expect(config.rabbitmq.maxUnconfirmedBytes).to.equal(32 * 1024 * 1024);
      expect(config.live).to.include({ heartbeatMs: 15_000, minEvents: 1_000, pageEnabled: true });
    });

    it('gives the programs longer to stop than they take to drain', () => {
      const shutdownSeconds =
        Number(
          named(objects(), 'ConfigMap', 'chat-chat-system-config')['data']['SHUTDOWN_TIMEOUT_MS'],
        ) / 1000;
      const api = podTemplates([deployment('api')])[0]!.spec;
      const preStop = api.containers[0]!['lifecycle'].preStop.sleep.seconds;
      expect(api['terminationGracePeriodSeconds']).to.be.greaterThan(shutdownSeconds + preStop);
      const consumer = podTemplates([deployment('consumer')])[0]!.spec;
      expect(consumer['terminationGracePeriodSeconds']).to.be.greaterThan(shutdownSeconds);
      const flusher = podTemplates([named(objects(), 'CronJob', 'chat-chat-system-flusher')])[0]!
        .spec;
      expect(flusher['terminationGracePeriodSeconds']).to.be.greaterThan(shutdownSeconds);
    });

    it('spreads the API and consumer replicas over nodes and zones', () => {
      for (const component of ['api', 'consumer']) {
        const constraints = podTemplates([deployment(component)])[0]!.spec[
          'topologySpreadConstraints'
        ];
        expect(constraints.map((c: { topologyKey: string }) => c.topologyKey)).to.deep.equal([
          'kubernetes.io/hostname',
          'topology.kubernetes.io/zone',
        ]);
        expect(constraints[0].labelSelector.matchLabels['app.kubernetes.io/component']).to.equal(
          component,
        );
      }
    });

    it('rolls the pods when their configuration changes', async () => {
      const checksum = (objs: K8sObject[]) =>
        podTemplates([named(objs, 'Deployment', 'chat-chat-system-api')])[0]!.owner['spec'].template
          .metadata.annotations['checksum/config'];
      const before = checksum(objects());
      const again = await helmTemplate(helm, { release: RELEASE, namespace: NAMESPACE });
      const changed = await helmTemplate(helm, {
        release: RELEASE,
        namespace: NAMESPACE,
        set: { 'config.logLevel': 'debug' },
      });
      expect(before).to.match(/^[0-9a-f]{64}$/);
      expect(checksum(again)).to.equal(before);
      expect(checksum(changed)).to.not.equal(before);
    });

    it("lets only this release's programs reach the data services", () => {
      const policies = ofKind(objects(), 'NetworkPolicy');
      expect(policies.map((p) => p.metadata.name).sort()).to.deep.equal([
        'chat-elasticsearch',
        'chat-mysql',
        'chat-rabbitmq',
        'chat-redis',
      ]);
      for (const policy of policies) {
        const from = policy['spec'].ingress[0].from;
        expect(from, policy.metadata.name).to.have.length(1);
        const expressions = Object.fromEntries(
          from[0].podSelector.matchExpressions.map((e: { key: string; values: string[] }) => [
            e.key,
            e.values,
          ]),
        );
        expect(expressions['app.kubernetes.io/instance']).to.deep.equal([RELEASE]);
        expect(expressions['app.kubernetes.io/component']).to.deep.equal([
          'api',
          'consumer',
          'flusher',
          'migrate',
          'reindex',
        ]);
        expect(from[0].namespaceSelector).to.equal(undefined);
      }
    });

    it('renders no monitoring objects on a cluster without the CRDs', () => {
      for (const kind of ['ServiceMonitor', 'PodMonitor', 'PrometheusRule'])
        expect(ofKind(objects(), kind), kind).to.deep.equal([]);
      expect(ofKind(objects(), 'ConfigMap').map((c) => c.metadata.name)).to.not.include(
        'chat-chat-system-dashboard',
      );
    });
  });

  describe('with external services', () => {
    const objects = () => render('external services (all subcharts off)');
    const apiEnv = () => {
      const api = named(objects(), 'Deployment', 'chat-chat-system-api');
      return Object.fromEntries(
        envOf(podTemplates([api])[0]!.spec.containers[0]!).map((e) => [e.name, e]),
      );
    };

    it('deploys no data service', () => {
      expect(ofKind(objects(), 'StatefulSet')).to.deep.equal([]);
      expect(
        ofKind(objects(), 'Secret')
          .map((s) => s.metadata.name)
          .sort(),
      ).to.deep.equal(['chat-chat-system', 'chat-chat-system-external']);
    });

    it('connects to the given hosts with the given schemes, users and Secrets', () => {
      const env = apiEnv();
      expect(env['MYSQL_URL']?.value).to.equal(
        'mysql://chat:$(MYSQL_PASSWORD)@db.example.com:3306/chat_system',
      );
      expect(env['MYSQL_PASSWORD']?.valueFrom).to.deep.equal({
        secretKeyRef: { name: 'managed-db', key: 'password' },
      });
      expect(env['MYSQL_READ_URL']?.value).to.equal(
        'mysql://chat:$(MYSQL_PASSWORD)@db-replica.example.com:3306/chat_system',
      );
      expect(env['MYSQL_READ_WAIT_MS']?.value).to.equal('100');
      // The consumer records the positions the API's replica reads wait for.
      const consumer = named(objects(), 'Deployment', 'chat-chat-system-consumer');
      const consumerEnv = envOf(podTemplates([consumer])[0]!.spec.containers[0]!);
      expect(consumerEnv.find((e) => e.name === 'MYSQL_READ_URL')?.value).to.equal(
        env['MYSQL_READ_URL']?.value,
      );
      // Implied by the read URL: no separate switch is rendered.
      expect(env['MYSQL_RECORD_POSITIONS']).to.equal(undefined);
      expect(env['REDIS_URL']?.value).to.equal(
        'rediss://:$(REDIS_PASSWORD)@cache.example.com:6380',
      );
      expect(env['REDIS_PASSWORD']?.valueFrom).to.deep.equal({
        secretKeyRef: { name: 'chat-chat-system-external', key: 'redis-password' },
      });
      expect(env['RABBITMQ_URL']?.value).to.equal(
        'amqps://chat-prod:$(RABBITMQ_PASSWORD)@mq.example.com:5672/chat%2Fprod',
      );
      expect(env['ELASTICSEARCH_URL']?.value).to.equal('https://search.example.com:9243');
      expect(env['ELASTICSEARCH_PASSWORD']?.valueFrom).to.deep.equal({
        secretKeyRef: { name: 'managed-es', key: 'elasticsearch-password' },
      });
      const external = decodeSecretData(named(objects(), 'Secret', 'chat-chat-system-external'));
      expect(external).to.deep.equal({ 'redis-password': 'inline-redis-password' });
    });

    it('falls back to MySQL search without any Elasticsearch, and drops the reindex Job', async () => {
      const objs = await helmTemplate(helm, {
        release: RELEASE,
        namespace: NAMESPACE,
        values: [
          combos['external services (all subcharts off)']!.values![0]!,
          { externalElasticsearch: { url: '' } },
        ],
      });
      const api = named(objs, 'Deployment', 'chat-chat-system-api');
      expect(envOf(podTemplates([api])[0]!.spec.containers[0]!).map((e) => e.name)).to.not.include(
        'ELASTICSEARCH_URL',
      );
      expect(ofKind(objs, 'CronJob').map((c) => c.metadata.name)).to.deep.equal([
        'chat-chat-system-flusher',
      ]);
    });

    it('records positions before reading a replica, when asked to (the first step of turning it on)', async () => {
      const objs = await helmTemplate(helm, {
        release: RELEASE,
        namespace: NAMESPACE,
        values: [
          combos['external services (all subcharts off)']!.values![0]!,
          { externalMysql: { readHost: '', recordPositions: true } },
        ],
      });
      for (const component of ['api', 'consumer']) {
        const deployment = named(objs, 'Deployment', `chat-chat-system-${component}`);
        const env = envOf(podTemplates([deployment])[0]!.spec.containers[0]!);
        expect(env.find((e) => e.name === 'MYSQL_RECORD_POSITIONS')?.value).to.equal('true');
        expect(env.map((e) => e.name)).to.not.include('MYSQL_READ_URL');
      }
    });

    it('refuses to render without the external hosts it needs', async () => {
      const attempt = (values: object) =>
        helmTemplate(helm, { values: [values] }).then(
          () => 'rendered',
          (error: Error) => error.message,
        );
      expect(await attempt({ mysql: { enabled: false } })).to.contain(
        'mysql.enabled=false needs externalMysql.host',
      );
      expect(await attempt({ redis: { enabled: false } })).to.contain('externalRedis.host');
      expect(await attempt({ externalMysql: { readHost: 'replica' } })).to.contain(
        'externalMysql.readHost needs mysql.enabled=false',
      );
      expect(
        await attempt({ rabbitmq: { enabled: false }, externalRabbitmq: { host: 'mq' } }),
      ).to.contain('externalRabbitmq.existingSecret');
    });
  });

  describe('with HPA, PDB and NetworkPolicy on', () => {
    const objects = () => render('HPA, PDB and NetworkPolicy on');

    it('autoscales the API and the consumer instead of fixing their replicas', () => {
      for (const component of ['api', 'consumer']) {
        const hpa = named(objects(), 'HorizontalPodAutoscaler', `chat-chat-system-${component}`);
        expect(hpa['spec'].scaleTargetRef).to.deep.equal({
          apiVersion: 'apps/v1',
          kind: 'Deployment',
          name: `chat-chat-system-${component}`,
        });
        expect(hpa['spec'].metrics[0].resource).to.deep.equal({
          name: 'cpu',
          target: { type: 'Utilization', averageUtilization: 70 },
        });
        expect(
          named(objects(), 'Deployment', `chat-chat-system-${component}`)['spec'].replicas,
        ).to.equal(undefined);
      }
      const api = named(objects(), 'HorizontalPodAutoscaler', 'chat-chat-system-api')['spec'];
      expect(api).to.include({ minReplicas: 3, maxReplicas: 12 });
      expect(api.metrics[1].resource.name).to.equal('memory');
    });

    it('lets only the ingress controller (and the helm test) reach the API, and only monitoring its metrics', () => {
      const policy = named(objects(), 'NetworkPolicy', 'chat-chat-system-api')['spec'];
      expect(policy.policyTypes).to.deep.equal(['Ingress', 'Egress']);
      const [publicRule, metricsRule] = policy.ingress;
      expect(publicRule.ports).to.deep.equal([{ port: 'http', protocol: 'TCP' }]);
      expect(publicRule.from).to.deep.equal([
        {
          namespaceSelector: {
            matchExpressions: [
              {
                key: 'kubernetes.io/metadata.name',
                operator: 'In',
                values: ['ingress-nginx', 'nginx-ingress'],
              },
            ],
          },
        },
        {
          podSelector: {
            matchLabels: {
              'app.kubernetes.io/name': 'chat-system',
              'app.kubernetes.io/instance': RELEASE,
              'app.kubernetes.io/component': 'test',
            },
          },
        },
      ]);
      expect(metricsRule.ports).to.deep.equal([{ port: 'metrics', protocol: 'TCP' }]);
      expect(metricsRule.from).to.deep.equal([
        { namespaceSelector: { matchLabels: { 'kubernetes.io/metadata.name': 'monitoring' } } },
      ]);
    });

    it('denies all inbound traffic to the flusher, migration and reindex pods', () => {
      const policy = named(objects(), 'NetworkPolicy', 'chat-chat-system-jobs')['spec'];
      expect(policy.policyTypes).to.deep.equal(['Ingress', 'Egress']);
      expect(policy.ingress).to.equal(undefined);
      const components = policy.podSelector.matchExpressions.find(
        (e: { key: string }) => e.key === 'app.kubernetes.io/component',
      ).values;
      expect(components).to.deep.equal(['flusher', 'migrate', 'reindex']);
    });
    it('lets the programs reach only DNS, their data services and (the jobs) the Kubernetes API', () => {
      const dataRule = {
        to: [
          {
            podSelector: {
              matchExpressions: [
                { key: 'app.kubernetes.io/instance', operator: 'In', values: [RELEASE] },
                {
                  key: 'app.kubernetes.io/name',
                  operator: 'In',
                  values: ['mysql', 'redis', 'rabbitmq', 'elasticsearch'],
                },
              ],
            },
          },
        ],
        ports: [3306, 6379, 5672, 9200].map((port) => ({ port, protocol: 'TCP' })),
      };
      for (const name of ['api', 'consumer', 'jobs']) {
        const egress = named(objects(), 'NetworkPolicy', `chat-chat-system-${name}`)['spec'].egress;
        expect(egress[0].ports, name).to.deep.equal([
          { port: 53, protocol: 'UDP' },
          { port: 53, protocol: 'TCP' },
        ]);
        expect(egress[0].to[0].podSelector.matchLabels).to.deep.equal({ 'k8s-app': 'kube-dns' });
        expect(egress[1], name).to.deep.equal(dataRule);
        expect(egress, name).to.have.length(name === 'jobs' ? 3 : 2);
      }
      const jobs = named(objects(), 'NetworkPolicy', 'chat-chat-system-jobs')['spec'].egress;
      expect(jobs[2].ports).to.deep.equal([
        { port: 443, protocol: 'TCP' },
        { port: 6443, protocol: 'TCP' },
      ]);
    });
  });

  describe('secrets, the message broker user and the edge limits', () => {
    it('rolls the pods when a Secret value changes, not only its name', async () => {
      const external = combos['external services (all subcharts off)']!;
      const checksum = (objs: K8sObject[]) =>
        podTemplates([named(objs, 'Deployment', 'chat-chat-system-api')])[0]!.owner['spec'].template
          .metadata.annotations;
      const before = checksum(render('external services (all subcharts off)'));
      const rotated = await helmTemplate(helm, {
        ...external,
        release: RELEASE,
        namespace: NAMESPACE,
        set: { 'externalRedis.password': 'rotated-redis-password' },
      });
      expect(before['checksum/secret-values']).to.match(/^[0-9a-f]{64}$/);
      expect(before).to.not.have.property('checksum/secret-refs');
      expect(checksum(rotated)['checksum/secret-values']).to.not.equal(
        before['checksum/secret-values'],
      );
    });

    it('creates the RabbitMQ application user without the administrator tag, on its vhost only', () => {
      const config = named(render('defaults'), 'ConfigMap', 'chat-rabbitmq-config')['data'][
        'rabbitmq.conf'
      ] as string;
      expect(config).to.include('default_user_tags.administrator = false');
      expect(config).to.include('default_vhost = /');
      expect(config).to.match(/default_permissions\.configure = /);
    });

    it('passes the edge limits, trusted proxies and CORS origins to the programs', () => {
      const data = named(render('defaults'), 'ConfigMap', 'chat-chat-system-config')['data'];
      expect(data).to.include({
        HTTP_HEADERS_TIMEOUT_MS: '10000',
        HTTP_MAX_CONNECTIONS: '4096',
        REDIS_COMMAND_TIMEOUT_MS: '2000',
        MYSQL_QUERY_TIMEOUT_MS: '30000',
        RATE_LIMIT_ENABLED: 'true',
        RATE_LIMIT_APPLICATIONS_MAX: '20',
        TRUSTED_PROXIES: '10.0.0.0/8,172.16.0.0/12,192.168.0.0/16',
        CORS_ALLOWED_ORIGINS: '',
      });
    });
  });

  describe('with a replicated broker and a Valkey cluster', () => {
    const objects = () => render('replicated broker and Valkey cluster');
    const statefulSet = (name: string) => named(objects(), 'StatefulSet', name);
    const podSpec = (name: string) => podTemplates([statefulSet(name)])[0]!.spec;
    const envMap = (container: Container) =>
      Object.fromEntries(envOf(container).map((e) => [e.name, e]));
    const apiEnv = () =>
      envMap(
        podTemplates([named(objects(), 'Deployment', 'chat-chat-system-api')])[0]!.spec
          .containers[0]!,
      );
    const chartFile = (file: string) =>
      readFile(path.join(chartDir, 'charts', 'redis', 'files', file), 'utf8');

    it('runs three RabbitMQ nodes started together, discovering each other through Kubernetes', () => {
      const spec = statefulSet('chat-rabbitmq')['spec'];
      expect(spec).to.include({ replicas: 3, podManagementPolicy: 'Parallel' });
      const data = named(objects(), 'ConfigMap', 'chat-rabbitmq-config')['data'];
      const conf = data['rabbitmq.conf'] as string;
      expect(conf)
        .to.match(/^cluster_formation\.peer_discovery_backend = k8s$/m)
        .and.match(/^cluster_formation\.k8s\.service_name = chat-rabbitmq$/m)
        .and.match(/^cluster_formation\.k8s\.address_type = hostname$/m)
        .and.match(
          /^cluster_formation\.k8s\.hostname_suffix = \.chat-rabbitmq\.chat\.svc\.cluster\.local$/m,
        )
        .and.match(/^cluster_partition_handling = pause_minority$/m);
      expect(data['enabled_plugins']).to.contain('rabbitmq_peer_discovery_k8s');
      // Node names are the pods' DNS names under the headless Service the plugin reads.
      const env = envMap(podSpec('chat-rabbitmq').containers[0]!);
      expect(env['RABBITMQ_USE_LONGNAME']?.value).to.equal('true');
      expect(env['RABBITMQ_NODENAME']?.value).to.equal(
        'rabbit@$(POD_NAME).chat-rabbitmq.chat.svc.cluster.local',
      );
      expect(env['POD_NAME']?.valueFrom).to.deep.equal({
        fieldRef: { fieldPath: 'metadata.name' },
      });
    });

    it('gives every quorum queue three members on distinct nodes, and spreads their leaders', () => {
      const data = named(objects(), 'ConfigMap', 'chat-rabbitmq-config')['data'];
      expect(data['advanced.config']).to.contain('{quorum_cluster_size, 3}');
      const conf = data['rabbitmq.conf'] as string;
      expect(conf)
        .to.match(/^quorum_queue\.continuous_membership_reconciliation\.enabled = true$/m)
        .and.match(/^quorum_queue\.continuous_membership_reconciliation\.target_group_size = 3$/m)
        .and.match(/^queue_leader_locator = balanced$/m);
      expect(
        named(objects(), 'ConfigMap', 'chat-chat-system-config')['data'][
          'RABBITMQ_WRITE_PARTITIONS'
        ],
      ).to.equal('3');
    });

    it('lets the broker read its own Endpoints and nothing else', () => {
      expect(ofKind(objects(), 'ClusterRole')).to.deep.equal([]);
      const role = named(objects(), 'Role', 'chat-rabbitmq-peer-discovery');
      expect(role['rules']).to.deep.equal([
        {
          apiGroups: [''],
          resources: ['endpoints'],
          resourceNames: ['chat-rabbitmq'],
          verbs: ['get'],
        },
      ]);
      const binding = named(objects(), 'RoleBinding', 'chat-rabbitmq-peer-discovery');
      expect(binding['roleRef']).to.include({ kind: 'Role', name: 'chat-rabbitmq-peer-discovery' });
      expect(binding['subjects']).to.deep.equal([
        { kind: 'ServiceAccount', name: 'chat-rabbitmq', namespace: NAMESPACE },
      ]);
      const account = named(objects(), 'ServiceAccount', 'chat-rabbitmq');
      expect(account['automountServiceAccountToken']).to.equal(false);
      expect(podSpec('chat-rabbitmq')).to.include({
        serviceAccountName: 'chat-rabbitmq',
        automountServiceAccountToken: true,
      });
    });

    it('keeps the token out of the broker when its RabbitMQ reads no Kubernetes API', async () => {
      const objs = await helmTemplate(helm, {
        release: RELEASE,
        namespace: NAMESPACE,
        values: [{ rabbitmq: { replicas: 3, rbac: { create: false } } }],
      });
      const spec = podTemplates([named(objs, 'StatefulSet', 'chat-rabbitmq')])[0]!.spec;
      expect(spec['automountServiceAccountToken']).to.equal(false);
      expect(spec['serviceAccountName']).to.equal(undefined);
      expect(ofKind(objs, 'Role').map((r) => r.metadata.name)).to.deep.equal([
        'chat-chat-system-flusher',
      ]);
      const conf = named(objs, 'ConfigMap', 'chat-rabbitmq-config')['data']['rabbitmq.conf'];
      expect(conf).to.contain('cluster_formation.peer_discovery_backend = k8s');
      expect(conf).to.not.contain('cluster_formation.k8s.service_name');
      expect(tokenViolations(objs)).to.deep.equal([]);
    });

    it('shares one generated Erlang cookie, kept on upgrade, readable by its owner only', () => {
      const secret = named(objects(), 'Secret', 'chat-rabbitmq-erlang-cookie');
      expect(secret.metadata.annotations?.['helm.sh/resource-policy']).to.equal('keep');
      expect(decodeSecretData(secret)['erlang-cookie']).to.match(/^[A-Za-z0-9]{64}$/);
      const spec = podSpec('chat-rabbitmq');
      expect(spec['volumes']).to.deep.include({
        name: 'erlang-cookie',
        secret: { secretName: 'chat-rabbitmq-erlang-cookie', defaultMode: 0o400 },
      });
      const init = spec.initContainers!.find((c) => c.name === 'erlang-cookie')!;
      const script = (init['command'] as string[]).join(' ');
      expect(script)
        .to.contain('/run/erlang-cookie/erlang-cookie')
        .and.contain('chmod 600')
        .and.contain('/var/lib/rabbitmq/.erlang.cookie');
      expect(envMap(spec.containers[0]!)['HOME']?.value).to.equal('/var/lib/rabbitmq');
    });

    it('lists booting nodes to each other, and balances clients over the ready ones', () => {
      const headless = named(objects(), 'Service', 'chat-rabbitmq')['spec'];
      expect(headless).to.include({ clusterIP: 'None', publishNotReadyAddresses: true });
      expect(statefulSet('chat-rabbitmq')['spec'].serviceName).to.equal('chat-rabbitmq');
      const client = named(objects(), 'Service', 'chat-rabbitmq-client')['spec'];
      expect(client.clusterIP).to.equal(undefined);
      expect(client.type).to.equal('ClusterIP');
      expect(client.selector).to.deep.equal(headless.selector);
      expect(client.ports).to.deep.equal([
        { name: 'amqp', port: 5672, targetPort: 'amqp', protocol: 'TCP' },
      ]);
      expect(apiEnv()['RABBITMQ_URL']?.value).to.equal(
        'amqp://chat:$(RABBITMQ_PASSWORD)@chat-rabbitmq-client.chat.svc:5672',
      );
      // Readiness is the AMQP listener alone: nothing a booting node waits on.
      const broker = podSpec('chat-rabbitmq').containers[0]!;
      expect(broker['readinessProbe'].tcpSocket).to.deep.equal({ port: 'amqp' });
    });

    it('stops a broker node only once its quorum queues can spare a member', () => {
      const spec = podSpec('chat-rabbitmq');
      expect(spec.containers[0]!['lifecycle'].preStop.exec.command).to.deep.equal([
        'rabbitmq-upgrade',
        '--quiet',
        'await_online_quorum_plus_one',
        '--timeout',
        '120',
      ]);
      expect(spec['terminationGracePeriodSeconds']).to.be.greaterThan(120);
    });

    it('lets a drain take one broker node and one Valkey node at a time', () => {
      for (const name of ['chat-rabbitmq', 'chat-redis']) {
        const pdb = named(objects(), 'PodDisruptionBudget', name)['spec'];
        expect(pdb.maxUnavailable, name).to.equal(1);
        expect(pdb.selector.matchLabels, name).to.deep.equal(
          statefulSet(name)['spec'].selector.matchLabels,
        );
      }
    });

    it('spreads broker and Valkey nodes over machines and zones', async () => {
      for (const name of ['chat-rabbitmq', 'chat-redis']) {
        const spec = podSpec(name);
        const selector = statefulSet(name)['spec'].selector.matchLabels;
        expect(
          spec['topologySpreadConstraints'].map(
            (c: { topologyKey: string; whenUnsatisfiable: string; nodeTaintsPolicy: string }) => [
              c.topologyKey,
              c.whenUnsatisfiable,
              c.nodeTaintsPolicy,
            ],
          ),
          name,
        ).to.deep.equal([
          ['kubernetes.io/hostname', 'DoNotSchedule', 'Honor'],
          ['topology.kubernetes.io/zone', 'ScheduleAnyway', 'Honor'],
        ]);
        const [preferred] =
          spec['affinity'].podAntiAffinity.preferredDuringSchedulingIgnoredDuringExecution;
        expect(preferred.podAffinityTerm, name).to.deep.equal({
          topologyKey: 'kubernetes.io/hostname',
          labelSelector: { matchLabels: selector },
        });
      }
      const hard = await helmTemplate(helm, {
        release: RELEASE,
        namespace: NAMESPACE,
        values: [
          { rabbitmq: { replicas: 3, podAntiAffinity: 'hard' } },
          { redis: { cluster: { enabled: true }, podAntiAffinity: 'none' } },
        ],
      });
      const affinity = (name: string) =>
        podTemplates([named(hard, 'StatefulSet', name)])[0]!.spec['affinity'];
      expect(
        affinity('chat-rabbitmq').podAntiAffinity.requiredDuringSchedulingIgnoredDuringExecution[0]
          .topologyKey,
      ).to.equal('kubernetes.io/hostname');
      expect(affinity('chat-redis')).to.equal(undefined);
    });

    it('runs six Valkey nodes in cluster mode, started together, persisting slots and data', async () => {
      const spec = statefulSet('chat-redis')['spec'];
      expect(spec).to.include({ replicas: 6, podManagementPolicy: 'Parallel' });
      expect(named(objects(), 'Service', 'chat-redis')['spec']).to.include({
        clusterIP: 'None',
        publishNotReadyAddresses: true,
      });
      const valkey = podSpec('chat-redis').containers[0]!;
      const args = (valkey['args'] as string[]).join(' ');
      expect(args)
        .to.match(/^valkey-server /)
        .and.contain('--appendonly yes')
        .and.contain('--cluster-enabled yes')
        .and.contain('--cluster-config-file /data/nodes.conf')
        .and.contain('--masterauth $(REDIS_PASSWORD)')
        .and.contain('--cluster-announce-ip $(POD_IP)')
        .and.contain('--cluster-announce-hostname $(POD_NAME).chat-redis.chat.svc.cluster.local');
      expect(valkey['command']).to.deep.equal(['sh', '-c', await chartFile('cluster-start.sh')]);
      expect(valkey['volumeMounts']).to.deep.include({ name: 'data', mountPath: '/data' });
      expect(valkey['ports']).to.deep.include({
        name: 'bus',
        containerPort: 16379,
        protocol: 'TCP',
      });
    });

    it('creates the Valkey cluster in a hook Job over every node, with one replica per primary', async () => {
      const job = named(objects(), 'Job', 'chat-redis-cluster-create');
      expect(job.metadata.annotations).to.include({
        'helm.sh/hook': 'post-install,post-upgrade',
        'helm.sh/hook-delete-policy': 'before-hook-creation,hook-succeeded',
      });
      const container = podTemplates([job])[0]!.spec.containers[0]!;
      expect(container['command']).to.deep.equal([
        'sh',
        '-c',
        await chartFile('cluster-create.sh'),
      ]);
      const env = envMap(container);
      expect(env['NODES']?.value?.split(' ')).to.deep.equal(
        [0, 1, 2, 3, 4, 5].map((i) => `chat-redis-${i}.chat-redis.chat.svc.cluster.local:6379`),
      );
      expect(env['REPLICAS']?.value).to.equal('1');
      expect(env['CLI']?.value).to.equal('valkey-cli');
      expect(env['REDIS_PASSWORD']?.valueFrom).to.deep.equal({
        secretKeyRef: { name: 'chat-redis', key: 'redis-password' },
      });
      // Its pod is no node of the cluster.
      expect(podTemplates([job])[0]!.labels['app.kubernetes.io/component']).to.equal(
        'cluster-create',
      );
    });

    it('hands the programs every Valkey node as a cluster seed instead of a URL', () => {
      const env = apiEnv();
      expect(env['REDIS_URL']).to.equal(undefined);
      expect(env['REDIS_CLUSTER_NODES']?.value?.split(',')).to.deep.equal(
        [0, 1, 2, 3, 4, 5].map((i) => `chat-redis-${i}.chat-redis.chat.svc:6379`),
      );
      expect(env['REDIS_PASSWORD']?.valueFrom).to.deep.equal({
        secretKeyRef: { name: 'chat-redis', key: 'redis-password' },
      });
      expect(env['REDIS_TLS']?.value).to.equal('false');
    });

    it("renders a Redis Cluster configuration the programs' configuration schema accepts", () => {
      const config = loadConfig(programEnv(objects()));
      expect(config.redis.cluster?.nodes).to.have.length(6);
      expect(config.redis.cluster?.nodes[0]).to.deep.equal({
        host: 'chat-redis-0.chat-redis.chat.svc',
        port: 6379,
      });
      expect(config.redis.cluster).to.include({ tls: false, password: SECRET_PLACEHOLDER });
    });

    it('opens the cluster ports between nodes only, and the Valkey client port to the Job', () => {
      const rules = (name: string) =>
        named(objects(), 'NetworkPolicy', name)['spec'].ingress as {
          from: { podSelector?: { matchLabels?: Record<string, string> } }[];
          ports: { port: string }[];
        }[];
      const fromOwnPods = (name: string) =>
        rules(name).find(
          (rule) =>
            JSON.stringify(rule.from[0]?.podSelector?.matchLabels) ===
            JSON.stringify(statefulSet(name)['spec'].selector.matchLabels),
        );
      expect(fromOwnPods('chat-rabbitmq')?.ports.map((p) => p.port)).to.deep.equal([
        'epmd',
        'dist',
      ]);
      expect(fromOwnPods('chat-redis')?.ports.map((p) => p.port)).to.deep.equal(['redis', 'bus']);
      const fromJob = rules('chat-redis').find(
        (rule) =>
          rule.from[0]?.podSelector?.matchLabels?.['app.kubernetes.io/component'] ===
          'cluster-create',
      );
      expect(fromJob?.ports.map((p) => p.port)).to.deep.equal(['redis']);
    });

    it('refuses an even broker cluster and quorum queues larger than it', async () => {
      const failure = (values: object) =>
        helmTemplate(helm, { values: [values] }).then(
          () => 'rendered',
          (error: Error) => error.message,
        );
      expect(await failure({ rabbitmq: { replicas: 2 } })).to.contain(
        'rabbitmq.replicas must be odd',
      );
      expect(
        await failure({ rabbitmq: { replicas: 3, clustering: { quorumQueueSize: 5 } } }),
      ).to.contain('quorumQueueSize must not exceed rabbitmq.replicas');
      expect(await failure({ redis: { cluster: { enabled: true, shards: 2 } } })).to.contain(
        "redis:\n- at '/cluster/shards': minimum",
      );
      expect(await failure({ config: { rabbitmqWritePartitions: 0 } })).to.contain(
        '/config/rabbitmqWritePartitions',
      );
    });
  });

  describe('with an external Redis Cluster', () => {
    const objects = () => render('external Redis Cluster');

    it('hands the programs its seeds, user, TLS and CA, and deploys no Valkey', () => {
      expect(ofKind(objects(), 'StatefulSet').map((s) => s.metadata.name)).to.not.include(
        'chat-redis',
      );
      const api = podTemplates([named(objects(), 'Deployment', 'chat-chat-system-api')])[0]!.spec
        .containers[0]!;
      const env = Object.fromEntries(envOf(api).map((e) => [e.name, e]));
      expect(env['REDIS_URL']).to.equal(undefined);
      expect(env['REDIS_CLUSTER_NODES']?.value).to.equal(
        'cache-0.example.com:6380,cache-1.example.com:6380',
      );
      expect(env['REDIS_USERNAME']?.value).to.equal('chat');
      expect(env['REDIS_PASSWORD']?.valueFrom).to.deep.equal({
        secretKeyRef: { name: 'cache-creds', key: 'redis-password' },
      });
      expect(env['REDIS_TLS']?.value).to.equal('true');
      expect(env['REDIS_TLS_CA_FILE']?.value).to.equal('/etc/chat-system/redis-ca/ca.crt');
    });

    it("renders a configuration the programs' configuration schema accepts", () => {
      const cluster = loadConfig(programEnv(objects())).redis.cluster;
      expect(cluster?.nodes).to.deep.equal([
        { host: 'cache-0.example.com', port: 6380 },
        { host: 'cache-1.example.com', port: 6380 },
      ]);
      expect(cluster).to.include({
        username: 'chat',
        tls: true,
        tlsCaFile: '/etc/chat-system/redis-ca/ca.crt',
      });
    });

    it('mounts the CA into every container that is handed its path', () => {
      let checked = 0;
      for (const { owner, spec } of podTemplates(objects())) {
        for (const container of allContainers(spec)) {
          if (!envOf(container).some((e) => e.name === 'REDIS_TLS_CA_FILE')) continue;
          checked += 1;
          const where = `${owner.metadata.name}/${container.name}`;
          expect(container['volumeMounts'], where).to.deep.include({
            name: 'redis-ca',
            mountPath: '/etc/chat-system/redis-ca',
            readOnly: true,
          });
          expect(spec['volumes'], where).to.deep.include({
            name: 'redis-ca',
            secret: { secretName: 'cache-ca', items: [{ key: 'ca.crt', path: 'ca.crt' }] },
          });
        }
      }
      // api, consumer, flusher, migrate, reindex, and their wait-for-schema init containers.
      expect(checked).to.be.greaterThanOrEqual(8);
    });
  });

  describe('with an HTTPRoute instead of an Ingress', () => {
    const objects = () => render('HTTPRoute instead of Ingress');

    it('attaches the API to the given Gateway on /api', () => {
      expect(ofKind(objects(), 'Ingress')).to.deep.equal([]);
      const route = named(objects(), 'HTTPRoute', 'chat-chat-system-api')['spec'];
      expect(route.parentRefs).to.deep.equal([
        { name: 'public', namespace: 'gateway-system', sectionName: 'https' },
      ]);
      expect(route.hostnames).to.deep.equal(['chat.example.com']);
      expect(route.rules).to.deep.equal([
        {
          matches: [{ path: { type: 'PathPrefix', value: '/api' } }],
          timeouts: { request: '1h', backendRequest: '1h' },
          backendRefs: [{ name: 'chat-chat-system-api', port: 80 }],
        },
      ]);
    });

    it('refuses a proxy read timeout that idle event streams would outlive', async () => {
      const message = await helmTemplate(helm, {
        values: [{ ingress: { sse: { readTimeoutSeconds: 10 } } }],
      }).then(
        () => 'rendered',
        (error: Error) => error.message,
      );
      expect(message).to.contain('ingress.sse.readTimeoutSeconds must exceed live.heartbeatMs');
    });

    it('refuses an HTTPRoute without a Gateway to attach to', async () => {
      const message = await helmTemplate(helm, { values: [{ httpRoute: { enabled: true } }] }).then(
        () => 'rendered',
        (error: Error) => error.message,
      );
      expect(message).to.contain('httpRoute.parentRefs');
    });
  });

  describe('with monitoring on', () => {
    const objects = () => render('monitoring on (CRDs declared)');

    it('scrapes the API metrics port, the consumer and the broker', () => {
      const serviceMonitor = named(objects(), 'ServiceMonitor', 'chat-chat-system-api')['spec'];
      expect(serviceMonitor.endpoints[0]).to.include({ port: 'metrics', path: '/metrics' });
      const consumer = named(objects(), 'PodMonitor', 'chat-chat-system-consumer')['spec'];
      expect(consumer.podMetricsEndpoints[0]).to.include({ port: 'http', path: '/metrics' });
      expect(consumer.selector.matchLabels['app.kubernetes.io/component']).to.equal('consumer');
      expect(
        named(objects(), 'PodMonitor', 'chat-rabbitmq')['spec'].podMetricsEndpoints[0].port,
      ).to.equal('metrics');
    });

    it('alerts on 5xx rate, consumer lag, dead letters, search lag, a stuck purge and a failing flusher', () => {
      const rules = named(objects(), 'PrometheusRule', 'chat-chat-system')['spec'].groups[0]
        .rules as { alert: string; expr: string }[];
      const expr = (alert: string) => rules.find((r) => r.alert === alert)?.expr ?? '';
      expect(rules.map((r) => r.alert)).to.include.members([
        'ChatSystemApiHighErrorRate',
        'ChatSystemConsumerLag',
        'ChatSystemDeadLetters',
        'ChatSystemDeadLetterQueueNotEmpty',
        'ChatSystemSearchIndexLag',
        'ChatSystemPurgeStuck',
        'ChatSystemFlusherNotSucceeding',
      ]);
      expect(expr('ChatSystemApiHighErrorRate')).to.contain(
        'http_requests_total{namespace="chat", service="chat-chat-system-api", status=~"5.."}',
      );
      // The write queue and each of its partitions, not its dead-letter queue.
      expect(expr('ChatSystemConsumerLag')).to.contain(
        'sum(rabbitmq_queue_messages_ready{namespace="chat", queue=~"chat-system\\\\.writes(\\\\.p[0-9]+-of-[0-9]+)?"})',
      );
      expect(expr('ChatSystemDeadLetters')).to.contain('consumer_dead_letters_total{');
      expect(expr('ChatSystemDeadLetterQueueNotEmpty')).to.match(
        /max\(consumer_dead_letter_queue_messages\{namespace="chat", pod=~"chat-chat-system-consumer-\.\*"\}\) > 0/,
      );
      expect(expr('ChatSystemSearchIndexLag')).to.match(
        /max\(search_index_lag_seconds\{namespace="chat", pod=~"[^"]+"\}\) > 300/,
      );
      expect(expr('ChatSystemPurgeStuck')).to.match(
        /max\(purge_backlog_tasks\{namespace="chat", pod=~"[^"]+"\}\) > 0/,
      );
      expect(expr('ChatSystemPurgeStuck'))
        .to.contain('increase(purge_rows_total{')
        .and.contain('[15m]');
      expect(expr('ChatSystemFlusherNotSucceeding')).to.contain(
        'cronjob="chat-chat-system-flusher"',
      );
    });

    it('ships a Grafana dashboard covering RED, the queue and the flusher', () => {
      const configMap = named(objects(), 'ConfigMap', 'chat-chat-system-dashboard');
      expect(configMap.metadata.labels?.['grafana_dashboard']).to.equal('1');
      const dashboard = JSON.parse(configMap['data']['chat-system.json']);
      const exprs = JSON.stringify(
        dashboard.panels.flatMap((p: { targets?: unknown[] }) => p.targets ?? []),
      );
      for (const metric of [
        'http_requests_total',
        'http_request_duration_seconds_bucket',
        'rabbitmq_queue_messages_ready',
        'consumer_dead_letters_total',
        'flusher_last_success_timestamp_seconds',
        'kube_cronjob_status_last_successful_time',
      ]) {
        expect(exprs, metric).to.contain(metric);
      }
    });

    it('hands the flusher its Pushgateway', () => {
      expect(
        named(objects(), 'ConfigMap', 'chat-chat-system-config')['data']['PUSHGATEWAY_URL'],
      ).to.equal('http://pushgateway.monitoring.svc:9091');
    });
  });

  describe('with existing Secrets', () => {
    const objects = () => render('existingSecret');

    it('creates no Secret and reads every password and the admin token from the named ones', () => {
      expect(ofKind(objects(), 'Secret')).to.deep.equal([]);
      const api = podTemplates([named(objects(), 'Deployment', 'chat-chat-system-api')])[0]!.spec
        .containers[0]!;
      const refs = Object.fromEntries(
        envOf(api)
          .filter((e) => e.valueFrom?.['secretKeyRef'])
          .map((e) => [e.name, e.valueFrom!['secretKeyRef']]),
      );
      expect(refs).to.deep.equal({
        ADMIN_TOKEN: { name: 'chat-admin', key: 'token' },
        MYSQL_PASSWORD: { name: 'db-creds', key: 'mysql-password' },
        REDIS_PASSWORD: { name: 'cache-creds', key: 'redis-password' },
        RABBITMQ_PASSWORD: { name: 'mq-creds', key: 'amqp-password' },
        ELASTICSEARCH_PASSWORD: { name: 'search-creds', key: 'elastic-password' },
      });
      const rabbit = podTemplates([named(objects(), 'StatefulSet', 'chat-rabbitmq')])[0]!.spec
        .containers[0]!;
      expect(
        envOf(rabbit).find((e) => e.name === 'RABBITMQ_DEFAULT_PASS')?.valueFrom,
      ).to.deep.equal({ secretKeyRef: { name: 'mq-creds', key: 'amqp-password' } });
    });
  });

  describe('images', () => {
    it('runs each program from its own image as given, and the Jobs from the API image', async () => {
      const objs = await helmTemplate(helm, {
        release: RELEASE,
        namespace: NAMESPACE,
        set: {
          'api.image.repository': 'reg.local/chat-system-api',
          'api.image.tag': 'a1',
          'consumer.image.repository': 'reg.local/chat-system-consumer',
          'consumer.image.tag': 'c2',
          'flusher.image.repository': 'reg.local/chat-system-flusher',
          'flusher.image.tag': 'f3',
        },
      });
      const images = (kind: string, name: string) =>
        Object.fromEntries(
          allContainers(podTemplates([named(objs, kind, name)])[0]!.spec).map((c) => [
            c.name,
            c.image,
          ]),
        );
      expect(images('Deployment', 'chat-chat-system-api')).to.deep.equal({
        'wait-for-schema': 'reg.local/chat-system-api:a1',
        api: 'reg.local/chat-system-api:a1',
      });
      expect(images('Deployment', 'chat-chat-system-consumer')).to.deep.equal({
        'wait-for-schema': 'reg.local/chat-system-consumer:c2',
        consumer: 'reg.local/chat-system-consumer:c2',
      });
      expect(images('CronJob', 'chat-chat-system-flusher')).to.deep.equal({
        'wait-for-schema': 'reg.local/chat-system-flusher:f3',
        flusher: 'reg.local/chat-system-flusher:f3',
      });
      expect(images('Job', 'chat-chat-system-migrate')).to.deep.equal({
        'wait-for-mysql': 'reg.local/chat-system-api:a1',
        migrate: 'reg.local/chat-system-api:a1',
      });
      expect(images('CronJob', 'chat-chat-system-reindex')).to.deep.equal({
        reindex: 'reg.local/chat-system-api:a1',
      });
    });

    it('defaults to the chart appVersion, and prefixes the registry and pins digests when given', async () => {
      const chart = YAML.parse(await readFile(path.join(chartDir, 'Chart.yaml'), 'utf8')) as {
        appVersion: string;
      };
      const api = (objs: K8sObject[]) =>
        podTemplates([named(objs, 'Deployment', 'chat-chat-system-api')])[0]!.spec.containers[0]!
          .image;
      const consumer = (objs: K8sObject[]) =>
        podTemplates([named(objs, 'Deployment', 'chat-chat-system-consumer')])[0]!.spec
          .containers[0]!.image;
      expect(api(render('defaults'))).to.equal(`chat-system-api:${chart.appVersion}`);
      const production = render('production (registry, TLS host, pull secrets)');
      expect(api(production)).to.equal(
        `registry.example.com/chat/chat-system-api@sha256:${'a'.repeat(64)}`,
      );
      expect(consumer(production)).to.equal('registry.example.com/chat/chat-system-consumer:1.4.2');
      for (const { owner, spec } of podTemplates(production).filter(
        ({ labels }) => labels['app.kubernetes.io/name'] === 'chat-system',
      )) {
        expect(spec['imagePullSecrets'], owner.metadata.name).to.deep.equal([{ name: 'regcred' }]);
      }
    });
  });

  describe('upgrades', () => {
    it('keeps every selector when the chart and app versions change', async () => {
      const dir = await mkdtemp(path.join(os.tmpdir(), 'chart-upgrade-'));
      try {
        const copy = path.join(dir, 'chat-system');
        await cp(chartDir, copy, { recursive: true });
        const chartFile = path.join(copy, 'Chart.yaml');
        const chart = YAML.parse(await readFile(chartFile, 'utf8')) as Record<string, unknown>;
        await writeFile(
          chartFile,
          YAML.stringify({ ...chart, version: '9.9.9', appVersion: '9.9.9' }),
        );
        const upgraded = await helmTemplate(helm, {
          release: RELEASE,
          namespace: NAMESPACE,
          chart: copy,
          set: { 'image.tag': 'next' },
        });

        const selectors = (objs: K8sObject[]) =>
          Object.fromEntries(
            objs
              .filter((o) =>
                ['Deployment', 'StatefulSet', 'Service', 'PodDisruptionBudget'].includes(o.kind),
              )
              .map((o) => [`${o.kind}/${o.metadata.name}`, o['spec'].selector]),
          );
        expect(selectors(upgraded)).to.deep.equal(selectors(render('defaults')));
        const version = (objs: K8sObject[]) =>
          named(objs, 'Deployment', 'chat-chat-system-api').metadata.labels?.[
            'app.kubernetes.io/version'
          ];
        expect(version(upgraded)).to.equal('9.9.9');
        expect(version(upgraded)).to.not.equal(version(render('defaults')));
      } finally {
        await rm(dir, { recursive: true, force: true });
      }
    });
  });

  describe('values schema', () => {
    const failure = (options: RenderOptions) =>
      helmTemplate(helm, options).then(
        () => 'rendered',
        (error: Error) => error.message,
      );

    it('rejects unknown keys at every level, in the chart and in the subcharts', async () => {
      expect(await failure({ set: { replicas: '3' } })).to.contain(
        "additional properties 'replicas' not allowed",
      );
      expect(await failure({ set: { 'api.replicas': '3' } })).to.contain(
        "additional properties 'replicas' not allowed",
      );
      expect(await failure({ set: { 'mysql.auth.rootPassword': 'x' } })).to.contain(
        "additional properties 'rootPassword' not allowed",
      );
    });

    it('rejects a root user and misspelt security settings', async () => {
      expect(await failure({ set: { 'podSecurityContext.runAsUser': '0' } })).to.contain(
        '/podSecurityContext/runAsUser',
      );
      expect(
        await failure({ set: { 'mysql.containerSecurityContext.readOnlyRootFileSystem': 'true' } }),
      ).to.contain("additional properties 'readOnlyRootFileSystem' not allowed");
    });

    it('rejects values of the wrong type or outside their range', async () => {
      expect(await failure({ values: [{ api: { replicaCount: 'two' } }] })).to.contain(
        '/api/replicaCount',
      );
      expect(await failure({ values: [{ flusher: { lock: { mode: 'etcd' } } }] })).to.contain(
        '/flusher/lock/mode',
      );
      expect(
        await failure({ values: [{ redis: { config: { maxmemoryPolicy: 'allkeys-lru' } } }] }),
      ).to.contain('maxmemoryPolicy');
    });

    it('lists as pending only variables the programs do not read yet', () => {
      expect(PENDING_VARIABLES.filter((name) => CONFIG_VARIABLES.includes(name))).to.deep.equal([]);
    });

    it('ships no secret in its default values', async () => {
      const values = YAML.parse(
        await readFile(path.join(chartDir, 'values.yaml'), 'utf8'),
      ) as unknown;
      const offenders: string[] = [];
      const walk = (node: unknown, at: string) => {
        if (node === null || typeof node !== 'object') return;
        for (const [key, value] of Object.entries(node)) {
          if (
            /password|token|secret/i.test(key) &&
            typeof value === 'string' &&
            value !== '' &&
            !/Key$|existingSecret/.test(key)
          )
            offenders.push(`${at}${key}`);
          walk(value, `${at}${key}.`);
        }
      };
      walk(values, '');
      expect(offenders).to.deep.equal([]);
    });
  });
});
