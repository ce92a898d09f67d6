// The lab of several nodes (root only): three nodes joined by a VXLAN overlay, the same Services rendered by
// every node's kube-proxy, one API server, a kubelet per node, a daemon per node in its own netns and PID
// namespace, and Debian's Prometheus scraping them all; then nothing of it is left.
import assert from 'node:assert/strict';
import { execFileSync, spawn } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { prometheusSkip } from '../deploy/tools';
import { eventually, kernelSkip } from '../helpers/env';
import { TOKEN } from '../kube/kubeconfig';
import { ClusterLab, type ClusterLabOptions } from './cluster-lab';
import { DAEMON_PORT, FLAPWATCH_NS, type ClusterKube } from './cluster-kube';
import type { KubeProxyMode } from './lab';
import { netnsInode, nsRun } from './netns';
import { VXLAN_DEV, VXLAN_OVERHEAD } from './overlay';
import { childrenOf, running } from './pid-namespace';
import { STATE_DIR } from './registry';

// db's only endpoint is on node-b, cache's on node-c; api spans node-a and node-b, and api-0 calls db.
const SHOP: ClusterLabOptions = {
  nodes: [{ pods: ['shop/front-0', 'shop/api-0'] }, { pods: ['shop/api-1', 'shop/db-0'] }, { pods: ['shop/cache-0'] }],
  services: [
    { namespace: 'shop', name: 'front', portName: 'http', endpoints: ['shop/front-0'] },
    { namespace: 'shop', name: 'api', portName: 'http', endpoints: ['shop/api-0', 'shop/api-1'] },
    { namespace: 'shop', name: 'db', portName: 'http', endpoints: ['shop/db-0'] },
    { namespace: 'shop', name: 'cache', endpoints: ['shop/cache-0'] },
  ],
  dependencies: [{ pod: 'shop/api-0', service: 'shop/db' }],
};

/** What the lab with this prefix left on the machine: namespaces, links, state files. */
function leftovers(prefix: string): string[] {
  const netns = execFileSync('ip', ['netns', 'list'], { encoding: 'utf8' }).split('\n').filter((l) => l.startsWith(prefix));
  const links = execFileSync('ip', ['-o', 'link'], { encoding: 'utf8' }).split('\n').filter((l) => l.includes(`: ${prefix}`));
  const files = fs.existsSync(STATE_DIR) ? fs.readdirSync(STATE_DIR).filter((f) => f.startsWith(prefix)) : [];
  return [...netns, ...links, ...files];
}

/** Ip FragCreates + ReasmReqds of a namespace (/proc/net/snmp): packets fragmented or reassembled there. */
async function fragments(ns: string): Promise<number> {
  const lines = (await nsRun(ns, 'cat', ['/proc/net/snmp'])).stdout.split('\n').filter((l) => l.startsWith('Ip: '));
  const [names, values] = lines.map((l) => l.split(/\s+/).slice(1));
  const at = (name: string) => Number(values![names!.indexOf(name)]);
  return at('FragCreates') + at('ReasmReqds');
}

async function mtu(ns: string, dev: string): Promise<number> {
  return (JSON.parse((await nsRun(ns, 'ip', ['-j', 'link', 'show', dev])).stdout) as { mtu: number }[])[0]!.mtu;
}

describe('a lab of three nodes', { skip: kernelSkip ?? prometheusSkip, timeout: 300_000 }, () => {
  let lab: ClusterLab;
  let kube: ClusterKube;
  const pids: number[] = [];
  before(async () => {
    lab = await ClusterLab.create(SHOP);
    kube = await lab.startKube();
    await kube.startDaemons();
    await kube.startPrometheus();
  });
  after(async () => {
    await lab?.destroy();
  });

  test('a pod on node-a reaches db, whose only endpoint is on node-b, through its ClusterIP and the VXLAN', async () => {
    const db = lab.service('shop/db');
    const [a0, b0] = [await lab.overlayCounters('node-a'), await lab.overlayCounters('node-b')];
    const r = await lab.httpGet(lab.pod('shop/front-0').netns, db.clusterIP, db.port);
    assert.equal(r.status, 200, JSON.stringify(r));
    assert.equal((JSON.parse(r.body!) as { pod: string }).pod, lab.pod('shop/db-0').netns);
    const [a1, b1] = [await lab.overlayCounters('node-a'), await lab.overlayCounters('node-b')];
    assert.ok(a1.txPackets > a0.txPackets && b1.rxPackets > b0.rxPackets, `node-a's ${VXLAN_DEV} sent and node-b's received: ${JSON.stringify({ a0, a1, b0, b1 })}`);
    // api-0's /health calls db across the overlay too
    const api0 = lab.pod('shop/api-0');
    const dep = await lab.httpGet(api0.node.lab.node, api0.ip, lab.podPort);
    assert.deepEqual(JSON.parse(dep.body!).checks, { db: { status: 'up' } });
  });

  test('every node\'s kube-proxy serves every Service: db from each node\'s client, api from both sides', async () => {
    const db = lab.service('shop/db');
    for (const n of lab.nodes) {
      const r = await lab.httpGet(n.lab.client, db.clusterIP, db.port);
      assert.equal(r.status, 200, `${n.name}: ${JSON.stringify(r)}`);
    }
    const api = lab.service('shop/api');
    const served = new Set<string>();
    for (let i = 0; i < 40 && served.size < 2; i++) served.add(JSON.parse((await lab.httpGet(lab.pod('shop/cache-0').netns, api.clusterIP, api.port)).body!).pod);
    assert.deepEqual([...served].sort(), [lab.pod('shop/api-0').netns, lab.pod('shop/api-1').netns].sort());
  });

  test('the overlay\'s MTU: the underlay\'s minus VXLAN\'s 50 bytes, the pods\' too; 1 MiB each way crosses unfragmented', async () => {
    for (const n of lab.nodes) {
      assert.equal(await mtu(n.lab.node, VXLAN_DEV), (await mtu(n.lab.node, 'eth0')) - VXLAN_OVERHEAD);
      for (const p of n.pods) assert.equal(await mtu(p.netns, 'eth0'), lab.underlay.mtu);
    }
    const spaces = [...lab.nodes.map((n) => n.lab.node), ...lab.allPods().map((p) => p.netns), lab.underlay.netns];
    const before = await Promise.all(spaces.map(fragments));
    const db = lab.service('shop/db');
    const r = await lab.echo(lab.pod('shop/front-0').netns, db.clusterIP, db.port, 1 << 20);
    assert.deepEqual({ status: r.status, bytes: r.bytes, same: r.same }, { status: 200, bytes: 1 << 20, same: true });
    assert.deepEqual(await Promise.all(spaces.map(fragments)), before, 'no namespace fragmented or reassembled a packet');
  });

  test('a drop on the overlay between node-a and node-b loses their packets only', async () => {
    const front = lab.pod('shop/front-0').netns;
    const [db, cache] = [lab.service('shop/db'), lab.service('shop/cache')];
    const undo = await lab.dropOnOverlay('node-a', 'node-b', 1);
    try {
      assert.equal((await lab.httpGet(front, db.clusterIP, db.port, '/health', 1000)).error, 'ETIMEDOUT');
      assert.equal((await lab.httpGet(front, cache.clusterIP, cache.port)).status, 200, 'node-a → node-c is another pair');
      assert.equal((await lab.httpGet(lab.pod('shop/cache-0').netns, db.clusterIP, db.port)).status, 200, 'node-c → node-b too');
      assert.ok((await lab.underlay.droppedByFaults()) > 0);
    } finally {
      await undo();
    }
    assert.equal((await lab.httpGet(front, db.clusterIP, db.port)).status, 200);
    assert.equal(await lab.underlay.droppedByFaults(), 0, 'the fault\'s rules are gone');
  });

  test('one API server: spec.nodeName selects a node\'s pods, endpoints carry their node', async () => {
    const get = async (url: string) => (await (await fetch(`${kube.api.url}${url}`, { headers: { authorization: `Bearer ${TOKEN}` } })).json()) as { items: any[] };
    for (const n of lab.nodes) {
      const pods = (await get(`/api/v1/pods?fieldSelector=${encodeURIComponent(`spec.nodeName=${n.name}`)}`)).items.map((p) => `${p.metadata.namespace}/${p.metadata.name}`);
      assert.deepEqual(pods.sort(), [...n.pods.map((p) => p.ref), `${FLAPWATCH_NS}/flapwatch-${n.name}`].sort());
    }
    const slices = (await get('/apis/discovery.k8s.io/v1/namespaces/shop/endpointslices')).items;
    const api = slices.find((s) => s.metadata.labels['kubernetes.io/service-name'] === 'api');
    assert.deepEqual(api.endpoints.map((e: any) => [e.addresses[0], e.nodeName]), [[lab.pod('shop/api-0').ip, 'node-a'], [lab.pod('shop/api-1').ip, 'node-b']]);
  });

  test('each daemon is ready on its node\'s address, found through the headless Service flapwatch/flapwatch', async () => {
    const res = await fetch(`${kube.api.url}/apis/discovery.k8s.io/v1/namespaces/${FLAPWATCH_NS}/endpointslices?labelSelector=${encodeURIComponent('kubernetes.io/service-name=flapwatch')}`,
      { headers: { authorization: `Bearer ${TOKEN}` } });
    const [slice] = ((await res.json()) as { items: { ports: { name: string; port: number }[]; endpoints: { addresses: string[]; nodeName: string }[] }[] }).items;
    const port = slice!.ports.find((p) => p.name === 'metrics')!.port;
    assert.equal(port, DAEMON_PORT);
    for (const n of lab.nodes) {
      const e = slice!.endpoints.find((x) => x.nodeName === n.name);
      assert.equal(e?.addresses[0], n.ip);
      assert.equal((await fetch(`http://${e!.addresses[0]}:${port}/readyz`)).status, 200, n.name);
    }
  });

  test('a kubelet per node probes its own pods and only them', async () => {
    const passing = (r: boolean[]) => r.slice(-2).length === 2 && r.slice(-2).every(Boolean);
    await eventually(() => lab.nodes.every((n) => kube.kubelet(n.name).prober.results.every(passing)), 'every pod to pass its last two probes', 20_000);
    for (const n of lab.nodes) {
      const probed = [...kube.kubelet(n.name).kubelet.exposition().matchAll(/^prober_probe_total\{.*pod="([^"]+)"/gm)].map((m) => m[1]);
      assert.deepEqual([...new Set(probed)].sort(), n.pods.map((p) => p.name).sort());
    }
  });

  test('Prometheus scrapes the three daemons, each named as its node', async () => {
    const prometheus = kube.prometheus!;
    await eventually(async () => (await prometheus.vector('up{job="flapwatch"} == 1')).length === 3, 'three targets up', 30_000);
    const up = await prometheus.vector('up{job="flapwatch"}');
    assert.deepEqual(up.map((s) => [s.metric.node, s.metric.instance, s.value]).sort(), lab.nodes.map((n) => [n.name, n.name, 1]));
    await eventually(async () => (await prometheus.vector('flapwatch_source_up{source="drops"}')).length === 3, 'each daemon\'s drop source', 30_000);
  });

  test('a daemon\'s /proc holds its node\'s processes only: its pods\' namespaces, none of another node\'s', () => {
    const inode = (ns: string) => netnsInode(ns);
    for (const n of lab.nodes) {
      const daemonPid = childrenOf(kube.daemon(n.name).child.pid!)[0]!;
      const proc = `/proc/${daemonPid}/root/proc`; // the /proc the daemon itself reads, through its mount namespace
      const seen = new Set<number>();
      for (const pid of fs.readdirSync(proc).filter((x) => /^\d+$/.test(x))) {
        try {
          seen.add(Number(/\[(\d+)\]/.exec(fs.readlinkSync(`${proc}/${pid}/ns/net`))![1]));
        } catch {
          // exited meanwhile
        }
      }
      const own = n.pods.map((p) => inode(p.netns));
      const others = lab.nodes.filter((m) => m !== n).flatMap((m) => [inode(m.lab.node), ...m.pods.map((p) => inode(p.netns))]);
      assert.deepEqual([...seen].filter((i) => i !== inode(n.lab.node)).sort(), own.sort(), `${n.name}: its /proc shows its node and its pods`);
      assert.ok(others.every((i) => !seen.has(i)));
      pids.push(daemonPid, n.lab.pidns!.initPid);
    }
  });

  test('destroy() leaves nothing: namespaces, links, files, processes', async () => {
    pids.push(...[...kube.kubelets.values()].map((k) => k.probes.child.pid!));
    assert.ok(pids.length > 0 && pids.every(running));
    await lab.destroy();
    assert.deepEqual(leftovers(lab.prefix), []);
    const cmdline = (pid: number) => fs.readFileSync(`/proc/${pid}/cmdline`, 'utf8').replace(/\0/g, ' ');
    assert.deepEqual(pids.filter(running).map(cmdline), []);
  });
});

for (const kubeProxy of ['iptables-legacy', 'nftables'] as KubeProxyMode[]) {
  test(`three nodes with kube-proxy in ${kubeProxy} mode: cross-node through a ClusterIP`, { skip: kernelSkip, timeout: 120_000 }, async () => {
    const lab = await ClusterLab.create({ ...SHOP, kubeProxy });
    try {
      const db = lab.service('shop/db');
      for (const p of ['shop/front-0', 'shop/cache-0']) assert.equal((await lab.httpGet(lab.pod(p).netns, db.clusterIP, db.port)).status, 200, p);
      const undo = await lab.rejectService('shop/db');
      assert.equal((await lab.tcpConnect(lab.pod('shop/front-0').netns, db.clusterIP, db.port)).error, 'ECONNREFUSED');
      await undo();
      assert.equal((await lab.httpGet(lab.pod('shop/front-0').netns, db.clusterIP, db.port)).status, 200);
    } finally {
      await lab.destroy();
    }
    assert.deepEqual(leftovers(lab.prefix), []);
  });
}

test('after a SIGKILL of its creator, the next create() removes what the lab left', { skip: kernelSkip, timeout: 120_000 }, async () => {
  const script = `const { ClusterLab } = require(${JSON.stringify(path.join(__dirname, 'cluster-lab.js'))});
    ClusterLab.create({ nodes: [{ pods: ['x/a-0'] }, { pods: ['x/b-0'] }] }).then((lab) => console.log(lab.prefix));
    setInterval(() => undefined, 60_000); // alive until killed`;
  const child = spawn(process.execPath, ['-e', script], { stdio: ['ignore', 'pipe', 'inherit'] });
  const prefix = await new Promise<string>((resolve) => child.stdout.once('data', (d: Buffer) => resolve(d.toString().trim())));
  const inits = leftovers(prefix).filter((l) => l.endsWith('-node'))
    .flatMap((ns) => execFileSync('ip', ['netns', 'pids', ns], { encoding: 'utf8' }).split(/\s+/).filter(Boolean).map(Number));
  child.kill('SIGKILL');
  await new Promise((resolve) => child.once('exit', resolve));
  assert.ok(leftovers(prefix).length > 0 && inits.length > 0, 'the killed creator left its lab behind');
  const next = await ClusterLab.create({ nodes: [{ pods: ['x/c-0'] }] });
  await next.destroy();
  assert.deepEqual(leftovers(prefix), []);
  assert.deepEqual(inits.filter(running), []);
});
