// A small "cluster" for end-to-end runs: the lab's node (kube-proxy rules, pods, faults), a fake API server
// and a fake kubelet on the test side of a veth, a kubelet-style prober that probes the web and api pods from the
// node as kubelet does and reports what it saw through both (test/health/kubelet-prober.ts), and a real
// `flapwatch run` inside the node's namespace. web's /health calls db through its ClusterIP; api's resolves db's
// name through kube-dns (dnsmasq in two pods behind a kube-dns-style Service), as a pod with a kubelet-written
// resolv.conf does. Pods can be starved of CPU through a kubelet-shaped cgroup tree the daemon reads. Shared by
// the end-to-end test and the fault campaign.
import { spawn, type ChildProcess } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { FakeKubelet } from '../health/fake-kubelet';
import { KubeletProber } from '../health/kubelet-prober';
import { FakeApiServer } from '../kube/fake-apiserver';
import { tempDir, TOKEN, writeKubeconfig } from '../kube/kubeconfig';
import { endpointSlice, pod, podUid, service } from '../kube/objects';
import { cpuQuotaSkip, KubeletCgroups, starveLabPod } from '../lab/cpu-quota';
import { KUBE_DNS, kubeDnsServices, LabDns, searchOf } from '../lab/dns';
import { Lab, type KubeProxyMode } from '../lab/lab';

const CLI = path.resolve(__dirname, '..', '..', 'src', 'cli.js');
export const NS = 'shop';
/** kubelet's probe of the web and api pods: 1 s timeout, every second (the window is timeout + period) */
export const PROBE = { timeoutSeconds: 1, periodSeconds: 1 };
/** the pods kubelet probes, in the order of Cluster.probeResults; their lab pod indexes */
export const PROBED = [{ name: 'web-0', index: 0 }, { name: 'web-1', index: 1 }, { name: 'api-0', index: 5 }] as const;
/** the name api's /health resolves: db, through the search list (db.shop.svc.cluster.local) */
export const API_RESOLVES = 'db';
const DB_NAME = `db.${NS}.svc.cluster.local`;
/** the lab pods kube-dns's servers run in */
const DNS_PODS = [3, 4];

export interface IncidentLine {
  msg: string;
  incident: number;
  /** the failure's time, ISO */
  at: string;
  namespace?: string;
  service?: string;
  pod?: string;
  probe: string;
  path?: string;
  target?: string;
  sources: string[];
  verdict: string;
  evidence: { path: string; kind: string; service: string; mechanisms: string[]; reason: string; detail: string; dst: string; count: number }[];
  downstream: string[];
  probes?: Record<string, { ok: number; failed: number }>;
  failedDependencies?: string[];
  /** when the line was written, ms since the epoch */
  time: number;
}

export interface Cluster {
  lab: Lab;
  api: FakeApiServer;
  kubelet: FakeKubelet;
  /** the daemon's HTTP base URL, reached over the veth */
  url: string;
  /** the daemon's log lines so far */
  logs(): Record<string, unknown>[];
  incidents(): IncidentLine[];
  /** kubelet-style probe results so far, per pod of PROBED: true = success */
  probeResults: boolean[][];
  /** when each kubelet-style failure happened (ms since the epoch), by pod name (web-0) */
  readonly failures: { pod: string; at: number }[];
  /** sets db's endpoints in the API and in kube-proxy's rules: none makes kube-proxy REJECT */
  dbEndpoints(on: boolean): Promise<() => Promise<void>>;
  /** kube-dns's servers, with their faults; `dnsPods` their lab pod indexes */
  dns: LabDns;
  dnsPods: readonly number[];
  /** DB_NAME's record, what api resolves */
  dbName: string;
  /** the pod's /health spends `cpuMs` of CPU under a CFS quota that leaves it 1% of a CPU; undefined where cgroup v1's cpu controller is missing */
  starve?: (podIndex: number, cpuMs: number) => Promise<() => Promise<void>>;
  close(): Promise<void>;
}

export async function startCluster(o: { kubeProxy?: KubeProxyMode; daemonArgs?: string[] } = {}): Promise<Cluster> {
  const lab = await Lab.create({
    kubeProxy: o.kubeProxy ?? 'iptables-nft',
    pods: 6,
    services: [
      { name: 'web', namespace: NS, portName: 'http', endpoints: [{ podIndex: 0, port: 8080 }, { podIndex: 1, port: 8080 }] },
      { name: 'db', namespace: NS, portName: 'http', endpoints: [{ podIndex: 2, port: 8080 }] },
      { name: 'api', namespace: NS, portName: 'http', endpoints: [{ podIndex: 5, port: 8080 }] },
      ...kubeDnsServices(DNS_PODS),
    ],
    dependencies: [{ pod: 0, service: `${NS}/db` }, { pod: 1, service: `${NS}/db` }],
    resolves: [{ pod: 5, name: API_RESOLVES }],
    resolvConf: { service: KUBE_DNS, search: searchOf(NS) },
  });
  const tmp = tempDir('fw-e2e-');
  let daemon: ChildProcess | undefined;
  let api: FakeApiServer | undefined;
  let kubelet: FakeKubelet | undefined;
  let dns: LabDns | undefined;
  let cgroups: KubeletCgroups | undefined;
  let prober: KubeletProber | undefined;
  const close = async () => {
    await prober?.stop();
    if (daemon && daemon.exitCode === null) {
      daemon.kill('SIGTERM');
      await new Promise((r) => daemon!.once('exit', r));
    }
    await api?.close();
    await kubelet?.close();
    await dns?.stop();
    await cgroups?.destroy();
    tmp.remove();
    await lab.destroy();
  };
  try {
    dns = await LabDns.start(lab, DNS_PODS, { [DB_NAME]: lab.service(`${NS}/db`).clusterIP });
    if (!cpuQuotaSkip) cgroups = await KubeletCgroups.create();
    const { hostIp, nodeIp } = await lab.linkToHost();
    api = await FakeApiServer.start({ host: hostIp, token: TOKEN });
    kubelet = await FakeKubelet.start(hostIp);
    const node = lab.node;
    const web = lab.service(`${NS}/web`);
    const db = lab.service(`${NS}/db`);
    const apiSvc = lab.service(`${NS}/api`);
    const kubeDns = lab.service(KUBE_DNS);
    const readiness = { httpGet: { path: '/health', port: 8080 }, ...PROBE };
    const container = [{ name: 'app', image: 'app:1', ports: [{ containerPort: 8080 }], readinessProbe: readiness }];
    const annotations = { 'flapwatch.io/health': '/health', 'flapwatch.io/health-interval': '1', 'flapwatch.io/health-timeout': '1' };
    api.put('services', service(NS, 'web', { clusterIP: web.clusterIP, ports: [{ name: 'http', port: web.port }], annotations }));
    api.put('services', service(NS, 'db', { clusterIP: db.clusterIP, ports: [{ name: 'http', port: db.port }] }));
    api.put('services', service(NS, 'api', { clusterIP: apiSvc.clusterIP, ports: [{ name: 'http', port: apiSvc.port }], annotations }));
    const dnsPorts = [{ name: 'dns', port: 53, protocol: 'UDP' as const }, { name: 'dns-tcp', port: 53, protocol: 'TCP' as const }];
    api.put('services', service('kube-system', 'kube-dns', { clusterIP: kubeDns.clusterIP, ports: dnsPorts }));
    const port = [{ name: 'http', port: 8080 }];
    api.put('endpointslices', endpointSlice(NS, 'web', 'web-abc', port, [0, 1].map((i) => ({ ip: lab.podIp(i), node, pod: `web-${i}` }))));
    const dbSlice = (on: boolean) => endpointSlice(NS, 'db', 'db-abc', port, on ? [{ ip: lab.podIp(2), node, pod: 'db-0' }] : []);
    api.put('endpointslices', dbSlice(true));
    api.put('endpointslices', endpointSlice(NS, 'api', 'api-abc', port, [{ ip: lab.podIp(5), node, pod: 'api-0' }]));
    api.put('endpointslices', endpointSlice('kube-system', 'kube-dns', 'kube-dns-abc', dnsPorts, DNS_PODS.map((i, n) => ({ ip: lab.podIp(i), node, pod: `coredns-${n}` }))));
    for (const p of PROBED) api.put('pods', pod(NS, p.name, node, lab.podIp(p.index), container));
    api.put('pods', pod(NS, 'db-0', node, lab.podIp(2)));
    DNS_PODS.forEach((i, n) => api!.put('pods', pod('kube-system', `coredns-${n}`, node, lab.podIp(i))));
    // plain HTTP, which the client takes only with TLS verification off
    const kubeconfig = writeKubeconfig(tmp.dir, api.url, { insecure: true });
    const tokenFile = path.join(tmp.dir, 'kubelet-token');
    writeFileSync(tokenFile, kubelet.token);

    const daemonPort = 9807;
    // nsenter rather than `ip netns exec`, which mounts a sysfs of the netns over /sys and so hides the host's cgroups:
    // a DaemonSet's hostNetwork pod sees the host's (its hostPath)
    const args = [
      `--net=/run/netns/${node}`, process.execPath, CLI, 'run', '--listen', `0.0.0.0:${daemonPort}`, '--kubeconfig', kubeconfig,
      '--node-name', node, '--kubelet-url', kubelet.url, '--kubelet-token', tokenFile, '--kubelet-insecure-tls', '--kubelet-interval', '1',
      ...(cgroups ? ['--cgroup-root', cgroups.cgroupRoot] : ['--no-cpu-throttling']),
      ...(o.daemonArgs ?? []),
    ];
    daemon = spawn('nsenter', args, { stdio: ['ignore', 'pipe', 'inherit'] });
    let out = '';
    daemon.stdout!.on('data', (d: Buffer) => (out += d.toString()));
    const logs = () => out.split('\n').filter((l) => l.startsWith('{')).map((l) => JSON.parse(l) as Record<string, unknown>);
    const url = `http://${nodeIp}:${daemonPort}`;
    for (let i = 0; ; i++) {
      const ok = await fetch(`${url}/readyz`).then((r) => r.ok, () => false);
      if (ok && logs().some((l) => l.source === 'kubernetes' && l.up === true)) break;
      if (i > 300 || daemon.exitCode !== null) throw new Error(`the daemon did not come up:\n${out.slice(-3000)}`);
      await new Promise((r) => setTimeout(r, 100));
    }

    // kubelet, as the pods' spec says: each probed pod probed from the node every period, one Event per failure streak
    prober = new KubeletProber({
      node, kubelet, api, ...PROBE,
      pods: PROBED.map((p) => ({ namespace: NS, name: p.name, uid: podUid(p.name), ip: lab.podIp(p.index), port: 8080, path: '/health' })),
      probe: (ip, port, urlPath, timeoutMs) => lab.httpGet(node, ip, port, urlPath, timeoutMs),
    });
    const probeResults = prober.results;
    const probed = prober;
    const incidents = () => logs().filter((l) => typeof l.incident === 'number') as unknown as IncidentLine[];
    const dbEndpoints = async (on: boolean) => {
      api!.put('endpointslices', dbSlice(on));
      const restoreRules = on ? async () => undefined : await lab.rejectService(`${NS}/db`);
      return async () => {
        await restoreRules();
        api!.put('endpointslices', dbSlice(true));
      };
    };
    const tree = cgroups;
    const starve = tree && (async (podIndex: number, cpuMs: number) => {
      const slow = await lab.slowHealth(podIndex, cpuMs);
      try {
        const name = PROBED.find((p) => p.index === podIndex)?.name ?? `pod-${podIndex}`;
        // kubelet's 100 ms period with 1 ms of quota: 1% of a CPU
        const starved = await starveLabPod(lab, podIndex, { quotaUs: 1000, periodUs: 100_000, uid: podUid(name) }, tree);
        return async () => {
          await starved.undo();
          await slow();
        };
      } catch (err) {
        await slow();
        throw err;
      }
    });
    return {
      lab, api, kubelet, url, logs, incidents, probeResults,
      get failures() {
        return probed.failures.map((f) => ({ pod: PROBED[f.pod]!.name, at: f.at }));
      },
      dbEndpoints, dns, dnsPods: DNS_PODS, dbName: DB_NAME, ...(starve && { starve }), close,
    };
  } catch (err) {
    await close();
    throw err;
  }
}
