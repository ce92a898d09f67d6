// Kubernetes objects as every room names them: Services, their ports and endpoints, pods. The Services come
// from the Kubernetes API or, without it, from kube-proxy's rules: both hand over the same ServicePort.
import type { Address, Protocol } from './net';

/** A namespaced object: a Service, a pod. */
export interface ObjectRef {
  namespace: string;
  name: string;
}

export type ServiceRef = ObjectRef;
export type PodRef = ObjectRef;

/** `ns/name` */
export function objectKey(o: ObjectRef): string {
  return `${o.namespace}/${o.name}`;
}

/** `ns/name` → its parts; the inverse of objectKey. */
export function parseObjectKey(key: string): ObjectRef {
  const i = key.indexOf('/');
  return { namespace: key.slice(0, i), name: key.slice(i + 1) };
}

/** A Service port: the unit kube-proxy programs and the unit flapwatch attributes to. */
export interface ServicePortRef extends ServiceRef {
  /** the port's name, '' for an unnamed port */
  portName: string;
  protocol: Protocol;
}

/** `ns/svc:port`, or `ns/svc` for an unnamed port, as kube-proxy writes it */
export function servicePortName(s: Omit<ServicePortRef, 'protocol'>): string {
  return s.portName ? `${s.namespace}/${s.name}:${s.portName}` : `${s.namespace}/${s.name}`;
}

/** `ns/svc:port` → its parts; null without a namespace. */
export function parseServicePortName(spn: string): Omit<ServicePortRef, 'protocol'> | null {
  const slash = spn.indexOf('/');
  if (slash <= 0) return null;
  const colon = spn.indexOf(':', slash);
  return {
    namespace: spn.slice(0, slash),
    name: spn.slice(slash + 1, colon < 0 ? undefined : colon),
    portName: colon < 0 ? '' : spn.slice(colon + 1),
  };
}

/** An endpoint of a Service port; the Kubernetes API knows its pod, node and readiness, the rules only the address. */
export interface EndpointView extends Address {
  pod?: PodRef;
  nodeName?: string;
  /** EndpointSlice conditions.ready; absent when unknown (rules list only endpoints kube-proxy uses) */
  ready?: boolean;
}

/** An opt-in active health probe (annotation `flapwatch.io/health` and friends on the Service). */
export interface ActiveProbeSpec {
  /** HTTP path, e.g. /health */
  path: string;
  /** the Service port to probe through the ClusterIP; the endpoint's port straight to pods */
  port: number;
  intervalSeconds: number;
  timeoutSeconds: number;
}

export interface ServicePort extends ServicePortRef {
  /** the Service's port number; absent when the rules name the Service but none of its addresses */
  port?: number;
  /** one per family on a dual-stack Service; none for a headless one */
  clusterIPs: string[];
  /** external IPs; from the rules, also load-balancer IPs they cannot tell from external ones */
  externalIPs: string[];
  loadBalancerIPs: string[];
  nodePort?: number;
  endpoints: EndpointView[];
  /** from the API only */
  activeProbe?: ActiveProbeSpec;
}

/** The addresses a client sends the Service's packets to: ClusterIPs, external and load-balancer IPs, with the port. */
export function vipsOf(p: ServicePort): Address[] {
  const { port } = p;
  if (port === undefined) return [];
  return [...p.clusterIPs, ...p.externalIPs, ...p.loadBalancerIPs].map((ip) => ({ ip, port }));
}

/** What runs a pod: a Deployment, StatefulSet, DaemonSet, Job or CronJob — the unit a service graph names. */
export interface Workload {
  namespace: string;
  /** Deployment, StatefulSet, DaemonSet, Job, CronJob, ReplicaSet; Pod for one no controller owns; Node for the host */
  kind: string;
  name: string;
}

/** Every pod of a namespace that no controller owns, as one workload: its labels stay bounded. */
export const barePods = (namespace: string): Workload => ({ namespace, kind: 'Pod', name: 'none' });

/** The bare pods of a namespace are no one workload: what one of them calls says nothing of another. */
export const isBarePods = (w: Workload) => w.kind === 'Pod' && w.name === 'none';

/** This node's pods, by name and by the address of their own network namespace (indexed: KubeSource). */
export interface PodLookup {
  pod(ref: PodRef): PodInfo | undefined;
  /** hostNetwork pods share the node's addresses: an address names a pod only with a netns of its own */
  podByIp(ip: string): PodInfo | undefined;
}

/** A pod on this node, keeping only what attribution and correlation need. */
export interface PodInfo extends PodRef {
  uid: string;
  nodeName: string;
  workload: Workload;
  /** status.podIPs; the node's addresses for a hostNetwork pod */
  ips: string[];
  hostNetwork: boolean;
  probes: ProbeSpec[];
}

export type ProbeType = 'Readiness' | 'Liveness' | 'Startup';

/** A container probe as the pod spec declares it; what the correlator needs to size its window. */
export interface ProbeSpec {
  container: string;
  type: ProbeType;
  /** kubelet's defaults when the spec leaves them out: 1 s, 10 s, 3 */
  timeoutSeconds: number;
  periodSeconds: number;
  failureThreshold: number;
  /** what the probe calls; port resolved to a number where the spec named it */
  handler: { kind: 'http'; path: string; port: number; scheme: 'HTTP' | 'HTTPS' } | { kind: 'tcp'; port: number } | { kind: 'grpc'; port: number } | { kind: 'exec' };
}
