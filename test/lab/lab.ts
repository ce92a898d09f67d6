// A Kubernetes-like node out of network namespaces: client → node (kube-proxy rules, bridge) → pods with HTTP
// servers, plus fault injectors. Everything it creates is removed by destroy(), at process exit or on SIGINT/SIGTERM,
// and, after a SIGKILL, by the next create() (registry.ts). A ClusterLab (cluster-lab.ts) makes its nodes of it.
import { randomBytes, randomInt } from 'node:crypto';
import * as fs from 'node:fs';
import * as path from 'node:path';
import type { Protocol } from '../../src/observe/net';
import { renderIptables, type RenderService } from '../kubeproxy/render';
import { renderNft } from '../kubeproxy/render-nft';
import { IpcChild } from './ipc-child';
import { netnsInode, nsRun, RunResult, run, sysctlSet } from './netns';
import { PidNamespace } from './pid-namespace';
import type { Command } from './pod-server';
import { create, filesDir, once, onSweep, release, removeHostLinks, removeHostLinksSync, removeNetns, removeNetnsSync, STATE_DIR, type Undo } from './registry';

export type { Undo } from './registry';

const CT_MAX = '/proc/sys/net/netfilter/nf_conntrack_max';
const POD_SERVER = path.join(__dirname, 'pod-server.js');
export const PROBE = path.join(__dirname, 'probe.js');
const SERVICE_RANGE = '10.96.0.0/16';
const POD_RANGE = '10.77.0.0/16';

/** A Service as the renderer takes it, its endpoints named by pod. */
type LabService = Omit<RenderService, 'endpoints'> & { endpoints: Endpoint[] };

/** An endpoint of a lab Service: one of the lab's pods, or (in a ClusterLab) a pod on another node. */
export type Endpoint = { podIndex: number; port: number } | { ip: string; port: number };

/** How kube-proxy programs the lab's node: iptables mode on either backend, or nftables mode. */
export type KubeProxyMode = 'iptables-nft' | 'iptables-legacy' | 'nftables';

export interface ServiceOptions {
  name: string;
  namespace?: string; // default "default"
  portName?: string;
  protocol?: Protocol; // default tcp
  clusterIP?: string; // default: an earlier port's of the same Service, else 10.96.<lab>.<10 + index>; in 10.96.0.0/16
  port?: number; // default 80
  endpoints?: Endpoint[]; // default every pod at podPort; [] renders the "has no endpoints" REJECT
}

export interface LabOptions {
  pods?: number; // default 2
  podPort?: number; // default 8080
  kubeProxy?: KubeProxyMode; // default iptables-nft
  services?: ServiceOptions[]; // default one Service default/web:http port 80
  /** pods whose /health calls a Service's /health through its ClusterIP (an application with a dependency) */
  /** the dependency's call gives up after timeoutMs (default the pod server's, 800); a pod may have several */
  dependencies?: { pod: number; service: string; timeoutMs?: number }[];
  /** pods whose /health first resolves a name through the system resolver (glibc, the pod's resolv.conf) */
  resolves?: { pod: number; name: string }[];
  /** a resolv.conf in every namespace of the lab, as kubelet writes one: the nameserver is this Service's ClusterIP */
  resolvConf?: { service: string; search: string[] };
  /** where this node sits in a ClusterLab; a lone lab has none */
  cluster?: NodePlacement;
}

/** A node of a ClusterLab: its names, its pod CIDR inside the cluster's, its overlay MTU, its own PID namespace. */
export interface NodePlacement {
  /** the node's namespaces are PREFIX-node, PREFIX-c and PREFIX-pN */
  prefix: string;
  /** the first three octets of the node's /24 pod CIDR, e.g. '10.244.1' */
  podNet: string;
  /** every node's pods: kube-proxy's local-traffic detector */
  clusterCIDR: string;
  /** of the pods' interfaces (the overlay's) */
  mtu: number;
}
export interface HttpResult { status?: number; body?: string; error?: string; ms: number }
export interface TcpResult { error?: string; ms: number }
export interface UdpResult { sent: number; errors: number; ms: number }
export interface EchoResult { status?: number; bytes?: number; same?: boolean; error?: string; ms: number }

let nextSubnet = randomInt(256); // third octet of this lab's ranges; consecutive labs never share one
// nf_conntrack_max is global: one saved value per process, restored by the lab that saved it or at exit.
let ctSaved: { value: string; marker: string; owner: Lab } | undefined;

/** A fresh third octet for a lab's own ranges. */
export function labSubnet(): number {
  return nextSubnet++ % 256;
}

function restoreConntrackMax(): void {
  if (!ctSaved) return;
  fs.writeFileSync(CT_MAX, ctSaved.value);
  fs.rmSync(ctSaved.marker, { force: true });
  ctSaved = undefined;
}

/** Where `ip netns exec NS` finds the files it mounts over /etc (resolv.conf). */
const etcOf = (ns: string) => `/etc/netns/${ns}`;

/** The lab's namespaces' /etc/netns directories. */
function removeEtc(prefix: string): void {
  if (!fs.existsSync('/etc/netns')) return;
  for (const f of fs.readdirSync('/etc/netns')) if (f.startsWith(`${prefix}-`)) fs.rmSync(etcOf(f), { recursive: true, force: true });
}

// A lab killed while it held nf_conntrack_max small left the value to restore in PREFIX.ctmax.
onSweep((prefix) => {
  const ctMarker = path.join(STATE_DIR, `${prefix}.ctmax`);
  if (fs.existsSync(ctMarker)) fs.writeFileSync(CT_MAX, fs.readFileSync(ctMarker, 'utf8'));
  removeEtc(prefix);
});

export class Lab {
  readonly prefix: string;
  readonly node: string;
  readonly client: string;
  readonly pods: readonly string[];
  readonly podPort: number;
  private readonly subnet = labSubnet();
  private readonly podNet: string;
  private readonly placement: NodePlacement | undefined;
  /** the node's own PID namespace and /proc, in a ClusterLab */
  pidns: PidNamespace | undefined;
  readonly kubeProxy: KubeProxyMode;
  /** the iptables command for fault rules: the legacy one when kube-proxy uses legacy, else the nft one */
  readonly iptablesCmd: string;
  private readonly services: LabService[];
  private readonly podIps: string[];
  private readonly servers: IpcChild[] = [];
  private readonly dependencies: { pod: number; service: string; timeoutMs?: number }[];
  private readonly resolves: Map<number, string>;
  private readonly resolvConf: LabOptions['resolvConf'];
  private hostLinked: { hostIp: string; nodeIp: string } | undefined;
  /** fault rules (iptables arguments after -I) that a re-sync of kube-proxy's rules must keep */
  private readonly faults = new Set<string[]>();
  private destroying: Promise<void> | undefined;

  private constructor(opts: LabOptions) {
    const pods = opts.pods ?? 2;
    if (!Number.isInteger(pods) || pods < 1 || pods > 200) throw new Error(`Lab: pods must be 1..200, got ${pods}`);
    this.placement = opts.cluster;
    this.prefix = opts.cluster?.prefix ?? `fw${randomBytes(3).toString('hex')}`;
    this.node = `${this.prefix}-node`;
    this.client = `${this.prefix}-c`;
    this.podNet = opts.cluster?.podNet ?? `10.77.${this.subnet}`;
    this.pods = Array.from({ length: pods }, (_, i) => `${this.prefix}-p${i}`);
    this.podIps = this.pods.map((_, i) => `${this.podNet}.${10 + i}`);
    this.podPort = opts.podPort ?? 8080;
    this.kubeProxy = opts.kubeProxy ?? 'iptables-nft';
    this.dependencies = opts.dependencies ?? [];
    this.resolves = new Map((opts.resolves ?? []).map((d) => [d.pod, d.name]));
    this.resolvConf = opts.resolvConf;
    this.iptablesCmd = this.kubeProxy === 'iptables-legacy' ? 'iptables-legacy' : 'iptables-nft';
    const allPods = this.pods.map((_, podIndex) => ({ podIndex, port: this.podPort }));
    this.services = [];
    for (const [i, s] of (opts.services ?? [{ name: 'web', portName: 'http' }]).entries()) {
      const namespace = s.namespace ?? 'default';
      // another port of a Service listed before has its ClusterIP
      const same = this.services.find((x) => x.namespace === namespace && x.name === s.name);
      this.services.push({
        namespace,
        name: s.name,
        portName: s.portName,
        protocol: s.protocol ?? 'tcp',
        clusterIP: s.clusterIP ?? same?.clusterIP ?? `10.96.${this.subnet}.${10 + i}`,
        port: s.port ?? 80,
        endpoints: s.endpoints ?? allPods,
      });
    }
  }

  static async create(opts: LabOptions = {}): Promise<Lab> {
    const lab = new Lab(opts);
    return create(lab, () => lab.build()); // claims the prefix before the first namespace exists
  }

  get nodeInode(): number {
    return netnsInode(this.node);
  }

  /** The client namespace's address: the source of what it sends. */
  get clientIp(): string {
    return `10.76.${this.subnet}.2`;
  }

  podIp(i: number): string {
    const ip = this.podIps[i];
    if (ip === undefined) throw new Error(`Lab: no pod ${i}`);
    return ip;
  }

  /** Looks a Service up by `name` or `namespace/name`. */
  service(name: string): { clusterIP: string; port: number } {
    const s = this.findService(name);
    return { clusterIP: s.clusterIP, port: s.port };
  }

  exec(ns: string, cmd: string, args: readonly string[] = []): Promise<RunResult> {
    return nsRun(ns, cmd, args);
  }

  httpGet(fromNs: string, ip: string, port: number, urlPath = '/health', timeoutMs = 2000): Promise<HttpResult> {
    return this.probe(fromNs, ['http', ip, String(port), urlPath, String(timeoutMs)], timeoutMs);
  }

  tcpConnect(fromNs: string, ip: string, port: number, timeoutMs = 2000): Promise<TcpResult> {
    return this.probe(fromNs, ['tcp', ip, String(port), String(timeoutMs)], timeoutMs);
  }

  udpSend(fromNs: string, ip: string, port: number, count = 1): Promise<UdpResult> {
    return this.probe(fromNs, ['udp', ip, String(port), String(count)], 25_000);
  }

  /** POSTs `bytes` random bytes to a pod server's /echo and compares the answer with them. */
  echo(fromNs: string, ip: string, port: number, bytes: number, timeoutMs = 10_000): Promise<EchoResult> {
    return this.probe(fromNs, ['echo', ip, String(port), String(bytes), String(timeoutMs)], timeoutMs);
  }

  /**
   * Drops forwarded packets to the pod with probability p (filter FORWARD, before kube-proxy's chains); only those
   * to one port of one protocol when `to` says so (the queries to a DNS server).
   */
  async dropOnPath(podIndex: number, probability: number, to?: { protocol: Protocol; port: number }): Promise<Undo> {
    if (!(probability > 0 && probability <= 1)) throw new Error(`Lab: probability must be in (0, 1], got ${probability}`);
    const port = to ? ['-p', to.protocol, '--dport', String(to.port)] : [];
    return this.fault(['FORWARD', '-d', this.podIp(podIndex), ...port, '-m', 'statistic', '--mode', 'random',
      '--probability', String(probability), '-j', 'DROP']);
  }

  /** Drops packets the node sends to the pod itself (filter OUTPUT): kubelet's probe path, not the Service's. */
  async dropFromNode(podIndex: number, probability: number): Promise<Undo> {
    if (!(probability > 0 && probability <= 1)) throw new Error(`Lab: probability must be in (0, 1], got ${probability}`);
    return this.fault(['OUTPUT', '-d', this.podIp(podIndex), '-m', 'statistic', '--mode', 'random',
      '--probability', String(probability), '-j', 'DROP']);
  }

  /**
   * Drops every other TCP SYN forwarded to the pod: connects made one after another each lose their first SYN and
   * get through with its retransmission, a retransmission timeout (1 s) later — a handshake delayed, not failed.
   */
  async loseFirstSyns(podIndex: number): Promise<Undo> {
    return this.fault(['FORWARD', '-d', this.podIp(podIndex), '-p', 'tcp', '--syn', '-m', 'statistic', '--mode', 'nth',
      '--every', '2', '--packet', '0', '-j', 'DROP']);
  }

  /** A rule of the lab's own in the node's filter table, first in its chain; kept across re-syncs until undone. */
  private async fault(rule: string[]): Promise<Undo> {
    await nsRun(this.node, this.iptablesCmd, ['-w', '-I', ...rule]);
    this.faults.add(rule);
    return once(async () => {
      this.faults.delete(rule);
      await nsRun(this.node, this.iptablesCmd, ['-w', '-D', ...rule]);
    });
  }

  /**
   * A veth between the machine's own network namespace and the node's, so that a daemon running in the node
   * reaches servers of the test process (a fake API server, a fake kubelet) at hostIp. Removed with the node.
   */
  async linkToHost(): Promise<{ hostIp: string; nodeIp: string }> {
    if (this.hostLinked) return this.hostLinked;
    const k = this.subnet;
    const dev = `${this.prefix}h`;
    const [hostIp, nodeIp] = [`10.75.${k}.1`, `10.75.${k}.2`];
    await run('ip', ['link', 'add', dev, 'type', 'veth', 'peer', 'name', 'host0', 'netns', this.node]);
    await run('ip', ['addr', 'add', `${hostIp}/30`, 'dev', dev]);
    await run('ip', ['link', 'set', dev, 'up']);
    await run('ip', ['-n', this.node, 'addr', 'add', `${nodeIp}/30`, 'dev', 'host0']);
    await run('ip', ['-n', this.node, 'link', 'set', 'host0', 'up']);
    this.hostLinked = { hostIp, nodeIp };
    return this.hostLinked;
  }

  /** Renders the Service as having no endpoints: kube-proxy's filter REJECT. */
  async rejectService(name: string): Promise<Undo> {
    const s = this.findService(name);
    const endpoints = s.endpoints;
    s.endpoints = [];
    await this.sync();
    return once(async () => {
      s.endpoints = endpoints;
      await this.sync();
    });
  }

  /**
   * A tbf so small on the node's side of the pod's veth that all but a trickle toward the pod is dropped. Its queue
   * holds no full packet: one its tokens do not cover is dropped, not held back (a queue of 1600 bytes at 1 KB/s
   * delayed the probes' packets by a second and more, and dropped few).
   */
  async tbfDrop(podIndex: number): Promise<Undo> {
    const dev = `p${podIndex}`;
    await run('tc', ['-n', this.node, 'qdisc', 'add', 'dev', dev, 'root', 'tbf', 'rate', '8kbit', 'burst', '1600', 'limit', '100']);
    return once(async () => {
      await run('tc', ['-n', this.node, 'qdisc', 'del', 'dev', dev, 'root']);
    });
  }

  /** The pod's server stops accepting (listen backlog 1): further SYNs overflow the listen queue. */
  async stopAccepting(podIndex: number): Promise<Undo> {
    await this.control(podIndex, { cmd: 'accept', on: false });
    return once(() => this.control(podIndex, { cmd: 'accept', on: true }));
  }

  /** /health answers 503 {"status":"fail","checks":{"db":{"status":"down"}}}. */
  async failHealth(podIndex: number): Promise<Undo> {
    await this.control(podIndex, { cmd: 'health', ok: false });
    return once(() => this.control(podIndex, { cmd: 'health', ok: true }));
  }

  /** /health first spends `cpuMs` of CPU time (a handler that computes), so that a CPU quota makes it answer late. */
  async slowHealth(podIndex: number, cpuMs: number): Promise<Undo> {
    if (!(cpuMs > 0)) throw new Error(`Lab: cpuMs must be > 0, got ${cpuMs}`);
    await this.control(podIndex, { cmd: 'health-cpu', ms: cpuMs });
    return once(() => this.control(podIndex, { cmd: 'health-cpu', ms: 0 }));
  }

  /** Sets the global nf_conntrack_max (init netns only); undo, destroy() and process exit restore it. */
  async conntrackFull(max: number): Promise<Undo> {
    if (!ctSaved) {
      const value = fs.readFileSync(CT_MAX, 'utf8').trim();
      const marker = path.join(STATE_DIR, `${this.prefix}.ctmax`);
      fs.writeFileSync(marker, value);
      ctSaved = { value, marker, owner: this };
    }
    fs.writeFileSync(CT_MAX, String(max));
    return once(async () => restoreConntrackMax());
  }

  destroy(): Promise<void> {
    this.destroying ??= this.teardown();
    return this.destroying;
  }

  /**
   * A file or directory of the lab's own in the state directory (a DNS server's records): removed with the lab,
   * or by the next create() after a SIGKILL.
   */
  stateFile(name: string): string {
    if (!/^[a-z0-9.-]+$/.test(name)) throw new Error(`Lab: bad state file name ${JSON.stringify(name)}`);
    return path.join(filesDir(this.prefix), name);
  }

  /** For the exit handler: no awaiting there. */
  destroySync(): void {
    this.pidns?.stopSync();
    for (const s of this.servers) s.killSync();
    removeHostLinksSync(this.prefix);
    for (const ns of this.namespaces()) removeNetnsSync(ns);
    removeEtc(this.prefix);
    if (ctSaved?.owner === this) restoreConntrackMax();
    release(this);
  }

  // Stays in `live` until done, so the exit handler finishes a teardown the process did not wait for.
  private async teardown(): Promise<void> {
    if (ctSaved?.owner === this) restoreConntrackMax();
    for (const s of this.servers) s.kill(); // process group: `ip netns exec` and what it became
    await Promise.all(this.servers.map((s) => s.exited));
    await this.pidns?.stop();
    await removeHostLinks(this.prefix);
    const results = await Promise.allSettled(this.namespaces().map(removeNetns));
    const failed = results.find((r): r is PromiseRejectedResult => r.status === 'rejected');
    if (failed) throw failed.reason;
    removeEtc(this.prefix);
    release(this);
  }

  private namespaces(): string[] {
    return [this.client, ...this.pods, this.node];
  }

  private findService(name: string): LabService {
    const s = this.services.find((x) => x.name === name || `${x.namespace}/${x.name}` === name);
    if (!s) throw new Error(`Lab: no Service ${name}`);
    return s;
  }

  private async build(): Promise<void> {
    const k = this.subnet;
    const ipn = (ns: string, ...args: string[]) => run('ip', ['-n', ns, ...args]);
    for (const ns of this.namespaces()) {
      await run('ip', ['netns', 'add', ns]);
      await ipn(ns, 'link', 'set', 'lo', 'up');
    }
    await ipn(this.node, 'link', 'add', 'name', 'br0', 'type', 'bridge');
    await ipn(this.node, 'addr', 'add', `${this.podNet}.1/24`, 'dev', 'br0');
    await ipn(this.node, 'link', 'set', 'br0', 'up');
    // ClusterIPs without a DNAT (no endpoints) must still route, or they never reach filter FORWARD/OUTPUT.
    await ipn(this.node, 'route', 'add', SERVICE_RANGE, 'dev', 'br0');
    for (const [i, pod] of this.pods.entries()) {
      // the pods' MTU is the overlay's, as the CNI plugin sets it (the bridge takes the lowest of its ports)
      const mtu = this.placement ? ['mtu', String(this.placement.mtu)] : [];
      await ipn(this.node, 'link', 'add', 'name', `p${i}`, ...mtu, 'type', 'veth', 'peer', 'name', 'eth0', ...mtu, 'netns', pod);
      await ipn(this.node, 'link', 'set', `p${i}`, 'master', 'br0', 'up');
      await ipn(pod, 'addr', 'add', `${this.podIp(i)}/24`, 'dev', 'eth0');
      await ipn(pod, 'link', 'set', 'eth0', 'up');
      await ipn(pod, 'route', 'add', 'default', 'via', `${this.podNet}.1`);
    }
    await ipn(this.node, 'link', 'add', 'name', 'c0', 'type', 'veth', 'peer', 'name', 'eth0', 'netns', this.client);
    await ipn(this.node, 'addr', 'add', `10.76.${k}.1/24`, 'dev', 'c0');
    await ipn(this.node, 'link', 'set', 'c0', 'up');
    await ipn(this.client, 'addr', 'add', `${this.clientIp}/24`, 'dev', 'eth0');
    await ipn(this.client, 'link', 'set', 'eth0', 'up');
    await ipn(this.client, 'route', 'add', SERVICE_RANGE, 'via', `10.76.${k}.1`);
    await ipn(this.client, 'route', 'add', this.placement?.clusterCIDR ?? `${this.podNet}.0/24`, 'via', `10.76.${k}.1`);
    await sysctlSet(this.node, 'net.ipv4.ip_forward', 1);
    // REJECT answers with ICMP, which is rate-limited: without this, counted rejects turn into timeouts.
    for (const ns of [this.node, ...this.pods]) await sysctlSet(ns, 'net.ipv4.icmp_ratelimit', 0);
    await this.sync();
    if (this.resolvConf) this.writeResolvConf(this.resolvConf);
    if (this.placement) this.pidns = await PidNamespace.start(this.node);
    await Promise.all(this.pods.map((_, i) => this.startServer(i)));
  }

  // kubelet's resolv.conf for a pod of dnsPolicy ClusterFirst: ndots:5 sends a short name through the search list
  private writeResolvConf({ service, search }: NonNullable<LabOptions['resolvConf']>): void {
    const text = `nameserver ${this.service(service).clusterIP}\nsearch ${search.join(' ')}\noptions ndots:5\n`;
    for (const ns of this.namespaces()) {
      fs.mkdirSync(etcOf(ns), { recursive: true });
      fs.writeFileSync(path.join(etcOf(ns), 'resolv.conf'), text);
    }
  }

  /** A full kube-proxy sync: every rule rewritten (counters restart, as on a real node), the lab's faults kept. */
  private async sync(): Promise<void> {
    const services: RenderService[] = this.services.map((s) => ({
      ...s,
      endpoints: s.endpoints.map((e) => ('ip' in e ? { ip: e.ip, port: e.port, local: false } : { ip: this.podIp(e.podIndex), port: e.port, local: true })),
    }));
    const clusterCIDR = this.placement?.clusterCIDR ?? POD_RANGE;
    if (this.kubeProxy === 'nftables') {
      const fresh = 'add table ip kube-proxy\ndelete table ip kube-proxy\n';
      await nsRun(this.node, 'nft', ['-f', '-'], { input: fresh + renderNft(services, { clusterCIDR, serviceCIDRs: [SERVICE_RANGE] }) });
      return;
    }
    const restore = this.kubeProxy === 'iptables-legacy' ? 'iptables-legacy-restore' : 'iptables-nft-restore';
    await nsRun(this.node, restore, ['-w'], { input: renderIptables(services, { clusterCIDR }) });
    for (const rule of this.faults) await nsRun(this.node, this.iptablesCmd, ['-w', '-I', ...rule]);
  }

  private async startServer(i: number): Promise<void> {
    const pod = this.pods[i] as string;
    const deps = this.dependencies.filter((d) => d.pod === i);
    const depends = deps.flatMap((d) => {
      const { clusterIP, port } = this.service(d.service);
      return ['--depends', `${d.service.slice(d.service.indexOf('/') + 1)}=http://${clusterIP}:${port}/health`];
    });
    const timeoutMs = Math.max(0, ...deps.map((d) => d.timeoutMs ?? 0));
    if (timeoutMs) depends.push('--depends-timeout', String(timeoutMs));
    const name = this.resolves.get(i);
    const resolve = name ? ['--resolve', name] : [];
    const argv = [process.execPath, POD_SERVER, '--port', String(this.podPort), '--name', pod, ...depends, ...resolve];
    // a lookup the resolver waits on holds a thread of libuv's pool for seconds: room for every probe in flight
    const server = IpcChild.spawn(this.pidns ? this.pidns.enter(argv, pod) : ['ip', 'netns', 'exec', pod, ...argv], `pod-server ${pod}`, { UV_THREADPOOL_SIZE: '64' });
    this.servers[i] = server;
    await server.reply(0); // id 0: the server listens
    // any answer will do: a pod whose dependency is not up yet (on another node, say) answers 503
    for (let attempt = 0; ; attempt++) {
      const r = await this.httpGet(this.node, this.podIp(i), this.podPort, '/health', 1000);
      if (r.status !== undefined) return;
      if (attempt === 20) throw new Error(`pod-server ${pod} does not answer: ${r.error ?? r.status}`);
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
  }

  private async control(podIndex: number, command: Command): Promise<void> {
    const server = this.servers[podIndex];
    if (!server) throw new Error(`Lab: no pod ${podIndex}`);
    await server.request(command);
  }

  private async probe<T>(ns: string, args: string[], timeoutMs: number): Promise<T> {
    const { stdout } = await nsRun(ns, process.execPath, [PROBE, ...args], { timeoutMs: timeoutMs + 10_000 });
    return JSON.parse(stdout) as T;
  }
}
