// Kubernetes objects as the API server returns them, built small for tests and the benchmark.
import { createHash } from 'node:crypto';
import type { KubeObject } from './fake-store';

/** A pod's metadata.uid: a UUID, as the API server makes them (kubelet names the pod's cgroup after it), fixed by its name. */
export function podUid(name: string): string {
  const h = createHash('sha256').update(name).digest('hex');
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-4${h.slice(13, 16)}-8${h.slice(17, 20)}-${h.slice(20, 32)}`;
}

export interface PortSpec {
  name?: string;
  port: number;
  /** default: port */
  targetPort?: number | string;
  protocol?: 'TCP' | 'UDP' | 'SCTP';
  nodePort?: number;
}

export function service(namespace: string, name: string, o: {
  clusterIP?: string;
  ports?: PortSpec[];
  annotations?: Record<string, string>;
  externalIPs?: string[];
  loadBalancerIPs?: string[];
  type?: string;
  labels?: Record<string, string>;
} = {}): KubeObject {
  const clusterIP = o.clusterIP ?? '10.96.0.10';
  return {
    kind: 'Service',
    apiVersion: 'v1',
    metadata: { name, namespace, ...(o.annotations && { annotations: o.annotations }), ...(o.labels && { labels: o.labels }) },
    spec: {
      type: o.type ?? 'ClusterIP',
      clusterIP,
      clusterIPs: [clusterIP],
      ports: (o.ports ?? [{ port: 80 }]).map((p) => ({ protocol: 'TCP', targetPort: p.port, ...p })),
      ...(o.externalIPs && { externalIPs: o.externalIPs }),
      selector: { app: name },
      sessionAffinity: 'None',
    },
    status: { loadBalancer: o.loadBalancerIPs ? { ingress: o.loadBalancerIPs.map((ip) => ({ ip })) } : {} },
  };
}

export interface EndpointSpec {
  ip: string;
  node: string;
  pod?: string;
  ready?: boolean;
}

export function endpointSlice(namespace: string, svc: string, name: string, ports: PortSpec[], endpoints: EndpointSpec[]): KubeObject {
  return {
    kind: 'EndpointSlice',
    apiVersion: 'discovery.k8s.io/v1',
    metadata: {
      name,
      namespace,
      labels: { 'kubernetes.io/service-name': svc, 'endpointslice.kubernetes.io/managed-by': 'endpointslice-controller.k8s.io' },
    },
    addressType: 'IPv4',
    ports: ports.map((p) => ({ name: p.name ?? '', port: p.port, protocol: p.protocol ?? 'TCP' })),
    endpoints: endpoints.map((e) => ({
      addresses: [e.ip],
      conditions: { ready: e.ready ?? true, serving: e.ready ?? true, terminating: false },
      nodeName: e.node,
      ...(e.pod && { targetRef: { kind: 'Pod', namespace, name: e.pod, uid: podUid(e.pod) } }),
      zone: 'zone-a',
    })),
  };
}

export function pod(namespace: string, name: string, node: string, ip: string, containers: Record<string, unknown>[] = [{ name: 'app', image: 'app:1' }], extra: { hostNetwork?: boolean; phase?: string; hostIP?: string; labels?: Record<string, string>; owner?: { kind: string; name: string } } = {}): KubeObject {
  const owner = extra.owner && { apiVersion: 'apps/v1', kind: extra.owner.kind, name: extra.owner.name, uid: podUid(`${extra.owner.kind}/${extra.owner.name}`), controller: true };
  return {
    kind: 'Pod',
    apiVersion: 'v1',
    metadata: { name, namespace, uid: podUid(name), labels: extra.labels ?? { app: name.replace(/-[^-]+$/, '') }, ...(owner && { ownerReferences: [owner] }) },
    spec: { nodeName: node, containers, ...(extra.hostNetwork && { hostNetwork: true }), restartPolicy: 'Always' },
    status: { phase: extra.phase ?? 'Running', podIP: ip, podIPs: [{ ip }], hostIP: extra.hostIP ?? '192.168.0.1' },
  };
}

export function unhealthyEvent(namespace: string, name: string, o: {
  pod: string;
  count?: number;
  message?: string;
  host?: string;
  last?: Date;
  container?: string;
}): KubeObject {
  const last = (o.last ?? new Date()).toISOString().replace(/\.\d+Z$/, 'Z');
  return {
    kind: 'Event',
    apiVersion: 'v1',
    metadata: { name, namespace },
    involvedObject: { kind: 'Pod', namespace, name: o.pod, apiVersion: 'v1', fieldPath: `spec.containers{${o.container ?? 'app'}}` },
    reason: 'Unhealthy',
    message: o.message ?? 'Readiness probe failed: Get "http://10.0.0.1:8080/health": context deadline exceeded',
    source: { component: 'kubelet', host: o.host ?? 'node-a' },
    firstTimestamp: last,
    lastTimestamp: last,
    count: o.count ?? 1,
    type: 'Warning',
    reportingComponent: 'kubelet',
    reportingInstance: o.host ?? 'node-a',
  };
}
