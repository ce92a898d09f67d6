// A small "cluster" for end-to-end runs: the lab's node (kube-proxy rules, pods, faults), a fake API server
// and a fake kubelet on the test side of a veth, a kubelet-style prober that probes the web pods from the
// node as kubelet does and reports what it saw through both (test/health/kubelet-prober.ts), and a
// real `flapwatch run` inside the node's namespace. Shared by the end-to-end test and the fault campaign.
import { spawn, type ChildProcess } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { FakeKubelet } from '../health/fake-kubelet';
import { KubeletProber } from '../health/kubelet-prober';
import { FakeApiServer } from '../kube/fake-apiserver';
import { tempDir, TOKEN, writeKubeconfig } from '../kube/kubeconfig';
import { endpointSlice, pod, service } from '../kube/objects';
import { Lab, type KubeProxyMode } from '../lab/lab';

const CLI = path.resolve(__dirname, '..', '..', 'src', 'cli.js');
export const NS = 'shop';
/** kubelet's probe of the web pods: 1 s timeout, every second (the window is timeout + period) */
export const PROBE = { timeoutSeconds: 1, periodSeconds: 1 };

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
  /** kubelet-style probe results so far, per web pod index: true = success */
  probeResults: boolean[][];
  /** when each kubelet-style failure happened (ms since the epoch) */
  failures: { pod: number; at: number }[];
  /** sets db's endpoints in the API and in kube-proxy's rules: none makes kube-proxy REJECT */
  dbEndpoints(on: boolean): Promise<() => Promise<void>>;
  close(): Promise<void>;
}

export async function startCluster(o: { kubeProxy?: KubeProxyMode; daemonArgs?: string[] } = {}): Promise<Cluster> {
  const lab = await Lab.create({
    kubeProxy: o.kubeProxy ?? 'iptables-nft',
    pods: 3,
    services: [
      { name: 'web', namespace: NS, portName: 'http', endpoints: [{ podIndex: 0, port: 8080 }, { podIndex: 1, port: 8080 }] },
      { name: 'db', namespace: NS, portName: 'http', endpoints: [{ podIndex: 2, port: 8080 }] },
    ],
    dependencies: [{ pod: 0, service: `${NS}/db` }, { pod: 1, service: `${NS}/db` }],
  });
  const tmp = tempDir('fw-e2e-');
  let daemon: ChildProcess | undefined;
  let api: FakeApiServer | undefined;
  let kubelet: FakeKubelet | undefined;
  let prober: KubeletProber | undefined;
  const close = async () => {
    await prober?.stop();
    if (daemon && daemon.exitCode === null) {
      daemon.kill('SIGTERM');
      await new Promise((r) => daemon!.once('exit', r));
    }
    await api?.close();
    await kubelet?.close();
    tmp.remove();
    await lab.destroy();
  };
  try {
    const { hostIp, nodeIp } = await lab.linkToHost();
    api = await FakeApiServer.start({ host: hostIp, token: TOKEN });
    kubelet = await FakeKubelet.start(hostIp);
    const node = lab.node;
    const web = lab.service(`${NS}/web`);
    const db = lab.service(`${NS}/db`);
    const readiness = { httpGet: { path: '/health', port: 8080 }, ...PROBE };
    const container = [{ name: 'app', image: 'app:1', ports: [{ containerPort: 8080 }], readinessProbe: readiness }];
    const annotations = { 'flapwatch.io/health': '/health', 'flapwatch.io/health-interval': '1', 'flapwatch.io/health-timeout': '1' };
    api.put('services', service(NS, 'web', { clusterIP: web.clusterIP, ports: [{ name: 'http', port: web.port }], annotations }));
    api.put('services', service(NS, 'db', { clusterIP: db.clusterIP, ports: [{ name: 'http', port: db.port }] }));
    const port = [{ name: 'http', port: 8080 }];
    api.put('endpointslices', endpointSlice(NS, 'web', 'web-abc', port, [0, 1].map((i) => ({ ip: lab.podIp(i), node, pod: `web-${i}` }))));
    const dbSlice = (on: boolean) => endpointSlice(NS, 'db', 'db-abc', port, on ? [{ ip: lab.podIp(2), node, pod: 'db-0' }] : []);
    api.put('endpointslices', dbSlice(true));
    for (const i of [0, 1]) api.put('pods', pod(NS, `web-${i}`, node, lab.podIp(i), container));
    api.put('pods', pod(NS, 'db-0', node, lab.podIp(2)));
    // plain HTTP, which the client takes only with TLS verification off
    const kubeconfig = writeKubeconfig(tmp.dir, api.url, { insecure: true });
    const tokenFile = path.join(tmp.dir, 'kubelet-token');
    writeFileSync(tokenFile, kubelet.token);

    const daemonPort = 9807;
    const args = [
      'netns', 'exec', node, process.execPath, CLI, 'run', '--listen', `0.0.0.0:${daemonPort}`, '--kubeconfig', kubeconfig,
      '--node-name', node, '--kubelet-url', kubelet.url, '--kubelet-token', tokenFile, '--kubelet-insecure-tls', '--kubelet-interval', '1',
      ...(o.daemonArgs ?? []),
    ];
    daemon = spawn('ip', args, { stdio: ['ignore', 'pipe', 'inherit'] });
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

    // kubelet, as the pods' spec says: each web pod probed from the node every period, one Event per failure streak
    prober = new KubeletProber({
      node, kubelet, api, ...PROBE,
      pods: [0, 1].map((i) => ({ namespace: NS, name: `web-${i}`, ip: lab.podIp(i), port: 8080, path: '/health' })),
      probe: (ip, port, urlPath, timeoutMs) => lab.httpGet(node, ip, port, urlPath, timeoutMs),
    });
    const { results: probeResults, failures } = prober;
    const incidents = () => logs().filter((l) => typeof l.incident === 'number') as unknown as IncidentLine[];
    const dbEndpoints = async (on: boolean) => {
      api!.put('endpointslices', dbSlice(on));
      const restoreRules = on ? async () => undefined : await lab.rejectService(`${NS}/db`);
      return async () => {
        await restoreRules();
        api!.put('endpointslices', dbSlice(true));
      };
    };
    return { lab, api, kubelet, url, logs, incidents, probeResults, failures, dbEndpoints, close };
  } catch (err) {
    await close();
    throw err;
  }
}
