// The Kubernetes side of a ClusterLab: ONE fake API server for every node (pods carry spec.nodeName, Services and
// EndpointSlices span nodes, endpoints carry nodeName), a fake kubelet and a kubelet-style prober per node (the
// prober runs in the node's netns and PID namespace, as kubelet does, and probes that node's pods only), a
// `flapwatch run` per node inside its netns and PID namespace, listening on the node's address, published as
// a DaemonSet's pods behind the headless Service flapwatch/flapwatch, and Debian's Prometheus scraping them all
// from the underlay. The test's servers listen on the machine's side of the underlay (Underlay.hostIp).
import { spawn } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { CLI, daemonProcess, type DaemonProcess } from '../deploy/daemon-process';
import { Prometheus } from '../deploy/prometheus';
import { RULES_FILE } from '../deploy/rules';
import { eventually } from '../helpers/env';
import { FakeKubelet } from '../health/fake-kubelet';
import { KubeletProber } from '../health/kubelet-prober';
import { FakeApiServer } from '../kube/fake-apiserver';
import { TOKEN, writeKubeconfig } from '../kube/kubeconfig';
import { endpointSlice, pod, service } from '../kube/objects';
import type { ClusterLab, ClusterNode, ClusterPod, ClusterService, Ref } from './cluster-lab';
import { IpcChild } from './ipc-child';
import { PROBE, type HttpResult } from './lab';
import { childrenOf } from './pid-namespace';
import { killQuietly, once, type Undo } from './registry';

export const DAEMON_PORT = 9807;
export const FLAPWATCH_NS = 'flapwatch';
const FLAPWATCH_LABELS = { 'app.kubernetes.io/name': 'flapwatch' };

export interface KubeOptions {
  /** kubelet's readiness probe of every pod; default 1 s timeout, every second */
  probe?: { timeoutSeconds: number; periodSeconds: number };
}

/** A node's kubelet: its fake /metrics/probes, its token file, its prober. */
export interface NodeKubelet {
  kubelet: FakeKubelet;
  tokenFile: string;
  prober: KubeletProber;
  /** the probing process, in the node's netns and PID namespace */
  probes: IpcChild;
}

export interface NodeDaemon extends DaemonProcess {
  node: ClusterNode;
  /** the daemon's incident lines so far */
  incidents(): Record<string, unknown>[];
}

export class ClusterKube {
  readonly kubelets = new Map<string, NodeKubelet>();
  readonly daemons = new Map<string, NodeDaemon>();
  prometheus: Prometheus | undefined;
  private readonly endpoints = new Map<Ref, ClusterPod[]>();

  private constructor(private readonly lab: ClusterLab, readonly api: FakeApiServer, readonly kubeconfig: string) {}

  static async start(lab: ClusterLab, o: KubeOptions = {}): Promise<ClusterKube> {
    const api = await FakeApiServer.start({ host: lab.underlay.hostIp, token: TOKEN });
    // plain HTTP, which the client takes only with TLS verification off
    const kube = new ClusterKube(lab, api, writeKubeconfig(lab.dir, api.url, { insecure: true }));
    try {
      kube.publish(o.probe ?? { timeoutSeconds: 1, periodSeconds: 1 });
      for (const node of lab.nodes) await kube.startKubelet(node, o.probe ?? { timeoutSeconds: 1, periodSeconds: 1 });
    } catch (err) {
      await kube.stop();
      throw err;
    }
    return kube;
  }

  /** A node's kubelet, by node name. */
  kubelet(node: string): NodeKubelet {
    const k = this.kubelets.get(node);
    if (!k) throw new Error(`ClusterKube: no kubelet on ${node}`);
    return k;
  }

  daemon(node: string): NodeDaemon {
    const d = this.daemons.get(node);
    if (!d) throw new Error(`ClusterKube: no daemon on ${node}`);
    return d;
  }

  /** Publishes the Service's endpoints (the pods behind it); kube-proxy's rules are the lab's (rejectService). */
  setEndpoints(ref: Ref, pods: ClusterPod[]): void {
    const s = this.lab.service(ref);
    this.endpoints.set(ref, pods);
    this.api.put('endpointslices', endpointSlice(s.namespace, s.name, `${s.name}-abc`, [{ name: s.portName, port: this.lab.podPort, protocol: protocolOf(s) }],
      pods.map((p) => ({ ip: p.ip, node: p.node.name, pod: p.name }))));
  }

  /** The Service loses its endpoints as a cluster sees it: its EndpointSlice empties and every kube-proxy REJECTs. */
  async noEndpoints(ref: Ref): Promise<Undo> {
    const before = this.endpoints.get(ref) ?? [];
    this.setEndpoints(ref, []);
    const restoreRules = await this.lab.rejectService(ref);
    return once(async () => {
      await restoreRules();
      this.setEndpoints(ref, before);
    });
  }

  /**
   * A `flapwatch run` per node (all by default), in the node's netns and PID namespace, listening on the node's
   * address, reading the API and the node's kubelet; resolves once each is ready and has listed the API.
   */
  async startDaemons(o: { args?: string[]; nodes?: string[] } = {}): Promise<NodeDaemon[]> {
    const nodes = o.nodes ? o.nodes.map((n) => this.lab.node(n)) : this.lab.nodes;
    return Promise.all(nodes.map((n) => this.startDaemon(n, o.args ?? [])));
  }

  /** Debian's Prometheus in the underlay, scraping every daemon (instance and node := the node's name). */
  async startPrometheus(o: { ruleFiles?: string[] } = {}): Promise<Prometheus> {
    if (this.prometheus) throw new Error('ClusterKube: Prometheus is already up');
    const dir = path.join(this.lab.dir, 'prometheus');
    mkdirSync(dir, { recursive: true });
    this.prometheus = await Prometheus.start({
      dir,
      targets: this.lab.nodes.map((n) => ({ target: `${n.ip}:${DAEMON_PORT}`, labels: { instance: n.name, node: n.name } })),
      ruleFiles: o.ruleFiles ?? [RULES_FILE],
      netns: this.lab.underlay.netns,
      listen: `${this.lab.underlay.bridgeIp}:9090`,
    });
    return this.prometheus;
  }

  async stop(): Promise<void> {
    await this.prometheus?.stop();
    await Promise.all([...this.daemons.values()].map((d) => d.stop()));
    await Promise.all([...this.kubelets.values()].map(async (k) => {
      await k.prober.stop();
      k.probes.kill();
      await k.probes.exited;
      await k.kubelet.close();
    }));
    await this.api.close();
  }

  /** For the exit handler; the in-process servers end with the process. */
  killSync(): void {
    this.prometheus?.kill();
    for (const d of this.daemons.values()) if (d.child.pid) killQuietly(-d.child.pid, 'SIGKILL');
    for (const k of this.kubelets.values()) k.probes.killSync();
  }

  private publish(probe: { timeoutSeconds: number; periodSeconds: number }): void {
    const readinessProbe = { httpGet: { path: '/health', port: this.lab.podPort }, ...probe };
    for (const s of this.lab.services) {
      const port = { name: s.portName, port: s.port, targetPort: this.lab.podPort, protocol: protocolOf(s) };
      this.api.put('services', service(s.namespace, s.name, { clusterIP: s.clusterIP, ports: [port], annotations: s.annotations }));
      this.setEndpoints(s.ref, s.endpoints);
    }
    for (const p of this.lab.allPods()) {
      const container = { name: 'app', image: 'app:1', ports: [{ containerPort: this.lab.podPort }], readinessProbe };
      // owned as in a cluster: a StatefulSet per Service (db-0, db-1), so that the service graph names workloads
      this.api.put('pods', pod(p.namespace, p.name, p.node.name, p.ip, [container], { hostIP: p.node.ip, owner: { kind: 'StatefulSet', name: p.name.replace(/-\d+$/, '') } }));
    }
    // headless: one endpoint per node, the way peers find a node's daemon (spec.nodeName → endpoint → podIP)
    this.api.put('services', service(FLAPWATCH_NS, 'flapwatch', { clusterIP: 'None', ports: [{ name: 'metrics', port: DAEMON_PORT }], labels: FLAPWATCH_LABELS }));
    this.publishDaemons();
  }

  private publishDaemons(): void {
    const ready = this.lab.nodes.filter((n) => this.daemons.has(n.name));
    this.api.put('endpointslices', endpointSlice(FLAPWATCH_NS, 'flapwatch', 'flapwatch-abc', [{ name: 'metrics', port: DAEMON_PORT }],
      ready.map((n) => ({ ip: n.ip, node: n.name, pod: `flapwatch-${n.name}` }))));
  }

  private async startKubelet(node: ClusterNode, probe: { timeoutSeconds: number; periodSeconds: number }): Promise<void> {
    const kubelet = await FakeKubelet.start(this.lab.underlay.hostIp);
    const tokenFile = path.join(this.lab.dir, `kubelet-token-${node.name}`);
    writeFileSync(tokenFile, kubelet.token);
    const pidns = node.lab.pidns;
    if (!pidns) throw new Error(`ClusterKube: ${node.name} has no PID namespace`);
    const probes = IpcChild.spawn(pidns.enter([process.execPath, PROBE, 'serve']), `kubelet prober on ${node.name}`);
    const prober = new KubeletProber({
      node: node.name, kubelet, api: this.api, ...probe,
      pods: node.pods.map((p) => ({ namespace: p.namespace, name: p.name, ip: p.ip, port: this.lab.podPort, path: '/health' })),
      probe: async (ip, port, urlPath, timeoutMs) => {
        const m = await probes.request({ args: ['http', ip, String(port), urlPath, String(timeoutMs)] }, timeoutMs + 10_000);
        return m.result as HttpResult;
      },
    });
    this.kubelets.set(node.name, { kubelet, tokenFile, prober, probes });
  }

  private async startDaemon(node: ClusterNode, extra: string[]): Promise<NodeDaemon> {
    if (this.daemons.has(node.name)) throw new Error(`ClusterKube: a daemon already runs on ${node.name}`);
    const { kubelet, tokenFile } = this.kubelet(node.name);
    const argv = node.lab.pidns!.enter([process.execPath, CLI, 'run', '--listen', `${node.ip}:${DAEMON_PORT}`, '--kubeconfig', this.kubeconfig,
      '--node-name', node.name, '--kubelet-url', kubelet.url, '--kubelet-token', tokenFile, '--kubelet-insecure-tls', '--kubelet-interval', '1',
      // every lab node shares this kernel: each daemon counts its own node's namespaces, as on a real node
      '--netns-scope', 'pid-namespace', ...extra]);
    // detached: the exit handler kills nsenter and the daemon it forked as one group
    const child = spawn(argv[0] as string, argv.slice(1), { stdio: ['ignore', 'pipe', 'pipe'], detached: true });
    const proc = daemonProcess(child, DAEMON_PORT, { host: node.ip, daemonPid: () => childrenOf(child.pid as number)[0] });
    const daemon: NodeDaemon = { ...proc, node, incidents: () => proc.logs().filter((l) => typeof l.incident === 'number') };
    this.daemons.set(node.name, daemon);
    await proc.ready();
    await eventually(() => proc.logs().some((l) => l.source === 'kubernetes' && l.up === true), `the daemon on ${node.name} to list the API`, 30_000);
    this.api.put('pods', pod(FLAPWATCH_NS, `flapwatch-${node.name}`, node.name, node.ip, [{ name: 'flapwatch', image: 'flapwatch:test', ports: [{ name: 'metrics', containerPort: DAEMON_PORT }] }],
      { hostNetwork: true, hostIP: node.ip, labels: FLAPWATCH_LABELS }));
    this.publishDaemons();
    return daemon;
  }
}

function protocolOf(s: ClusterService): 'TCP' | 'UDP' | 'SCTP' {
  return s.protocol.toUpperCase() as 'TCP' | 'UDP' | 'SCTP';
}
