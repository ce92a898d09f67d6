// A cluster of lab nodes on one kernel: each node a Lab (lab.ts: node netns with kube-proxy's rules for the SAME
// Services, a bridge, pods in their own netns, a client) in its own PID namespace and /proc, its pods in
// 10.244.N.0/24, joined by a VXLAN overlay over an underlay bridge (overlay.ts). The Kubernetes side (one API
// server, a kubelet per node, a daemon per node, Prometheus) is cluster-kube.ts, started from here.
// Everything it creates goes with destroy(), at exit, on SIGINT/SIGTERM, or after a SIGKILL with the next
// create() (registry.ts). Nothing is filtered: BPF programs are global, so every daemon's tracer sees every
// namespace's drops on this machine, the other nodes' included.
import { randomBytes } from 'node:crypto';
import { ClusterKube, type KubeOptions } from './cluster-kube';
import { Lab, labSubnet, type EchoResult, type Endpoint, type HttpResult, type KubeProxyMode, type ServiceOptions, type TcpResult } from './lab';
import { Underlay, vxlanCounters, type DeviceCounters } from './overlay';
import { create, filesDir, once, release, removeHostLinks, removeHostLinksSync, removeNetns, removeNetnsSync, type Undo } from './registry';

export const CLUSTER_CIDR = '10.244.0.0/16';
const SERVICE_NET = '10.96.0';

/** `namespace/name` of a pod or a Service. */
export type Ref = string;

export interface ClusterNodeOptions {
  /** the Kubernetes node name; default node-a, node-b, … */
  name?: string;
  /** the node's pods, as namespace/name */
  pods: Ref[];
}

export interface ClusterServiceOptions {
  namespace: string;
  name: string;
  portName?: string;
  port?: number; // default 80
  protocol?: 'tcp' | 'udp' | 'sctp';
  clusterIP?: string; // default 10.96.0.<10 + index>
  /** the pods behind it, on any node; [] renders kube-proxy's "has no endpoints" REJECT */
  endpoints: Ref[];
  annotations?: Record<string, string>;
}

export interface ClusterLabOptions {
  nodes: ClusterNodeOptions[];
  services?: ClusterServiceOptions[];
  /** pods whose /health calls a Service's /health through its ClusterIP */
  dependencies?: { pod: Ref; service: Ref; timeoutMs?: number }[];
  kubeProxy?: KubeProxyMode; // default iptables-nft
  podPort?: number; // default 8080
}

export interface ClusterPod {
  readonly ref: Ref;
  readonly namespace: string;
  readonly name: string;
  readonly node: ClusterNode;
  /** its index among its node's pods (the Lab's) */
  readonly index: number;
  readonly ip: string;
  readonly netns: string;
}

export interface ClusterNode {
  name: string;
  index: number;
  /** its address on the underlay: where its daemon listens */
  ip: string;
  /** its pod CIDR, e.g. 10.244.1.0/24 */
  podCIDR: string;
  lab: Lab;
  pods: readonly ClusterPod[];
}

export interface ClusterService {
  ref: Ref;
  namespace: string;
  name: string;
  portName?: string;
  protocol: 'tcp' | 'udp' | 'sctp';
  port: number;
  clusterIP: string;
  endpoints: ClusterPod[];
  annotations?: Record<string, string>;
}

const splitRef = (ref: Ref): [string, string] => {
  const [namespace, name, ...rest] = ref.split('/');
  if (!namespace || !name || rest.length) throw new Error(`ClusterLab: ${JSON.stringify(ref)} is not namespace/name`);
  return [namespace, name];
};

export class ClusterLab {
  readonly prefix = `fw${randomBytes(3).toString('hex')}`;
  readonly underlay: Underlay;
  readonly nodes: ClusterNode[] = [];
  readonly services: ClusterService[];
  readonly podPort: number;
  /** the API server, kubelets, daemons and Prometheus, once startKube() ran */
  kube: ClusterKube | undefined;
  /** the lab's own files (kubeconfig, Prometheus's database) */
  readonly dir: string;
  private readonly pods = new Map<Ref, ClusterPod>();
  private destroying: Promise<void> | undefined;

  private constructor(private readonly opts: ClusterLabOptions) {
    if (opts.nodes.length < 1 || opts.nodes.length > 26) throw new Error(`ClusterLab: 1..26 nodes, got ${opts.nodes.length}`);
    this.underlay = new Underlay(this.prefix, labSubnet());
    this.podPort = opts.podPort ?? 8080;
    this.dir = filesDir(this.prefix);
    // Pods are known before their nodes are built, so that Services can name them.
    const nodeAt = (k: number) => this.node(k);
    opts.nodes.forEach((n, k) => n.pods.forEach((ref, index) => {
      if (this.pods.has(ref)) throw new Error(`ClusterLab: pod ${ref} twice`);
      const [namespace, name] = splitRef(ref);
      this.pods.set(ref, {
        ref, namespace, name, index, ip: `10.244.${k + 1}.${10 + index}`,
        get node() { return nodeAt(k); },
        get netns() { return nodeAt(k).lab.pods[index] as string; },
      });
    }));
    this.services = (opts.services ?? []).map((s, i) => ({
      ref: `${s.namespace}/${s.name}`,
      namespace: s.namespace,
      name: s.name,
      portName: s.portName,
      protocol: s.protocol ?? 'tcp',
      port: s.port ?? 80,
      clusterIP: s.clusterIP ?? `${SERVICE_NET}.${10 + i}`,
      endpoints: s.endpoints.map((ref) => this.pod(ref)),
      annotations: s.annotations,
    }));
  }

  static async create(opts: ClusterLabOptions): Promise<ClusterLab> {
    const lab = new ClusterLab(opts);
    return create(lab, () => lab.build()); // claims the prefix before the first namespace exists
  }

  node(which: string | number): ClusterNode {
    const n = typeof which === 'number' ? this.nodes[which] : this.nodes.find((x) => x.name === which);
    if (!n) throw new Error(`ClusterLab: no node ${which}`);
    return n;
  }

  pod(ref: Ref): ClusterPod {
    const p = this.pods.get(ref);
    if (!p) throw new Error(`ClusterLab: no pod ${ref}`);
    return p;
  }

  allPods(): ClusterPod[] {
    return [...this.pods.values()];
  }

  service(ref: Ref): ClusterService {
    const s = this.services.find((x) => x.ref === ref);
    if (!s) throw new Error(`ClusterLab: no Service ${ref}`);
    return s;
  }

  // Probes from any of the lab's namespaces (a pod's, a node's, a client's): any node's Lab runs them.
  httpGet(fromNs: string, ip: string, port: number, urlPath = '/health', timeoutMs = 2000): Promise<HttpResult> {
    return this.node(0).lab.httpGet(fromNs, ip, port, urlPath, timeoutMs);
  }

  tcpConnect(fromNs: string, ip: string, port: number, timeoutMs = 2000): Promise<TcpResult> {
    return this.node(0).lab.tcpConnect(fromNs, ip, port, timeoutMs);
  }

  echo(fromNs: string, ip: string, port: number, bytes: number, timeoutMs = 10_000): Promise<EchoResult> {
    return this.node(0).lab.echo(fromNs, ip, port, bytes, timeoutMs);
  }

  /** VXLAN packets between the two nodes dropped with probability p, both ways, in the underlay. */
  dropOnOverlay(a: string | number, b: string | number, probability: number): Promise<Undo> {
    return this.underlay.dropBetween(this.node(a).ip, this.node(b).ip, probability);
  }

  /** Forwarded packets to the pod dropped on its own node (filter FORWARD): the last hop of every path to it. */
  dropOnPath(pod: Ref, probability: number): Promise<Undo> {
    const p = this.pod(pod);
    return p.node.lab.dropOnPath(p.index, probability);
  }

  /** Every node's kube-proxy renders the Service without endpoints (the API's slice is kube's to change). */
  async rejectService(ref: Ref): Promise<Undo> {
    const undos = await Promise.all(this.nodes.map((n) => n.lab.rejectService(ref)));
    return once(async () => {
      await Promise.all(undos.map((u) => u()));
    });
  }

  overlayCounters(node: string | number): Promise<DeviceCounters> {
    return vxlanCounters(this.node(node).lab.node);
  }

  /** The fake API server (every node's objects), a fake kubelet and a kubelet-style prober per node. */
  async startKube(o: KubeOptions = {}): Promise<ClusterKube> {
    if (this.kube) throw new Error('ClusterLab: the Kubernetes side is already up');
    this.kube = await ClusterKube.start(this, o);
    return this.kube;
  }

  destroy(): Promise<void> {
    this.destroying ??= this.teardown();
    return this.destroying;
  }

  destroySync(): void {
    this.kube?.killSync();
    for (const n of this.nodes) n.lab.destroySync();
    removeHostLinksSync(this.prefix);
    removeNetnsSync(this.underlay.netns);
    release(this);
  }

  private async teardown(): Promise<void> {
    await this.kube?.stop();
    const results = await Promise.allSettled(this.nodes.map((n) => n.lab.destroy()));
    await removeHostLinks(this.prefix);
    await removeNetns(this.underlay.netns);
    const failed = results.find((r): r is PromiseRejectedResult => r.status === 'rejected');
    if (failed) throw failed.reason;
    release(this);
  }

  private async build(): Promise<void> {
    await this.underlay.create();
    const servicesOn = (k: number): ServiceOptions[] => this.services.map((s) => ({
      namespace: s.namespace, name: s.name, portName: s.portName, protocol: s.protocol, clusterIP: s.clusterIP, port: s.port,
      endpoints: s.endpoints.map((p): Endpoint => (this.opts.nodes[k]!.pods.includes(p.ref) ? { podIndex: p.index, port: this.podPort } : { ip: p.ip, port: this.podPort })),
    }));
    const built = await Promise.allSettled(this.opts.nodes.map((n, k) => Lab.create({
      pods: n.pods.length,
      podPort: this.podPort,
      kubeProxy: this.opts.kubeProxy,
      services: servicesOn(k),
      dependencies: (this.opts.dependencies ?? []).filter((d) => n.pods.includes(d.pod)).map((d) => ({ ...d, pod: this.pod(d.pod).index })),
      cluster: { prefix: `${this.prefix}-${String.fromCharCode(97 + k)}`, podNet: `10.244.${k + 1}`, clusterCIDR: CLUSTER_CIDR, mtu: this.underlay.mtu },
    })));
    built.forEach((r, k) => {
      if (r.status === 'rejected') return;
      const name = this.opts.nodes[k]!.name ?? `node-${String.fromCharCode(97 + k)}`;
      const pods = this.opts.nodes[k]!.pods.map((ref) => this.pod(ref));
      this.nodes.push({ name, index: k, ip: this.underlay.nodeIp(k), podCIDR: `10.244.${k + 1}.0/24`, lab: r.value, pods });
    });
    const failed = built.find((r): r is PromiseRejectedResult => r.status === 'rejected');
    if (failed) throw failed.reason;
    const overlay = this.nodes.map((n) => ({ netns: n.lab.node, ip: n.ip, podNet: `10.244.${n.index + 1}` }));
    await Promise.all(overlay.map((n, k) => this.underlay.attach(n, k)));
    for (const n of overlay) for (const other of overlay) if (other !== n) await this.underlay.peer(n, other);
  }
}
