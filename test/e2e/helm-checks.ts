// The chart's own consistency checks over rendered manifests (helm template output), written
// as pure functions: each returns the problems it found (empty = pass), so that the test can
// show every check failing on a broken rendering too. kubernetes-models checks each object's
// schema; these check what a schema cannot: that the objects agree with each other and with
// HopGate's documented settings and conventions.
import { createRequire } from 'node:module';

const require = createRequire(import.meta.url);

/** A rendered Kubernetes object (only the fields the checks read are typed). */
export interface K8sObject {
  apiVersion: string;
  kind: string;
  metadata: { name: string; labels?: Record<string, string>; annotations?: Record<string, string> };
  spec?: any;
  data?: Record<string, string>;
}

/** A pod template with where it comes from. */
interface PodOwner {
  workload: K8sObject;
  labels: Record<string, string>;
  spec: any;
}

export const OPS_PORT = 9090;
export const HOPGATE_IMAGE = /^(?:.*\/)?hopgate\/(ingress|hub|cert-manager|agent):(.+)$/;
const POD_NAME_LABEL = 'statefulset.kubernetes.io/pod-name';

/** Validates one object against the Kubernetes schema; returns the error text or undefined. */
export function validateSchema(obj: K8sObject): string | undefined {
  const [group, version] = obj.apiVersion.includes('/') ? obj.apiVersion.split('/') : ['', obj.apiVersion];
  const modulePath =
    group === 'monitoring.coreos.com'
      ? `@kubernetes-models/prometheus-operator/${group}/${version}/${obj.kind}`
      : `kubernetes-models/${group ? `${group}/` : ''}${version}/${obj.kind}`;
  let Model: new (o: unknown) => { validate(): void };
  try {
    Model = (require(modulePath) as Record<string, new (o: unknown) => { validate(): void }>)[obj.kind]!;
  } catch {
    return `${obj.kind} ${obj.metadata.name}: no schema for ${obj.apiVersion}`;
  }
  try {
    new Model(obj).validate();
    return undefined;
  } catch (err) {
    return `${obj.kind} ${obj.metadata.name}: ${(err as Error).message}`;
  }
}

function podOwners(objects: K8sObject[]): PodOwner[] {
  return objects
    .filter((o) => ['Deployment', 'StatefulSet', 'DaemonSet', 'Job'].includes(o.kind))
    .map((o) => ({ workload: o, labels: o.spec?.template?.metadata?.labels ?? {}, spec: o.spec?.template?.spec ?? {} }));
}

function matches(selector: Record<string, string>, labels: Record<string, string>): boolean {
  return Object.entries(selector).every(([k, v]) => labels[k] === v);
}

/** Pods of a Service-like selector; a StatefulSet pod-name label matches its ordinals. */
function selectedPods(objects: K8sObject[], selector: Record<string, string>): PodOwner[] {
  return podOwners(objects).filter((p) => {
    const { [POD_NAME_LABEL]: podName, ...rest } = selector;
    if (!matches(rest, p.labels)) return false;
    if (podName === undefined) return true;
    if (p.workload.kind !== 'StatefulSet') return false;
    const replicas: number = p.workload.spec.replicas ?? 1;
    return Array.from({ length: replicas }, (_, i) => `${p.workload.metadata.name}-${i}`).includes(podName);
  });
}

/** Workload selectors match their pod labels; Services, PDBs, NetworkPolicies, HPAs and ServiceMonitors select something. */
export function checkSelectors(objects: K8sObject[]): string[] {
  const problems: string[] = [];
  for (const p of podOwners(objects)) {
    const sel = p.workload.spec?.selector?.matchLabels ?? {};
    if (Object.keys(sel).length === 0) problems.push(`${p.workload.kind} ${p.workload.metadata.name}: empty selector`);
    if (!matches(sel, p.labels)) problems.push(`${p.workload.kind} ${p.workload.metadata.name}: selector ${JSON.stringify(sel)} does not match its pod labels`);
  }
  for (const o of objects) {
    let sel: Record<string, string> | undefined;
    if (o.kind === 'Service') sel = o.spec?.selector;
    if (o.kind === 'PodDisruptionBudget' || o.kind === 'NetworkPolicy') sel = (o.kind === 'NetworkPolicy' ? o.spec?.podSelector : o.spec?.selector)?.matchLabels;
    if (sel !== undefined && selectedPods(objects, sel).length === 0) problems.push(`${o.kind} ${o.metadata.name}: selector ${JSON.stringify(sel)} selects no pod`);
    if (o.kind === 'HorizontalPodAutoscaler') {
      const ref = o.spec.scaleTargetRef;
      if (!objects.some((w) => w.kind === ref.kind && w.metadata.name === ref.name)) problems.push(`HPA ${o.metadata.name}: no ${ref.kind} ${ref.name}`);
      const target = objects.find((w) => w.kind === ref.kind && w.metadata.name === ref.name);
      if (target?.spec?.replicas !== undefined) problems.push(`HPA ${o.metadata.name}: ${ref.name} also sets replicas (the HPA and helm would fight)`);
    }
    if (o.kind === 'ServiceMonitor') {
      const services = objects.filter((s) => s.kind === 'Service' && matches(o.spec.selector.matchLabels, s.metadata.labels ?? {}));
      if (services.length === 0) problems.push(`ServiceMonitor ${o.metadata.name}: selects no Service`);
      for (const ep of o.spec.endpoints) {
        for (const s of services) {
          if (!s.spec.ports.some((p: { name?: string }) => p.name === ep.port)) problems.push(`ServiceMonitor ${o.metadata.name}: Service ${s.metadata.name} has no port ${ep.port}`);
        }
      }
    }
  }
  return problems;
}

/** Every Service port's targetPort is a container port (by name or number, same protocol) of every pod it selects. */
export function checkServicePorts(objects: K8sObject[]): string[] {
  const problems: string[] = [];
  for (const svc of objects.filter((o) => o.kind === 'Service')) {
    for (const pod of selectedPods(objects, svc.spec.selector ?? {})) {
      const ports: Array<{ name?: string; containerPort: number; protocol?: string }> = pod.spec.containers.flatMap((c: { ports?: unknown[] }) => c.ports ?? []);
      for (const sp of svc.spec.ports) {
        const target = sp.targetPort ?? sp.port;
        const protocol = sp.protocol ?? 'TCP';
        const found = ports.some((cp) => (typeof target === 'string' ? cp.name === target : cp.containerPort === target) && (cp.protocol ?? 'TCP') === protocol);
        if (!found) problems.push(`Service ${svc.metadata.name}: targetPort ${target}/${protocol} is no container port of ${pod.workload.metadata.name}`);
      }
    }
  }
  return problems;
}

function hopgateContainers(objects: K8sObject[]): Array<{ owner: PodOwner; container: any }> {
  return podOwners(objects).flatMap((owner) =>
    (owner.spec.containers ?? []).filter((c: { image: string }) => HOPGATE_IMAGE.test(c.image)).map((container: unknown) => ({ owner, container })),
  );
}

/** Liveness on /healthz and readiness on /readyz, both on the ops port 9090 (docs/operations.md). */
export function checkProbes(objects: K8sObject[]): string[] {
  const problems: string[] = [];
  for (const { owner, container } of hopgateContainers(objects)) {
    const where = `${owner.workload.metadata.name}/${container.name}`;
    const opsPort = (container.ports ?? []).find((p: { name?: string }) => p.name === 'ops');
    if (opsPort?.containerPort !== OPS_PORT) problems.push(`${where}: no container port "ops" = ${OPS_PORT}`);
    const want: Record<string, string> = { livenessProbe: '/healthz', readinessProbe: '/readyz', startupProbe: '/healthz' };
    for (const [probe, path] of Object.entries(want)) {
      const get = container[probe]?.httpGet;
      if (get === undefined) {
        if (probe !== 'startupProbe') problems.push(`${where}: no ${probe}`);
        continue;
      }
      const port = typeof get.port === 'string' ? (container.ports ?? []).find((p: { name?: string }) => p.name === get.port)?.containerPort : get.port;
      if (port !== OPS_PORT || get.path !== path) problems.push(`${where}: ${probe} is ${get.path} on port ${get.port}, wants ${path} on ops (${OPS_PORT})`);
    }
  }
  return problems;
}

/** The HOPGATE_* variables a container gets: from its envFrom ConfigMaps, then its env (env wins). */
function containerEnv(objects: K8sObject[], container: any): Map<string, string | undefined> {
  const env = new Map<string, string | undefined>();
  for (const from of container.envFrom ?? []) {
    const cm = objects.find((o) => o.kind === 'ConfigMap' && o.metadata.name === from.configMapRef?.name);
    for (const [k, v] of Object.entries(cm?.data ?? {})) env.set(k, v);
  }
  for (const e of container.env ?? []) env.set(e.name, e.value);
  return env;
}

/** Every HOPGATE_* variable the chart sets is a documented setting; every envFrom ConfigMap exists. */
export function checkDocumentedSettings(objects: K8sObject[], documented: ReadonlySet<string>): string[] {
  const problems: string[] = [];
  for (const { owner, container } of hopgateContainers(objects)) {
    for (const from of container.envFrom ?? []) {
      if (from.configMapRef && !objects.some((o) => o.kind === 'ConfigMap' && o.metadata.name === from.configMapRef.name)) problems.push(`${owner.workload.metadata.name}: envFrom ConfigMap ${from.configMapRef.name} is not rendered`);
    }
    for (const name of containerEnv(objects, container).keys()) {
      if (!name.startsWith('HOPGATE_')) problems.push(`${owner.workload.metadata.name}/${container.name}: ${name} is no HOPGATE_* setting`);
      else if (!documented.has(name)) problems.push(`${owner.workload.metadata.name}/${container.name}: ${name} is not documented in docs/configuration.md`);
    }
  }
  return problems;
}

/** Every HopGate image carries the same tag, the expected one. */
export function checkImageTags(objects: K8sObject[], expectedTag: string): string[] {
  const problems: string[] = [];
  for (const { owner, container } of hopgateContainers(objects)) {
    const tag = HOPGATE_IMAGE.exec(container.image)?.[2];
    if (tag !== expectedTag) problems.push(`${owner.workload.metadata.name}/${container.name}: image ${container.image}, wants tag ${expectedTag}`);
  }
  if (hopgateContainers(objects).length === 0) problems.push('no HopGate container rendered');
  return problems;
}

/** terminationGracePeriodSeconds above HOPGATE_DRAIN_DELAY_MS + HOPGATE_DRAIN_TIMEOUT_MS of the pod's own env. */
export function checkDrainGrace(objects: K8sObject[]): string[] {
  const problems: string[] = [];
  for (const { owner, container } of hopgateContainers(objects)) {
    const env = containerEnv(objects, container);
    const drainMs = Number(env.get('HOPGATE_DRAIN_DELAY_MS') ?? 0) + Number(env.get('HOPGATE_DRAIN_TIMEOUT_MS') ?? 30_000);
    const graceS: number = owner.spec.terminationGracePeriodSeconds ?? 30;
    if (!(graceS * 1000 > drainMs)) problems.push(`${owner.workload.metadata.name}: terminationGracePeriodSeconds ${graceS} is not above drain delay + timeout (${drainMs} ms)`);
  }
  return problems;
}

/** Non-root, read-only root filesystem, no capabilities, seccomp RuntimeDefault, no privilege escalation, a /tmp emptyDir. */
export function checkSecurity(objects: K8sObject[]): string[] {
  const problems: string[] = [];
  for (const owner of podOwners(objects)) {
    const podSc = owner.spec.securityContext ?? {};
    for (const c of owner.spec.containers ?? []) {
      const sc = c.securityContext ?? {};
      const where = `${owner.workload.metadata.name}/${c.name}`;
      if ((sc.runAsNonRoot ?? podSc.runAsNonRoot) !== true) problems.push(`${where}: runAsNonRoot not true`);
      if (sc.readOnlyRootFilesystem !== true) problems.push(`${where}: readOnlyRootFilesystem not true`);
      if (sc.allowPrivilegeEscalation !== false) problems.push(`${where}: allowPrivilegeEscalation not false`);
      if (!(sc.capabilities?.drop ?? []).includes('ALL')) problems.push(`${where}: capabilities not dropped (ALL)`);
      if ((sc.seccompProfile ?? podSc.seccompProfile)?.type !== 'RuntimeDefault') problems.push(`${where}: seccomp not RuntimeDefault`);
      const tmp = (c.volumeMounts ?? []).find((m: { mountPath: string }) => m.mountPath === '/tmp');
      const vol = (owner.spec.volumes ?? []).find((v: { name: string }) => v.name === tmp?.name);
      if (vol?.emptyDir === undefined) problems.push(`${where}: no emptyDir at /tmp`);
    }
  }
  return problems;
}

/** The HOPGATE_* names of docs/configuration.md's tables (rows starting with | `HOPGATE_...` |). */
export function documentedSettings(configurationMd: string): Set<string> {
  return new Set([...configurationMd.matchAll(/^\| `(HOPGATE_[A-Z0-9_]+)` \|/gm)].map((m) => m[1]!));
}
