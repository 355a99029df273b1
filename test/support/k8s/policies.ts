/**
 * Policies a platform team checks before admitting a workload, as functions from rendered
 * objects to a list of violations (empty = compliant), so a failing test names every offender.
 */
import { CONFIG_VARIABLES } from '../../../internal/config/config.js';
import {
  allContainers,
  decodeSecretData,
  describeContainer,
  envOf,
  ofKind,
  podTemplates,
  type Container,
  type K8sObject,
} from './manifests.js';

/* eslint-disable @typescript-eslint/no-unsafe-member-access, @typescript-eslint/no-unsafe-assignment, @typescript-eslint/no-unsafe-call, @typescript-eslint/no-unsafe-argument, @typescript-eslint/no-unsafe-return -- walking rendered YAML */

/** Labels that may appear in selectors: they never change across upgrades. */
export const STABLE_SELECTOR_KEYS = new Set([
  'app.kubernetes.io/name',
  'app.kubernetes.io/instance',
  'app.kubernetes.io/component',
]);

/**
 * Variables the chart passes whose readers are still on their way into the programs (issue 14:
 * partitioned write queues). Remove each once CONFIG_VARIABLES has it: the chart tests fail
 * while one is listed here and read already, so the list cannot outlive its reason.
 */
export const PENDING_VARIABLES: readonly string[] = [];

/** Every variable the programs read (the configuration contract), plus the chart's helpers. */
export const ENV_CONTRACT = new Set([
  ...CONFIG_VARIABLES,
  ...PENDING_VARIABLES,
  // Assembled into the URLs above with $(VAR) expansion (REDIS_PASSWORD is also read by the
  // programs, for a Redis Cluster):
  'MYSQL_PASSWORD',
  'REDIS_PASSWORD',
  'RABBITMQ_PASSWORD',
]);

const isProgramContainer = (container: Container) =>
  /chat-system-(api|consumer|flusher)/.test(container.image);

export function securityViolations(objects: readonly K8sObject[]): string[] {
  const violations: string[] = [];
  for (const { owner, spec } of podTemplates(objects)) {
    const pod = spec['securityContext'] ?? {};
    const where = `${owner.kind}/${owner.metadata.name}`;
    if (spec['hostNetwork'] === true || spec['hostPID'] === true || spec['hostIPC'] === true) {
      violations.push(`${where}: uses a host namespace`);
    }
    for (const volume of spec['volumes'] ?? []) {
      if (volume.hostPath !== undefined)
        violations.push(`${where}: hostPath volume ${volume.name}`);
    }
    for (const container of allContainers(spec)) {
      const sc = container['securityContext'] ?? {};
      const name = describeContainer(owner, container);
      if ((sc.runAsNonRoot ?? pod.runAsNonRoot) !== true)
        violations.push(`${name}: runAsNonRoot not true`);
      const uid = sc.runAsUser ?? pod.runAsUser;
      if (uid !== undefined && !(uid > 0)) violations.push(`${name}: runAsUser ${uid}`);
      if (sc.readOnlyRootFilesystem !== true) violations.push(`${name}: root filesystem writable`);
      if (sc.allowPrivilegeEscalation !== false)
        violations.push(`${name}: privilege escalation allowed`);
      if (sc.privileged === true) violations.push(`${name}: privileged`);
      if (!(sc.capabilities?.drop ?? []).includes('ALL'))
        violations.push(`${name}: capabilities not dropped`);
      if ((sc.capabilities?.add ?? []).length > 0) violations.push(`${name}: adds capabilities`);
      if ((sc.seccompProfile ?? pod.seccompProfile)?.type !== 'RuntimeDefault') {
        violations.push(`${name}: seccomp not RuntimeDefault`);
      }
    }
  }
  return violations;
}

export function resourceAndProbeViolations(objects: readonly K8sObject[]): string[] {
  const violations: string[] = [];
  for (const { owner, spec } of podTemplates(objects)) {
    for (const container of allContainers(spec)) {
      const name = describeContainer(owner, container);
      const resources = container['resources'] ?? {};
      for (const [path, value] of [
        ['requests.cpu', resources.requests?.cpu],
        ['requests.memory', resources.requests?.memory],
        ['limits.memory', resources.limits?.memory],
      ]) {
        if (value === undefined) violations.push(`${name}: no resources.${path}`);
      }
    }
    if (owner.kind !== 'Deployment' && owner.kind !== 'StatefulSet') continue;
    for (const container of spec.containers) {
      const name = describeContainer(owner, container);
      for (const probe of ['livenessProbe', 'readinessProbe', 'startupProbe']) {
        if (container[probe] === undefined) violations.push(`${name}: no ${probe}`);
      }
      if (isProgramContainer(container)) {
        if (container['livenessProbe']?.httpGet?.path !== '/livez')
          violations.push(`${name}: liveness not /livez`);
        if (container['readinessProbe']?.httpGet?.path !== '/readyz')
          violations.push(`${name}: readiness not /readyz`);
      }
    }
  }
  return violations;
}

function selectorOf(object: K8sObject): Record<string, string> | undefined {
  switch (object.kind) {
    case 'Deployment':
    case 'StatefulSet':
    case 'PodDisruptionBudget':
      return object['spec'].selector?.matchLabels;
    case 'Service':
      return object['spec'].selector;
    default:
      return undefined;
  }
}

export function selectorViolations(objects: readonly K8sObject[]): string[] {
  const violations: string[] = [];
  const templates = podTemplates(objects);
  for (const object of objects) {
    const selector = selectorOf(object);
    if (selector === undefined) continue;
    const where = `${object.kind}/${object.metadata.name}`;
    for (const key of Object.keys(selector)) {
      if (!STABLE_SELECTOR_KEYS.has(key)) violations.push(`${where}: selector uses ${key}`);
    }
    if (Object.keys(selector).length === 0) violations.push(`${where}: empty selector`);
    const matches = templates.filter(
      ({ owner, labels }) =>
        owner.kind !== 'CronJob' &&
        owner.kind !== 'Job' &&
        owner.kind !== 'Pod' &&
        Object.entries(selector).every(([key, value]) => labels[key] === value),
    );
    if (object.kind === 'Deployment' || object.kind === 'StatefulSet') {
      if (!matches.some(({ owner }) => owner === object))
        violations.push(`${where}: selector does not match its own pods`);
      if (matches.length > 1)
        violations.push(`${where}: selector also matches other workloads' pods`);
    } else if (matches.length === 0) {
      violations.push(`${where}: selects no pods`);
    }
  }
  for (const { owner, spec } of templates) {
    for (const constraint of spec['topologySpreadConstraints'] ?? []) {
      for (const key of Object.keys(constraint.labelSelector?.matchLabels ?? {})) {
        if (!STABLE_SELECTOR_KEYS.has(key))
          violations.push(`${owner.kind}/${owner.metadata.name}: spread selector uses ${key}`);
      }
    }
  }
  return violations;
}

export function secretViolations(objects: readonly K8sObject[]): string[] {
  const violations: string[] = [];
  const secretValues = ofKind(objects, 'Secret')
    .flatMap((secret) => Object.values(decodeSecretData(secret)))
    .filter((value) => value.length >= 8);
  const credentialsInUrl = /:\/\/[^/\s:@]*:(?!\$\()[^@\s/]+@/;
  for (const configMap of ofKind(objects, 'ConfigMap')) {
    for (const [key, value] of Object.entries(
      (configMap['data'] ?? {}) as Record<string, string>,
    )) {
      const where = `ConfigMap/${configMap.metadata.name} ${key}`;
      if (/PASSWORD|SECRET|TOKEN|CREDENTIAL/i.test(key))
        violations.push(`${where}: secret-looking key`);
      if (secretValues.some((secret) => value.includes(secret)))
        violations.push(`${where}: holds a Secret's value`);
      if (credentialsInUrl.test(value)) violations.push(`${where}: URL with credentials`);
    }
  }
  for (const { owner, spec } of podTemplates(objects)) {
    for (const container of allContainers(spec)) {
      const name = describeContainer(owner, container);
      for (const entry of envOf(container)) {
        if (
          /PASSWORD|TOKEN|SECRET/.test(entry.name) &&
          entry.valueFrom?.['secretKeyRef'] === undefined
        ) {
          violations.push(`${name}: ${entry.name} not from a Secret`);
        }
        if (entry.value !== undefined && credentialsInUrl.test(entry.value)) {
          violations.push(`${name}: ${entry.name} embeds a literal password`);
        }
        if (
          entry.value !== undefined &&
          secretValues.some((secret) => entry.value!.includes(secret))
        ) {
          violations.push(`${name}: ${entry.name} holds a Secret's value`);
        }
      }
      for (const arg of [...(container['command'] ?? []), ...(container['args'] ?? [])]) {
        if (secretValues.some((secret) => String(arg).includes(secret)))
          violations.push(`${name}: a Secret's value in its command line`);
      }
    }
  }
  return violations;
}

/** $(VAR) in env values and arguments must name a variable defined earlier in the container. */
export function envReferenceViolations(objects: readonly K8sObject[]): string[] {
  const violations: string[] = [];
  for (const { owner, spec } of podTemplates(objects)) {
    for (const container of allContainers(spec)) {
      const defined = new Set<string>();
      const check = (text: string, where: string) => {
        for (const match of text.matchAll(/\$\(([A-Za-z_][A-Za-z0-9_]*)\)/g)) {
          if (!defined.has(match[1]!))
            violations.push(
              `${describeContainer(owner, container)}: ${where} uses $(${match[1]}) before it is defined`,
            );
        }
      };
      for (const entry of envOf(container)) {
        if (entry.value !== undefined) check(entry.value, entry.name);
        defined.add(entry.name);
      }
      for (const arg of [...(container['command'] ?? []), ...(container['args'] ?? [])])
        check(String(arg), 'command/args');
    }
  }
  return violations;
}

export function envContractViolations(
  objects: readonly K8sObject[],
  configMapName: string,
): string[] {
  const violations: string[] = [];
  const configMap = objects.find(
    (o) => o.kind === 'ConfigMap' && o.metadata.name === configMapName,
  );
  if (configMap === undefined) return [`no ConfigMap ${configMapName}`];
  for (const key of Object.keys(configMap['data'] ?? {})) {
    if (!ENV_CONTRACT.has(key))
      violations.push(`ConfigMap ${configMapName}: ${key} is not a program variable`);
  }
  for (const { owner, spec } of podTemplates(objects)) {
    for (const container of allContainers(spec)) {
      const usesConfig = (container['envFrom'] ?? []).some(
        (source: { configMapRef?: { name: string } }) =>
          source.configMapRef?.name === configMapName,
      );
      if (!isProgramContainer(container) || !usesConfig) continue;
      for (const entry of envOf(container)) {
        if (!ENV_CONTRACT.has(entry.name))
          violations.push(
            `${describeContainer(owner, container)}: ${entry.name} is not a program variable`,
          );
      }
    }
  }
  return violations;
}

function podsSelectedBy(objects: readonly K8sObject[], selector: Record<string, string>) {
  return podTemplates(objects).filter(({ labels }) =>
    Object.entries(selector).every(([key, value]) => labels[key] === value),
  );
}

function containerPorts(spec: {
  containers: Container[];
}): { name?: string; containerPort: number }[] {
  return spec.containers.flatMap((container) => container['ports'] ?? []);
}

/** Every named port a Service, Ingress, HTTPRoute, NetworkPolicy, monitor or probe uses exists. */
export function portViolations(objects: readonly K8sObject[]): string[] {
  const violations: string[] = [];
  const services = ofKind(objects, 'Service');
  for (const service of services) {
    const pods = podsSelectedBy(objects, service['spec'].selector ?? {});
    for (const port of service['spec'].ports ?? []) {
      const ok = pods.some(({ spec }) =>
        containerPorts(spec).some((p) =>
          typeof port.targetPort === 'string'
            ? p.name === port.targetPort
            : p.containerPort === (port.targetPort ?? port.port),
        ),
      );
      if (!ok)
        violations.push(
          `Service/${service.metadata.name} port ${port.name}: no pod exposes ${port.targetPort}`,
        );
    }
  }
  const servicePort = (name: string, port: { name?: string; number?: number }) =>
    services
      .find((s) => s.metadata.name === name)
      ?.['spec'].ports?.some((p: { name: string; port: number }) =>
        port.name !== undefined ? p.name === port.name : p.port === port.number,
      );
  for (const ingress of ofKind(objects, 'Ingress')) {
    for (const rule of ingress['spec'].rules ?? []) {
      for (const path of rule.http?.paths ?? []) {
        const backend = path.backend.service;
        if (!servicePort(backend.name, backend.port))
          violations.push(
            `Ingress/${ingress.metadata.name}: backend ${backend.name}:${JSON.stringify(backend.port)} does not exist`,
          );
      }
    }
  }
  for (const route of ofKind(objects, 'HTTPRoute')) {
    for (const rule of route['spec'].rules ?? []) {
      for (const ref of rule.backendRefs ?? []) {
        if (!servicePort(ref.name, { number: ref.port }))
          violations.push(
            `HTTPRoute/${route.metadata.name}: backend ${ref.name}:${ref.port} does not exist`,
          );
      }
    }
  }
  for (const policy of ofKind(objects, 'NetworkPolicy')) {
    const selector = policy['spec'].podSelector ?? {};
    const pods = podTemplates(objects).filter(
      ({ labels }) =>
        Object.entries(selector.matchLabels ?? {}).every(([key, value]) => labels[key] === value) &&
        (selector.matchExpressions ?? []).every(
          (e: { key: string; operator: string; values: string[] }) =>
            e.operator === 'In' && e.values.includes(labels[e.key] ?? ''),
        ),
    );
    if (pods.length === 0)
      violations.push(`NetworkPolicy/${policy.metadata.name}: selects no pods`);
    for (const rule of policy['spec'].ingress ?? []) {
      for (const port of rule.ports ?? []) {
        if (
          typeof port.port === 'string' &&
          !pods.some(({ spec }) => containerPorts(spec).some((p) => p.name === port.port))
        ) {
          violations.push(
            `NetworkPolicy/${policy.metadata.name}: port ${port.port} not exposed by its pods`,
          );
        }
      }
    }
  }
  for (const monitor of ofKind(objects, 'ServiceMonitor')) {
    const matched = services.filter((s) =>
      Object.entries(monitor['spec'].selector.matchLabels).every(
        ([key, value]) => s.metadata.labels?.[key] === value,
      ),
    );
    for (const endpoint of monitor['spec'].endpoints) {
      if (
        !matched.some((s) =>
          s['spec'].ports.some((p: { name: string }) => p.name === endpoint.port),
        )
      )
        violations.push(
          `ServiceMonitor/${monitor.metadata.name}: no Service port ${endpoint.port}`,
        );
    }
  }
  for (const monitor of ofKind(objects, 'PodMonitor')) {
    const pods = podsSelectedBy(objects, monitor['spec'].selector.matchLabels);
    for (const endpoint of monitor['spec'].podMetricsEndpoints) {
      if (!pods.some(({ spec }) => containerPorts(spec).some((p) => p.name === endpoint.port)))
        violations.push(`PodMonitor/${monitor.metadata.name}: no pod port ${endpoint.port}`);
    }
  }
  for (const { owner, spec } of podTemplates(objects)) {
    for (const container of spec.containers) {
      const names = new Set((container['ports'] ?? []).map((p: { name: string }) => p.name));
      for (const probe of ['livenessProbe', 'readinessProbe', 'startupProbe']) {
        const port = container[probe]?.httpGet?.port ?? container[probe]?.tcpSocket?.port;
        if (typeof port === 'string' && !names.has(port))
          violations.push(
            `${describeContainer(owner, container)}: ${probe} port ${port} not declared`,
          );
      }
    }
  }
  return violations;
}

/**
 * Only pods that talk to the Kubernetes API get a service account token: the flusher (its
 * Lease) and the nodes of a RabbitMQ cluster (peer discovery), each through an account of its
 * own that a RoleBinding of this release grants something.
 */
export function tokenViolations(objects: readonly K8sObject[]): string[] {
  const violations: string[] = [];
  const bound = new Set(
    ofKind(objects, 'RoleBinding').flatMap((binding) =>
      (binding['subjects'] ?? [])
        .filter((subject: { kind: string }) => subject.kind === 'ServiceAccount')
        .map((subject: { name: string }) => subject.name),
    ),
  );
  for (const { owner, spec, labels } of podTemplates(objects)) {
    const mounts = spec['automountServiceAccountToken'] !== false;
    if (!mounts) continue;
    const where = `${owner.kind}/${owner.metadata.name}`;
    const component = labels['app.kubernetes.io/component'];
    if (component !== 'flusher' && component !== 'broker')
      violations.push(`${where}: mounts a service account token`);
    else if (!bound.has(spec['serviceAccountName'] ?? 'default'))
      violations.push(`${where}: mounts the token of an account no RoleBinding grants anything`);
  }
  for (const account of ofKind(objects, 'ServiceAccount')) {
    if (account['automountServiceAccountToken'] !== false)
      violations.push(`ServiceAccount/${account.metadata.name}: automounts its token`);
  }
  return violations;
}
