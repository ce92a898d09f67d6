// Every manifest `kubectl apply -k deploy/` installs, and those its opt-in components add, validates against the
// Kubernetes schemas (unknown fields refused, as a strict API server does), the validator demonstrably refuses
// broken ones, and kustomize builds deploy/ alone (nothing there needs a CRD) and with its components.
import assert from 'node:assert/strict';
import { mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { describe, test } from 'node:test';
import { parseAllDocuments } from 'yaml';
import { guideSnippet } from './guide';
import { DEPLOY, find, kustomization, PROMETHEUS_OPERATOR, resources, validate, type Manifest } from './manifests';
import { kubectlSkip, run } from './tools';

const CLUSTER_SCOPED = new Set(['Namespace', 'ClusterRole', 'ClusterRoleBinding']);
const key = (m: Manifest) => `${m.kind}/${m.metadata.name}`;

// what an API server without any CRD serves
const BUILT_IN = new Set(['v1', 'apps/v1', 'rbac.authorization.k8s.io/v1']);
const OPERATOR_KINDS = ['PrometheusRule/flapwatch', 'ServiceMonitor/flapwatch'];
const everything = () => [...resources(), ...resources(PROMETHEUS_OPERATOR)];

describe('deploy/ manifests', () => {
  test('the kustomization lists every manifest in deploy/, under one namespace, none of a CRD\'s kind', () => {
    const files = readdirSync(DEPLOY).filter((f) => f.endsWith('.yaml') && f !== 'kustomization.yaml').sort();
    assert.deepEqual([...kustomization().resources].sort(), files);
    assert.equal(kustomization().namespace, 'flapwatch');
    assert.deepEqual(resources().map(key).sort(), [
      'ClusterRole/flapwatch', 'ClusterRoleBinding/flapwatch', 'DaemonSet/flapwatch', 'Namespace/flapwatch',
      'Service/flapwatch', 'ServiceAccount/flapwatch',
    ]);
    for (const m of resources()) assert.ok(BUILT_IN.has(m.apiVersion), `${key(m)} is ${m.apiVersion}`);
  });

  test('the prometheus-operator component holds the ServiceMonitor and the PrometheusRule, in flapwatch\'s namespace', () => {
    const files = readdirSync(PROMETHEUS_OPERATOR).filter((f) => f.endsWith('.yaml') && f !== 'kustomization.yaml').sort();
    assert.equal(kustomization(PROMETHEUS_OPERATOR).kind, 'Component');
    assert.deepEqual([...kustomization(PROMETHEUS_OPERATOR).resources].sort(), files);
    assert.deepEqual(resources(PROMETHEUS_OPERATOR).map(key).sort(), OPERATOR_KINDS);
    for (const m of resources(PROMETHEUS_OPERATOR)) assert.equal(m.metadata.namespace, 'flapwatch', key(m));
  });

  test('every document validates against its schema, with no unknown field', () => {
    for (const m of everything()) assert.deepEqual(validate(m), [], key(m));
  });

  // Each mutation breaks one field the way a hand edit could; the validator must say so.
  const mutations: [string, string, (m: any) => void, RegExp][] = [
    ['DaemonSet', 'privileged as a string', (m) => (m.spec.template.spec.containers[0].securityContext.privileged = 'no'), /privileged must be boolean/],
    ['DaemonSet', 'a misspelt field', (m) => (m.spec.template.spec.hostNetwrk = true), /unknown field \/spec\/template\/spec\/hostNetwrk/],
    ['DaemonSet', 'no selector', (m) => delete m.spec.selector, /spec must have required property '?selector'?/],
    ['DaemonSet', 'capabilities as one string', (m) => (m.spec.template.spec.containers[0].securityContext.capabilities.add = 'BPF'), /add must be array/],
    ['ClusterRole', 'a verb list as a string', (m) => (m.rules[0].verbs = 'get'), /verbs must be array/],
    ['ServiceMonitor', 'an endpoint port as a number', (m) => (m.spec.endpoints[0].port = 9807), /port must be string/],
    ['ServiceMonitor', 'a misspelt relabeling field', (m) => (m.spec.endpoints[0].relabelings[0].sourceLabel = ['x']), /unknown field .*sourceLabel$/],
    ['PrometheusRule', "a 'for' Prometheus cannot read", (m) => (m.spec.groups[0].rules[0].for = '10 minutes'), /for must match pattern/],
  ];
  for (const [kind, what, mutate, expected] of mutations) {
    test(`the validator refuses a ${kind} with ${what}`, () => {
      const m = structuredClone(find(everything(), kind));
      mutate(m);
      const problems = validate(m);
      assert.ok(problems.some((p) => expected.test(p)), `expected ${expected} in ${JSON.stringify(problems)}`);
    });
  }

  test('kubectl kustomize deploy/ builds what the files say, with the namespace and image set', { skip: kubectlSkip }, () => {
    const r = run('kubectl', ['kustomize', DEPLOY]);
    assert.equal(r.code, 0, r.stderr);
    const built = parseAllDocuments(r.stdout).map((d) => d.toJS() as Manifest);
    const { namespace, images } = kustomization();
    const expected = resources().map((m) => {
      const e = structuredClone(m);
      if (!CLUSTER_SCOPED.has(e.kind)) e.metadata.namespace = namespace;
      return e;
    });
    const ds = find(expected, 'DaemonSet') as any;
    const image = images![0]!;
    for (const c of ds.spec.template.spec.containers) if (c.image === image.name) c.image = `${image.newName ?? image.name}:${image.newTag}`;
    assert.deepEqual(new Map(built.map((m) => [key(m), m])), new Map(expected.map((m) => [key(m), m])));
    for (const m of built) assert.deepEqual(validate(m), [], key(m));
    assert.deepEqual(built.filter((m) => !BUILT_IN.has(m.apiVersion)).map(key), [], 'applies where no CRD is installed');
  });

  /** Builds a guide's kustomization example that starts with `firstLine` (or `text`), pointed at this repository's deploy/. */
  function buildGuideExample(firstLine: string, edit: (text: string) => string = (t) => t): Manifest[] {
    const dir = mkdtempSync(path.join(tmpdir(), 'flapwatch-user-'));
    try {
      const text = edit(guideSnippet(firstLine)).replaceAll('../flapwatch/deploy', path.relative(dir, DEPLOY));
      writeFileSync(path.join(dir, 'kustomization.yaml'), text);
      const r = run('kubectl', ['kustomize', dir]);
      assert.equal(r.code, 0, r.stderr);
      const built = parseAllDocuments(r.stdout).map((d) => d.toJS() as Manifest);
      for (const m of built) assert.deepEqual(validate(m), [], key(m));
      return built;
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  }

  test("the guide's install with the Operator adds its two kinds to deploy/, in flapwatch's namespace", { skip: kubectlSkip }, () => {
    const built = buildGuideExample('# with-operator/kustomization.yaml');
    assert.deepEqual(built.map(key).sort(), [...resources().map(key), ...OPERATOR_KINDS].sort());
    for (const k of OPERATOR_KINDS) assert.equal(built.find((m) => key(m) === k)!.metadata.namespace, 'flapwatch');
  });

  const withProxy = (built: Manifest[]) => {
    const [flapwatch, proxy] = (find(built, 'DaemonSet') as any).spec.template.spec.containers;
    assert.equal(flapwatch.env.find((e: any) => e.name === 'FLAPWATCH_LISTEN').value, '127.0.0.1:9807');
    assert.equal(flapwatch.ports, undefined);
    assert.equal(flapwatch.livenessProbe.httpGet.host, '127.0.0.1');
    assert.equal(flapwatch.readinessProbe.httpGet.host, '127.0.0.1');
    assert.ok(proxy.args.includes('--upstream=http://127.0.0.1:9807/') && proxy.args.includes('--allow-paths=/metrics'));
    assert.deepEqual(proxy.ports, [{ name: 'https', containerPort: 9807, protocol: 'TCP' }]);
    assert.equal(proxy.securityContext.runAsNonRoot, true);
    assert.equal((find(built, 'Service') as any).spec.ports[0].targetPort, 'https');
    const binding = find(built, 'ClusterRoleBinding', 'flapwatch-kube-rbac-proxy') as any;
    assert.deepEqual(binding.subjects, [{ kind: 'ServiceAccount', name: 'flapwatch', namespace: 'flapwatch' }]);
  };

  test("the guide's kube-rbac-proxy example builds: flapwatch on 127.0.0.1, the proxy on the node's address, Prometheus over https", { skip: kubectlSkip }, () => {
    // a kustomization of the user's own: kustomize refuses an overlay inside its base, hence components
    const built = buildGuideExample('# my-flapwatch/kustomization.yaml');
    withProxy(built);
    const [endpoint] = (find(built, 'ServiceMonitor') as any).spec.endpoints;
    assert.equal(endpoint.scheme, 'https');
    assert.deepEqual(endpoint.relabelings, (find(resources(PROMETHEUS_OPERATOR), 'ServiceMonitor') as any).spec.endpoints[0].relabelings);
  });

  test("the same without the Operator's component (its line left out, as the guide says): no ServiceMonitor to patch, no error", { skip: kubectlSkip }, () => {
    const built = buildGuideExample('# my-flapwatch/kustomization.yaml', (t) => {
      const without = t.split('\n').filter((l) => !l.includes('components/prometheus-operator')).join('\n');
      assert.notEqual(without, t);
      return without;
    });
    withProxy(built);
    assert.deepEqual(built.filter((m) => !BUILT_IN.has(m.apiVersion)).map(key), []);
  });
});
