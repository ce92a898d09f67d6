// What the DaemonSet, its RBAC, Service and ServiceMonitor promise, field by field, and that the flags it
// sets through FLAPWATCH_* are ones `flapwatch run` takes.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { parseInvocation } from '../../src/cli';
import { runOptions } from '../../src/config';
import { find, PROMETHEUS_OPERATOR, resources } from './manifests';

// manifests are plain parsed YAML: `any` where a test reads its fields
// the base and the Prometheus Operator's component: the ServiceMonitor must find what the base serves
const all = [...resources(), ...resources(PROMETHEUS_OPERATOR)];
const ds = find(all, 'DaemonSet') as any;
const pod = ds.spec.template.spec;
const c = pod.containers[0];
const sc = c.securityContext;

describe('the DaemonSet', () => {
  test('runs on every node, in the node\'s network and PID namespaces', () => {
    assert.deepEqual(pod.tolerations, [{ operator: 'Exists' }]);
    assert.equal(pod.hostNetwork, true);
    assert.equal(pod.dnsPolicy, 'ClusterFirstWithHostNet');
    assert.equal(pod.hostPID, true);
    assert.equal(pod.priorityClassName, 'system-node-critical');
    assert.deepEqual(ds.spec.updateStrategy, { type: 'RollingUpdate', rollingUpdate: { maxUnavailable: '10%' } });
    assert.equal(pod.containers.length, 1);
  });

  test('keeps off nodes that are no machine: virtual-kubelet and EKS Fargate (one term: both must hold)', () => {
    const terms = pod.affinity.nodeAffinity.requiredDuringSchedulingIgnoredDuringExecution.nodeSelectorTerms;
    assert.deepEqual(terms, [{
      matchExpressions: [
        { key: 'type', operator: 'NotIn', values: ['virtual-kubelet'] },
        { key: 'eks.amazonaws.com/compute-type', operator: 'NotIn', values: ['fargate'] },
      ],
    }]);
    assert.deepEqual(pod.nodeSelector, { 'kubernetes.io/os': 'linux' });
  });

  test('is not privileged: exact capabilities, no escalation, read-only root', () => {
    assert.equal(sc.privileged ?? false, false);
    assert.equal(sc.allowPrivilegeEscalation, false);
    assert.equal(sc.readOnlyRootFilesystem, true);
    assert.equal(sc.runAsUser, 0);
    assert.deepEqual(sc.capabilities.drop, ['ALL']);
    assert.deepEqual([...sc.capabilities.add].sort(), ['BPF', 'NET_ADMIN', 'NET_RAW', 'PERFMON', 'SYSLOG']);
    assert.equal(pod.securityContext?.privileged, undefined);
    const hostPaths = pod.volumes.filter((v: any) => v.hostPath).map((v: any) => v.hostPath.path).sort();
    assert.deepEqual(hostPaths, ['/sys/fs/cgroup', '/sys/kernel/btf'], 'only the BTF and the cgroups are hostPaths');
    for (const m of c.volumeMounts) assert.equal(m.readOnly, true, `every mount is read-only: ${JSON.stringify(m)}`);
  });

  test('mounts the kernel\'s BTF and the host\'s cgroups read-only, and reads the cgroups where they are mounted', () => {
    const btf = pod.volumes.find((v: any) => v.hostPath?.path === '/sys/kernel/btf');
    const cgroup = pod.volumes.find((v: any) => v.hostPath?.path === '/sys/fs/cgroup');
    assert.ok(btf && cgroup);
    assert.deepEqual(c.volumeMounts, [
      { name: btf.name, mountPath: '/sys/kernel/btf', readOnly: true },
      { name: cgroup.name, mountPath: '/host/sys/fs/cgroup', readOnly: true, mountPropagation: 'HostToContainer' },
    ]);
    const env = new Map(c.env.map((e: any) => [e.name, e.value]));
    assert.equal(env.get('FLAPWATCH_CGROUP_MOUNT'), '/host/sys/fs/cgroup');
  });

  test('gets its node name from the downward API and a configurable bind address', () => {
    const env = new Map(c.env.map((e: any) => [e.name, e]));
    assert.deepEqual((env.get('FLAPWATCH_NODE_NAME') as any).valueFrom, { fieldRef: { fieldPath: 'spec.nodeName' } });
    assert.deepEqual((env.get('POD_IP') as any).valueFrom, { fieldRef: { fieldPath: 'status.podIP' } });
    assert.equal((env.get('FLAPWATCH_LISTEN') as any).value, '$(POD_IP):9807');
    assert.deepEqual(c.args, ['run']);
  });

  test('is probed on /healthz and /readyz through its metrics port', () => {
    assert.deepEqual(c.ports, [{ name: 'metrics', containerPort: 9807, protocol: 'TCP' }]);
    assert.equal(c.livenessProbe.httpGet.path, '/healthz');
    assert.equal(c.readinessProbe.httpGet.path, '/readyz');
    assert.equal(c.livenessProbe.httpGet.port, 'metrics');
    assert.equal(c.readinessProbe.httpGet.port, 'metrics');
  });

  test('requests and limits memory, and requests CPU without a CPU limit', () => {
    assert.deepEqual(c.resources, { requests: { cpu: '100m', memory: '128Mi' }, limits: { memory: '256Mi' } });
  });

  // FLAPWATCH_NODE_NAME is being added to the CLI in another change; until then this reports as a todo.
  const pending = 'node-name' in runOptions ? false : '--node-name / FLAPWATCH_NODE_NAME is not a flag of flapwatch run yet';
  test('sets only FLAPWATCH_* variables `flapwatch run` knows, with values it accepts', { todo: pending }, async () => {
    const sample: Record<string, string> = { 'spec.nodeName': 'node-a', 'status.podIP': '10.1.2.3' };
    const values = new Map<string, string>();
    for (const e of c.env) {
      const v = e.valueFrom ? sample[e.valueFrom.fieldRef.fieldPath]! : String(e.value).replace(/\$\((\w+)\)/g, (_, n: string) => values.get(n)!);
      values.set(e.name, v);
    }
    const flapwatch = [...values].filter(([k]) => k.startsWith('FLAPWATCH_'));
    for (const [k] of flapwatch) assert.ok(k.slice(10).toLowerCase().replace(/_/g, '-') in runOptions, `${k} is a flag`);
    const ours = Object.keys(process.env).filter((k) => k.startsWith('FLAPWATCH_'));
    const saved = Object.fromEntries(ours.map((k) => [k, process.env[k]]));
    try {
      for (const k of ours) delete process.env[k];
      Object.assign(process.env, Object.fromEntries(flapwatch));
      const inv = await parseInvocation(c.args, false);
      assert.equal(inv?.command, 'run');
      assert.deepEqual(inv?.config.listen, { host: '10.1.2.3', port: 9807 });
    } finally {
      for (const [k] of flapwatch) delete process.env[k];
      Object.assign(process.env, saved);
    }
  });
});

describe('its RBAC, Service and ServiceMonitor', () => {
  test('the ClusterRole reads only what flapwatch reads, and never nodes/proxy', () => {
    const role = find(all, 'ClusterRole') as any;
    const grants = role.rules.flatMap((r: any) => r.apiGroups.flatMap((g: string) => r.resources.map((res: string) => `${g}/${res}:${[...r.verbs].sort().join(',')}`)));
    assert.deepEqual(grants.sort(), [
      '/events:get,list,watch', '/nodes/metrics:get', '/pods:get,list,watch', '/services:get,list,watch',
      'discovery.k8s.io/endpointslices:get,list,watch',
    ]);
  });

  test('the binding gives that role to the DaemonSet\'s ServiceAccount', () => {
    const binding = find(all, 'ClusterRoleBinding') as any;
    const sa = find(all, 'ServiceAccount');
    assert.deepEqual(binding.roleRef, { apiGroup: 'rbac.authorization.k8s.io', kind: 'ClusterRole', name: find(all, 'ClusterRole').metadata.name });
    assert.deepEqual(binding.subjects, [{ kind: 'ServiceAccount', name: sa.metadata.name, namespace: sa.metadata.namespace }]);
    assert.equal(pod.serviceAccountName, sa.metadata.name);
  });

  test('the selectors agree: DaemonSet → pods, Service → pods, ServiceMonitor → Service and its port', () => {
    const labels = ds.spec.template.metadata.labels;
    const within = (sel: Record<string, string>, l: Record<string, string>) => Object.entries(sel).every(([k, v]) => l[k] === v);
    assert.ok(within(ds.spec.selector.matchLabels, labels));
    const svc = find(all, 'Service') as any;
    const sm = find(all, 'ServiceMonitor') as any;
    assert.equal(svc.spec.clusterIP, 'None');
    assert.ok(within(svc.spec.selector, labels));
    assert.ok(within(sm.spec.selector.matchLabels, svc.metadata.labels));
    assert.equal(svc.spec.ports[0].targetPort, c.ports[0].name);
    assert.deepEqual(sm.spec.endpoints.map((e: any) => e.port), [svc.spec.ports[0].name]);
  });

  test('the ServiceMonitor names targets by node and keeps flapwatch\'s namespace/service/pod labels', () => {
    const [relabelInstance, dropTargetLabels] = (find(all, 'ServiceMonitor') as any).spec.endpoints[0].relabelings;
    assert.deepEqual(relabelInstance, { sourceLabels: ['__meta_kubernetes_pod_node_name'], targetLabel: 'instance', action: 'replace' });
    assert.equal(dropTargetLabels.action, 'labeldrop');
    for (const l of ['namespace', 'service', 'pod']) assert.match(l, new RegExp(`^(?:${dropTargetLabels.regex})$`));
    assert.doesNotMatch('instance', new RegExp(`^(?:${dropTargetLabels.regex})$`));
  });
});
